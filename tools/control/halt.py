"""``tradebus halt``: stop new risk (working entry orders are canceled); positions stay as they are."""

from __future__ import annotations

import argparse

from shared.contracts import HaltTrading, TradingHalted

from .session import SOURCE, add_control_options, confirmed, now


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``tradebus halt`` options."""
    parser.add_argument("--reason", default="operator", help="why, for the logs and the halt event")
    add_control_options(parser)


def run(args: argparse.Namespace) -> int:
    """Halt trading and wait for the portfolio to confirm it."""
    issued = now()
    halted = confirmed(args, "halt", HaltTrading(ts_event=issued, ts_init=issued, source=SOURCE, reason=args.reason),
                       TradingHalted)
    print(f"trading halted: {halted.reason}")  # type: ignore[attr-defined]
    print("new orders that add risk are refused and working entry orders canceled; `tradebus resume` to trade again")
    return 0
