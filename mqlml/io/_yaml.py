"""YAML as the project reads it: safe, each key once per mapping, bounded in size and depth.

PyYAML's safe loader keeps the last of two equal keys without a word (a second ``model:``
section silently replaces the first), reads any size and recurses without a limit;
:func:`load_yaml` refuses the first, and callers check the size (:data:`MAX_BYTES`) and
catch :class:`RecursionError` with the file's name.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["MAX_BYTES", "DuplicateKeyError", "load_yaml"]

#: The largest config or rules file read (a config is a few kilobytes).
MAX_BYTES = 16 << 20


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping writes the same key twice (PyYAML would silently keep the last one)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key written twice in one mapping."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    keys: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in keys:
            raise DuplicateKeyError(None, None, repr(key), key_node.start_mark)
        keys.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(text: str) -> Any:
    """Parse YAML text safely, refusing a key written twice in one mapping.

    Raises
    ------
    DuplicateKeyError
        Its ``problem`` is the key and ``problem_mark`` where it repeats.
    yaml.YAMLError
        For any other YAML error.

    Examples
    --------
    >>> load_yaml("a: 1\\nb: [2, 3]")
    {'a': 1, 'b': [2, 3]}
    >>> try:
    ...     load_yaml("a: 1\\na: 2")
    ... except DuplicateKeyError as exc:
    ...     print(exc.problem, exc.problem_mark.line + 1)
    'a' 2
    """
    return yaml.load(text, Loader=_UniqueKeyLoader)
