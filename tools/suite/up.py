"""``tradebus up``: the four services as local processes against RabbitMQ; Ctrl-C stops them all."""

from __future__ import annotations

import argparse
import asyncio
import os
from decimal import Decimal
from pathlib import Path

from services.strategy.domain import parse_params
from shared.runtime.settings import DEFAULT_AMQP_URL

from .processes import SuiteOptions, run_suite

SAMPLE = Path(__file__).resolve().parents[2] / "services" / "data" / "samples" / "orcl-1995-2014.csv"


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options ``up`` and ``run`` share."""
    parser.add_argument("--url", default=os.environ.get("AMQP_URL", DEFAULT_AMQP_URL),
                        help="broker URL (default: $AMQP_URL, else the local guest broker)")
    parser.add_argument("--namespace", default="tradebus", help="prefix of every exchange and queue")
    parser.add_argument("--data", type=Path, action="append", help=f"CSV of bars to replay (default: {SAMPLE.name})")
    parser.add_argument("--symbol", action="append", help="symbol of each --data file (default ORCL for the sample)")
    parser.add_argument("--timeframe", default="1d")
    parser.add_argument("--speed", type=float, default=0.0,
                        help="replay pace: 0 as fast as possible, else event time divided by this factor")
    parser.add_argument("--strategy", default="sma_cross")
    parser.add_argument("--param", action="append", default=[], metavar="K=V")
    parser.add_argument("--quantity", type=Decimal, default=Decimal(100))
    parser.add_argument("--commission", type=Decimal, default=Decimal(0))
    parser.add_argument("--strategy-workers", type=int, default=1)
    parser.add_argument("--state-dir", type=Path, default=Path("var/suite"))
    parser.add_argument("--json-logs", action="store_true", help="keep the services' JSON log lines")


def options_from(args: argparse.Namespace) -> SuiteOptions:
    """Return the suite the arguments describe."""
    data = tuple(args.data or [SAMPLE])
    symbols = tuple(args.symbol or ([p.stem.split("-")[0].upper() for p in data]))
    params = parse_params(args.param) or {"fast": "10", "slow": "30"}
    return SuiteOptions(amqp_url=args.url, namespace=args.namespace, state_dir=args.state_dir, data=data,
                        symbols=symbols, timeframe=args.timeframe, speed=args.speed, strategy=args.strategy,
                        params=params, quantity=args.quantity, commission=args.commission,
                        strategy_workers=args.strategy_workers, log_json=args.json_logs)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_suite_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(run_suite(options_from(args)))
