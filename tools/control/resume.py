"""``tradebus resume``: trade again after a halt (the operator's or the drawdown kill switch's)."""

from __future__ import annotations

import argparse

from shared.contracts import ResumeTrading, TradingResumed

from .session import SOURCE, add_control_options, confirmed, now


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``tradebus resume`` options."""
    parser.add_argument("--reason", default="operator", help="why, for the logs and the resume event")
    add_control_options(parser)


def run(args: argparse.Namespace) -> int:
    """Resume trading and wait for the portfolio to confirm it."""
    issued = now()
    confirmed(args, "resume", ResumeTrading(ts_event=issued, ts_init=issued, source=SOURCE, reason=args.reason),
              TradingResumed)
    print("trading resumed; the drawdown kill switch measures from the equity of now")
    return 0
