"""The errors every tool raises for an expected failure: the CLI prints their message, not a traceback."""

from __future__ import annotations


class ToolError(Exception):
    """Raise when a tool cannot do what was asked (broker unreachable, queue missing); the message says why.

    The command line ends with exit status 1.
    """


class UsageError(ToolError):
    """Raise for bad input: an option, a file, a setting; the message names it and says what to do.

    The command line ends with exit status 2, as for an option argparse refuses.
    """
