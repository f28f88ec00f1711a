"""``tradebus strategies``: the strategies there are, and each one's parameters with types, defaults and meaning.

Everything shown comes from the strategy itself: the first line of its class docstring, and its pydantic
``Params`` model (field types, defaults, bounds, ``Field(description=...)``). Without ``--strategy`` it lists the
built-in strategies; ``--strategy FILE.py:Class`` (or ``package.module:Class``, or a built-in name) describes
one, loaded exactly as ``backtest`` and ``up`` load it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from services.strategy.adapters.loading import load_strategy
from services.strategy.domain.registry import STRATEGIES, StrategyInfo, UnknownStrategy, describe_strategy
from tools.errors import ToolError


def strategy_infos(names: list[str] | None = None) -> list[StrategyInfo]:
    """Describe the strategies ``names`` (built-in names or paths), or every built-in one when ``names`` is empty."""
    if not names:
        return [describe_strategy(name, strategy) for name, strategy in sorted(STRATEGIES.items())]
    infos = []
    for name in names:
        try:
            infos.append(describe_strategy(name, load_strategy(name)))
        except (UnknownStrategy, TypeError) as error:
            raise ToolError(str(error)) from None
    return infos


def as_json(infos: list[StrategyInfo]) -> list[dict[str, Any]]:
    """Return ``infos`` as JSON-ready objects: ``name``, ``class``, ``summary``, ``params`` (a list, in order)."""
    return [{"name": info.name, "class": info.qualname, "summary": info.summary,
             "params": [dataclasses.asdict(param) for param in info.params]} for info in infos]


def render(infos: list[StrategyInfo], console: Console) -> None:
    """Print one table per strategy: its parameters with type, default, bounds and description."""
    for info in infos:
        table = Table(title=f"[bold]{info.name}[/bold]  {info.summary}", title_justify="left", expand=False,
                      caption=f"{info.qualname}", caption_justify="left")
        for column in ("parameter", "type", "default", "bounds", "description"):
            table.add_column(column, overflow="fold")
        for param in info.params:
            default = "(required)" if param.required else json.dumps(param.default)
            table.add_row(param.name, param.type, default, param.constraints, param.description)
        if not info.params:
            table.add_row("(none)", "", "", "", "")
        console.print(table)
    console.print("Run one with --strategy NAME (or FILE.py:Class) and set parameters with --param name=value.")


# -- command line ----------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``tradebus strategies`` options to ``parser``."""
    parser.add_argument("--strategy", action="append", metavar="SPEC",
                        help="describe this strategy instead of the built-in ones: a built-in name, FILE.py:Class "
                             "or package.module:Class (repeatable)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of tables")


def run(args: argparse.Namespace) -> int:
    """List or describe strategies."""
    infos = strategy_infos(args.strategy)
    if args.json:
        json.dump(as_json(infos), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        render(infos, Console(file=sys.stdout))
    return 0
