"""``tradebus resume``: trade again after a halt (the operator's or the drawdown kill switch's)."""

from __future__ import annotations

import argparse

from shared.contracts import ResumeTrading, TradingResumed
from tools.errors import ToolError

from .session import SOURCE, add_control_options, now, of_type, session


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``tradebus resume`` options."""
    parser.add_argument("--reason", default="operator", help="why, for the logs and the resume event")
    add_control_options(parser)


def run(args: argparse.Namespace) -> int:
    """Resume trading and wait for the portfolio to confirm it."""
    issued = now()
    command = ResumeTrading(ts_event=issued, ts_init=issued, source=SOURCE, reason=args.reason)
    with session(args, "resume") as control:
        control.send(command, [TradingResumed])
        resumed = of_type(control.wait(lambda seen: bool(seen), args.timeout), TradingResumed)
    if not resumed:
        raise ToolError(f"no confirmation within {args.timeout:g} s: is the portfolio service running?")
    print("trading resumed; the drawdown kill switch measures from the equity of now")
    return 0
