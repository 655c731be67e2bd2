"""The one error hierarchy of mqlml.

Every error is an :class:`MqlmlError` and also the matching builtin, so callers can
catch either. Messages read "<what> must be <rule>; got <value>. <how to fix>" and name
the column, key, file or value at fault.
"""

from __future__ import annotations

__all__ = [
    "BundleError",
    "ConfigError",
    "DataError",
    "FileError",
    "InsufficientDataError",
    "MissingColumnError",
    "MqlmlError",
    "RuleError",
    "UnreachableTargetError",
]


class MqlmlError(Exception):
    """Base class of every error raised by mqlml."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class ConfigError(MqlmlError, ValueError):
    """The project config (YAML) is missing a key, has an unknown one or a wrong type."""


class DataError(MqlmlError, ValueError):
    """A lead table or file is unusable: wrong type, empty, bad values, duplicated ids."""


class MissingColumnError(MqlmlError, KeyError):
    """A column the config or the bundle needs is not in the data."""


class InsufficientDataError(MqlmlError, ValueError):
    """Too few leads or conversions to fit or calibrate honestly."""


class UnreachableTargetError(MqlmlError, ValueError):
    """No threshold reaches the requested MQL-to-SQL rate."""


class BundleError(MqlmlError, ValueError):
    """A saved bundle is missing, corrupted or from an incompatible version."""


class RuleError(MqlmlError, ValueError):
    """A points-baseline rule file is malformed."""


class FileError(MqlmlError, OSError):
    """A file cannot be read or written: disk full, read-only, no permission, a folder."""
