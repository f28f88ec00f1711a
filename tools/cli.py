"""The ``tradebus`` command: a table of subcommands, each imported only when it is the one being run.

A subcommand is a module with ``add_arguments(parser)`` and ``run(args) -> int``; add a row to ``COMMANDS`` to add
one. Expected failures end as one line on stderr, never a traceback: bad input (an option argparse refuses, or a
``UsageError``: a bad file or setting) with exit status 2, a ``ToolError`` at run time (broker unreachable) with 1.
``--debug`` (anywhere on the line) lets the error propagate with its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import NoReturn

from tools.errors import ToolError, UsageError


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
    "strategies": Subcommand("tools.ops.strategies", "list the strategies and their parameters, or describe one"),
    "backtest": Subcommand("tools.backtest.command", "replay bars through the four services in one process"),
    "optimize": Subcommand("tools.optimize.command", "search strategy and settings parameters over backtests (optuna)"),
    "download": Subcommand("tools.market.download", "download historical OHLCV bars from an exchange to a CSV"),
    "up": Subcommand("tools.suite.up", "start the four services as local processes against RabbitMQ"),
    "run": Subcommand("tools.suite.run", "trade a replay of sample data (RabbitMQ if it answers, else in-process)"),
    "status": Subcommand("tools.control.status", "show mode, positions, cash, working orders and the halt"),
    "halt": Subcommand("tools.control.halt", "stop new risk: refuse entries, cancel working entry orders"),
    "resume": Subcommand("tools.control.resume", "trade again after a halt or the drawdown kill switch"),
    "flatten": Subcommand("tools.control.flatten", "close positions with market orders through the risk checks"),
}


class OneLineParser(argparse.ArgumentParser):
    """An argument parser that raises ``UsageError`` instead of printing its usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    """Return the parser; only the ``selected`` subcommand's options are loaded (its module imported)."""
    parser = OneLineParser(prog="tradebus", description="Tools of the tradebus trading bot.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (anywhere on the line)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=command.help, description=command.help)
        if name == selected:
            command.load().add_arguments(subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tradebus`` with ``argv`` (default: the process arguments) and return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [arg for arg in argv if arg != "--debug"]
    selected = argv[0] if argv and argv[0] in COMMANDS else None
    try:
        args = build_parser(selected).parse_args(argv)
        return COMMANDS[args.command].load().run(args)
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else 2
    except ToolError as error:
        if debug:
            raise
        message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        print(f"tradebus{' ' + selected if selected else ''}: error: {message}", file=sys.stderr)
        return 2 if isinstance(error, UsageError) else 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
