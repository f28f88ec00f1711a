"""``tradebus halt``: stop new risk (working entry orders are canceled); positions stay as they are."""

from __future__ import annotations

import argparse

from shared.contracts import HaltTrading, TradingHalted
from tools.errors import ToolError

from .session import SOURCE, add_control_options, now, of_type, session


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``tradebus halt`` options."""
    parser.add_argument("--reason", default="operator", help="why, for the logs and the halt event")
    add_control_options(parser)


def run(args: argparse.Namespace) -> int:
    """Halt trading and wait for the portfolio to confirm it."""
    issued = now()
    command = HaltTrading(ts_event=issued, ts_init=issued, source=SOURCE, reason=args.reason)
    with session(args, "halt") as control:
        control.send(command, [TradingHalted])
        halted = of_type(control.wait(lambda seen: bool(seen), args.timeout), TradingHalted)
    if not halted:
        raise ToolError(f"no confirmation within {args.timeout:g} s: is the portfolio service running?")
    print(f"trading halted: {halted[0].reason}")  # type: ignore[attr-defined]
    print("new orders that add risk are refused and working entry orders canceled; `tradebus resume` to trade again")
    return 0
