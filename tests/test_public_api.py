"""The public API cannot be shadowed: every exported name is the documented function or class.

A package attribute that names both a public function and an importable module is the
module as soon as anything imports that module (``import mqlml.x`` binds ``mqlml.x``), so
``mqlml.x(...)`` would raise "'module' object is not callable" depending on what ran
before. The test imports every module of the package first, then looks at each name.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types

import pytest

import mqlml

# The flat package binds five public functions and five modules to the same names.
_SHADOWED = pytest.mark.xfail(strict=True, reason="public functions share their module's name")


def _import_every_module() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(mqlml.__path__, "mqlml."):
        try:
            importlib.import_module(info.name)
        except ModuleNotFoundError as exc:  # an optional dependency (an extra) is missing
            if (exc.name or "").startswith("mqlml"):
                raise
            continue
        names.append(info.name)
    return names


def _packages() -> list[types.ModuleType]:
    return [mqlml] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(mqlml.__path__, "mqlml.")
        if info.ispkg
    ]


@_SHADOWED
def test_every_public_name_is_its_function_or_class_after_every_module_is_imported():
    assert len(_import_every_module()) > 40
    for package in _packages():
        for name in package.__all__:
            if name.startswith("__"):  # __version__
                continue
            value = getattr(package, name)
            where = f"{package.__name__}.{name}"
            assert not isinstance(value, types.ModuleType), f"{where} is a module"
            assert inspect.isclass(value) or inspect.isfunction(value), where
            assert value.__name__ == name, where
            assert value.__module__.startswith("mqlml."), where
            assert inspect.getdoc(value), f"{where} has no docstring"


@pytest.mark.parametrize("name", ["train", "evaluate", "compare", "monitor", "recalibrate"])
def test_a_function_named_like_a_module_stays_a_function(name):
    _import_every_module()
    assert callable(getattr(mqlml, name)) and inspect.isfunction(getattr(mqlml, name))
