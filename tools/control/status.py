"""``tradebus status``: mode, halt, cash and equity, positions and P&L per strategy, working orders."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from shared.contracts import ExecutionStatusReported, Message, PortfolioSnapshot, RequestStatus
from tools.errors import ToolError

from .session import SOURCE, add_control_options, now, of_type, session

ANSWERS = (PortfolioSnapshot, ExecutionStatusReported)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``tradebus status`` options."""
    add_control_options(parser)


def run(args: argparse.Namespace) -> int:
    """Ask the portfolio and execution services where they stand and print it; exit 1 if one does not answer."""
    issued = now()
    with session(args, "status") as control:
        control.send(RequestStatus(ts_event=issued, ts_init=issued, source=SOURCE), ANSWERS)
        replies = control.wait(lambda seen: all(of_type(seen, kind) for kind in ANSWERS), args.timeout)
    console = Console() if sys.stdout.isatty() else Console(width=200)  # piped: no truncated columns
    for line in render(replies, console):
        console.print(line)
    silent = [kind.__name__ for kind in ANSWERS if not of_type(replies, kind)]
    if silent:
        who = {"PortfolioSnapshot": "portfolio", "ExecutionStatusReported": "execution"}
        raise ToolError(f"no answer within {args.timeout:g} s from: {', '.join(who[name] for name in silent)}")
    return 0


def render(replies: Sequence[Message], console: Console) -> list[object]:
    """Return what to print for the replies received: a headline, then tables."""
    lines: list[object] = []
    execution = next(iter(of_type(replies, ExecutionStatusReported)), None)
    portfolio = next(iter(of_type(replies, PortfolioSnapshot)), None)
    if isinstance(execution, ExecutionStatusReported):
        halted = f"[bold red]HALTED[/] ({execution.halt_reason})" if execution.trading_halted else "[green]trading[/]"
        lines.append(f"mode [bold]{execution.mode}[/], orders go to [bold]{execution.venue}[/]; {halted}")
    if isinstance(portfolio, PortfolioSnapshot):
        lines.append(f"cash {portfolio.cash}  equity {portfolio.equity}  drawdown {portfolio.drawdown:.2%}  "
                     f"realised {portfolio.realized_pnl}  unrealised {portfolio.unrealized_pnl}"
                     + ("  [bold red]portfolio halted[/]" if portfolio.trading_halted else ""))
        positions = Table("strategy", "symbol", "quantity", "average", "market", "unrealised", "realised",
                          title="positions")
        for p in portfolio.positions:
            positions.add_row(p.strategy_id or "", p.symbol, str(p.quantity), str(p.average_price),
                              str(p.market_price or ""), str(p.unrealized_pnl), str(p.realized_pnl))
        lines.append(positions if portfolio.positions else "no open positions")
        if portfolio.strategies:
            strategies = Table("strategy", "realised", "unrealised", "gross exposure", "net exposure",
                               title="per strategy")
            for s in portfolio.strategies:
                strategies.add_row(s.strategy_id, str(s.realized_pnl), str(s.unrealized_pnl), str(s.gross_exposure),
                                   str(s.net_exposure))
            lines.append(strategies)
    if isinstance(execution, ExecutionStatusReported):
        if execution.working_orders:
            orders = Table("client order id", "strategy", "symbol", "side", "type", "quantity", "filled", "limit",
                           "stop", "status", title="working orders")
            for o in execution.working_orders:
                orders.add_row(o.client_order_id, o.strategy_id, o.symbol, o.side.value, o.order_type.value,
                               str(o.quantity), str(o.filled_quantity), str(o.limit_price or ""),
                               str(o.stop_price or ""), o.status)
            lines.append(orders)
        else:
            lines.append("no working orders")
    return lines
