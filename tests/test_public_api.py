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


def test_every_public_name_is_its_function_or_class_after_every_module_is_imported():
    assert len(_import_every_module()) > 40
    for name in mqlml.__all__:
        if name == "__version__":
            continue
        value = getattr(mqlml, name)
        assert not isinstance(value, types.ModuleType), f"mqlml.{name} is a module"
        assert inspect.isclass(value) or inspect.isfunction(value), name
        assert value.__name__ == name, name
        assert value.__module__.startswith("mqlml."), name
        assert inspect.getdoc(value), f"mqlml.{name} has no docstring"
    for package in _packages()[1:]:  # each subpackage's own public names
        for name in package.__all__:
            value = getattr(package, name)
            where = f"{package.__name__}.{name}"
            assert not isinstance(value, types.ModuleType), f"{where} is a module"
            if inspect.isclass(value) or inspect.isfunction(value):
                assert value.__name__ == name, where


def test_the_stub_lists_the_public_names_from_the_same_places():
    import ast
    from pathlib import Path

    stub = ast.parse((Path(mqlml.__file__).parent / "__init__.pyi").read_text(encoding="utf-8"))
    stated = {
        alias.asname: node.module.removeprefix("mqlml.")
        for node in stub.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert stated == mqlml._EXPORTS
    for name, where in stated.items():
        assert name in importlib.import_module(f"mqlml.{where}").__all__, name


def test_no_public_name_is_a_module_of_the_package():
    found = pkgutil.walk_packages(mqlml.__path__, "mqlml.")
    modules = {info.name.rsplit(".", 1)[-1] for info in found}
    assert {"model", "scoring", "cli", "_train"} <= modules
    assert not modules & set(mqlml.__all__)


@pytest.mark.parametrize("name", ["train", "evaluate", "compare", "monitor", "recalibrate"])
def test_a_function_named_like_a_module_stays_a_function(name):
    _import_every_module()
    assert callable(getattr(mqlml, name)) and inspect.isfunction(getattr(mqlml, name))
