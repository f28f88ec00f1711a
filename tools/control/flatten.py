"""``tradebus flatten``: close positions with market orders through the normal order path and its risk checks."""

from __future__ import annotations

import argparse

from shared.contracts import (
    FlattenPositions,
    Message,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    PortfolioSnapshot,
    SubmitOrder,
)
from tools.errors import ToolError

from .session import SOURCE, add_control_options, now, of_type, session

OUTCOMES = (OrderFilled, OrderRejected, OrderCanceled, OrderExpired)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``tradebus flatten`` options."""
    parser.add_argument("--symbol", help="close only this symbol's positions (default: all)")
    parser.add_argument("--reason", default="operator", help="why, for the logs")
    add_control_options(parser)


def run(args: argparse.Namespace) -> int:
    """Ask the portfolio to close positions, then follow each exit order until it filled or ended."""
    issued = now()
    command = FlattenPositions(ts_event=issued, ts_init=issued, source=SOURCE, symbol=args.symbol, reason=args.reason)
    exits: set[str] = set()

    def ours(message: Message) -> bool:
        return isinstance(message, OUTCOMES) and message.client_order_id in exits

    def finished(seen: list[Message]) -> bool:
        exits.update(order.client_order_id for order in of_type(seen, SubmitOrder))  # type: ignore[attr-defined]
        if not of_type(seen, PortfolioSnapshot):
            return False  # the portfolio sends its snapshot after the last exit order
        return exits <= {m.client_order_id for m in seen if isinstance(m, OUTCOMES) and _final(m)}

    with session(args, "flatten") as control:
        control.send(command, [SubmitOrder, PortfolioSnapshot, *OUTCOMES])
        seen = control.wait(finished, args.timeout, related=ours)
    if not of_type(seen, PortfolioSnapshot):
        raise ToolError(f"no answer within {args.timeout:g} s: is the portfolio service running?")
    if not exits:
        print("nothing to flatten: no open positions" + (f" in {args.symbol}" if args.symbol else ""))
        return 0
    unfinished = 0
    for client_order_id in sorted(exits):
        outcome = [m for m in seen if isinstance(m, OUTCOMES) and m.client_order_id == client_order_id]
        print(f"{client_order_id}: {_describe(outcome)}")
        unfinished += not outcome or not _final(outcome[-1])
    if unfinished:
        raise ToolError(f"{unfinished} exit order(s) not done within {args.timeout:g} s; `tradebus status` shows them")
    return 0


def _final(message: Message) -> bool:
    return not isinstance(message, OrderFilled) or message.is_final


def _describe(outcome: list[Message]) -> str:
    if not outcome:
        return "sent, no answer yet"
    last = outcome[-1]
    fills = [m for m in outcome if isinstance(m, OrderFilled)]
    if isinstance(last, OrderFilled):
        done = "filled" if last.is_final else "partly filled"
        return f"{done} {last.cumulative_quantity} {last.symbol}, last at {last.price}"
    reason = getattr(last, "reason", "") or ""
    filled = f" after {sum(f.quantity for f in fills)} filled" if fills else ""
    return f"{type(last).__name__.removeprefix('Order').lower()}{filled}{': ' + reason if reason else ''}"
