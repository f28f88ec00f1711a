"""The ``tradebus`` command: a table of subcommands, each imported only when it is the one being run.

A subcommand is a module with ``add_arguments(parser)`` and ``run(args) -> int``; add a row to ``COMMANDS`` to add
one. Expected failures raise ``ToolError`` and end as a one-line message on stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from tools.errors import ToolError


@dataclass(frozen=True, slots=True)
class Subcommand:
    """A subcommand: the module that implements it and its one-line help."""

    module: str
    help: str

    def load(self) -> ModuleType:
        """Import the implementing module."""
        return importlib.import_module(self.module)


COMMANDS: dict[str, Subcommand] = {
    "schema": Subcommand("tools.ops.schemas", "write the JSON Schema of every message to a folder"),
    "tail": Subcommand("tools.ops.tail", "print live events matching a routing-key pattern"),
    "dlq": Subcommand("tools.ops.dlq", "list, show, replay or purge dead letters"),
    "backtest": Subcommand("tools.backtest.command", "replay bars through the four services in one process"),
    "up": Subcommand("tools.suite.up", "start the four services as local processes against RabbitMQ"),
    "run": Subcommand("tools.suite.run", "trade a replay of sample data (RabbitMQ if it answers, else in-process)"),
}


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """Return the parser; only the ``selected`` subcommand's options are loaded (its module imported)."""
    parser = argparse.ArgumentParser(prog="tradebus", description="Tools of the tradebus trading bot.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=command.help, description=command.help)
        if name == selected:
            command.load().add_arguments(subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tradebus`` with ``argv`` (default: the process arguments) and return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    selected = argv[0] if argv and argv[0] in COMMANDS else None
    try:
        args = build_parser(selected).parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has already printed
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        return COMMANDS[args.command].load().run(args)
    except ToolError as error:
        print(f"tradebus {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
