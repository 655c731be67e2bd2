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
    "MqlLineError",
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


class MqlLineError(UnreachableTargetError):
    """The MQL goal puts the MQL line at a probability of 0: every lead would be an MQL.

    Attributes
    ----------
    target_rate, capacity
        The goal asked for (the capacity wins when both are set).
    goal : str
        How the message names the goal; :meth:`named` words it otherwise (the command
        names its own flag, e.g. ``--capacity 500``).
    """

    def __init__(self, *, target_rate=None, capacity=None, goal: str | None = None) -> None:
        self.target_rate, self.capacity = target_rate, capacity
        self.goal = goal or f"the config's threshold goal ({capacity or target_rate})"
        super().__init__(
            f"the MQL goal must leave some leads below the MQL line; {self.goal} puts the line "
            "at a probability of 0, so every lead would be an MQL. Ask for fewer MQLs (a "
            "smaller --capacity) or aim for a conversion rate (--target-rate)."
        )

    def named(self, goal: str) -> MqlLineError:
        """The same error with the goal named as ``goal``."""
        return MqlLineError(target_rate=self.target_rate, capacity=self.capacity, goal=goal)


class BundleError(MqlmlError, ValueError):
    """A saved bundle is missing, corrupted or from an incompatible version."""


class RuleError(MqlmlError, ValueError):
    """A points-baseline rule file is malformed."""


class FileError(MqlmlError, OSError):
    """A file cannot be read or written: disk full, read-only, no permission, a folder."""
