"""The error every tool raises for an expected failure: the CLI prints its message, not a traceback."""

from __future__ import annotations


class ToolError(Exception):
    """Raise when a tool cannot do what was asked (broker unreachable, queue missing); the message says why."""
