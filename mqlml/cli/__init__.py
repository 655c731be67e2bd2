"""The ``mqlml`` command."""

from mqlml.cli._commands import app, main

__all__ = ["app", "main"]
