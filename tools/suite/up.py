"""``tradebus up``: the four services as local processes against RabbitMQ; Ctrl-C stops them all."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError

from services.strategy.adapters.loading import absolute_path
from shared.runtime.settings import DEFAULT_AMQP_URL
from shared.venues import VenueMode, VenueSettings
from tools.errors import UsageError
from tools.ops.broker import connect
from tools.run_options import (
    DATA_KEYS,
    GROUPS,
    add_data_arguments,
    add_settings_arguments,
    check_data_files,
    data_options_from,
    settings_from,
    strategy_params,
)
from tools.settings_options import load_config, pick

from .processes import SuiteOptions, run_suite

SAMPLE = Path(__file__).resolve().parents[2] / "services" / "data" / "samples" / "orcl-1995-2014.csv"


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options ``up`` and ``run`` share."""
    parser.add_argument("--url", default=os.environ.get("AMQP_URL", DEFAULT_AMQP_URL),
                        help="broker URL (default: $AMQP_URL, else the local guest broker)")
    parser.add_argument("--namespace", default="tradebus", help="prefix of every exchange and queue")
    parser.add_argument("--data", type=Path, action="append", help=f"CSV of bars to replay (default: {SAMPLE.name})")
    parser.add_argument("--symbol", action="append",
                        help="symbol of each --data file (default ORCL for the sample), or with --venue a ccxt "
                             "symbol to trade (BTC/USDT)")
    parser.add_argument("--timeframe", help="bar timeframe (default: 1d for files, 1m with --venue)")
    parser.add_argument("--venue", metavar="EXCHANGE", help="stream live market data from this ccxt exchange "
                        "(binance, kraken, ...) instead of replaying files")
    parser.add_argument("--mode", choices=[mode.value for mode in VenueMode], default=VenueMode.DRY_RUN.value,
                        help="with --venue: dry-run (paper fills at live prices, the default), sandbox (the "
                             "exchange's testnet) or live (real money: needs --confirm-live)")
    parser.add_argument("--confirm-live", action="store_true", help="yes, mode live sends real orders")
    parser.add_argument("--endpoint", help="with --venue: send every request to this http://host:port instead "
                        "(a proxy, or the local exchange emulator)")
    parser.add_argument("--speed", type=at_least(0.0, float), default=0.0,
                        help="replay pace: 0 as fast as possible, else event time divided by this factor")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML file of the run: top-level keys data, symbol, strategy, timeframe and the data "
                             "options; tables [params] [columns] [sizing] [risk] [paper] [portfolio]; options given "
                             "here override it")
    parser.add_argument("--strategy", help="registry name, FILE.py:Class or module:Class (default sma_cross)")
    parser.add_argument("--param", action="append", default=[], metavar="K=V",
                        help="strategy parameter (default for sma_cross: fast=10 slow=30)")
    parser.add_argument("--strategy-workers", type=at_least(1, int), default=1,
                        help="strategy service processes sharing the symbols (default 1)")
    parser.add_argument("--state-dir", type=Path, default=Path("var/suite"))
    parser.add_argument("--json-logs", action="store_true", help="keep the services' JSON log lines")
    add_data_arguments(parser)
    add_settings_arguments(parser)


def at_least(minimum: float, kind: type[int] | type[float]) -> Callable[[str], float]:
    """Return an argparse ``type``: a number of ``kind`` no smaller than ``minimum``."""
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {'an integer' if kind is int else 'a number'}: {text!r}") from None
        if not value >= minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, got {text!r}")
        return value
    return parse


CONFIG_KEYS = ("data", "symbol", "strategy", "timeframe", *DATA_KEYS)
"""Top-level keys of a ``--config`` file of ``up`` and ``run``."""


def options_from(args: argparse.Namespace) -> SuiteOptions:
    """Return the suite the arguments describe; raise ``UsageError`` (one line) for a bad one."""
    config = load_config(args.config, CONFIG_KEYS, GROUPS, tables=("params", "columns"))
    venue_quantity = {"sizing": {"quantity": Decimal("0.001")}} if args.venue else None
    settings = settings_from(args, config, venue_quantity)
    strategy = absolute_path(str(pick(args, config, "strategy", "sma_cross")))
    params = strategy_params(strategy, args.param, config, settings.sizing,
                             defaults={"fast": "10", "slow": "30"} if strategy == "sma_cross" else None)
    data_options = data_options_from(args, config)
    common = dict(amqp_url=args.url, namespace=args.namespace, state_dir=args.state_dir, strategy=strategy,
                  params=params, commission=settings.paper.commission_rate, strategy_workers=args.strategy_workers,
                  log_json=args.json_logs, quantity=settings.sizing.quantity, settings=settings,
                  data_options=data_options)
    symbols = pick(args, config, "symbol")
    symbols = [symbols] if isinstance(symbols, str) else symbols
    if args.venue:
        if pick(args, config, "data"):
            raise UsageError("--venue streams live data: leave out --data (or leave out --venue to replay files)")
        if not symbols:
            raise UsageError("--venue needs --symbol, the ccxt symbol to trade, e.g. --symbol BTC/USDT")
        if args.mode == VenueMode.LIVE.value and not args.confirm_live:
            raise UsageError("--mode live trades real money: add --confirm-live to mean it, or use --mode sandbox")
        try:  # the exchange id here; the keys of sandbox and live in the execution service, from its environment
            VenueSettings(exchange=args.venue)
        except ValidationError as error:
            raise UsageError("--venue: " + error.errors()[0]["msg"].removeprefix("Value error, ")) from None
        return SuiteOptions(**common, symbols=tuple(symbols), timeframe=pick(args, config, "timeframe", "1m"),
                            venue=args.venue, mode=args.mode, confirm_live=args.confirm_live, endpoint=args.endpoint)
    data = pick(args, config, "data") or [SAMPLE]
    data = tuple(Path(path) for path in ([data] if isinstance(data, str) else data))
    symbols = tuple(symbols or ([p.stem.split("-")[0].upper() for p in data]))
    if len(symbols) != len(data):
        raise UsageError(f"{len(data)} --data files but {len(symbols)} --symbol values: give one per file")
    timeframe = str(pick(args, config, "timeframe", "1d"))
    check_data_files(data, symbols, timeframe, data_options)
    return SuiteOptions(**common, data=data, symbols=symbols, timeframe=timeframe, speed=args.speed)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_suite_arguments(parser)


def run(args: argparse.Namespace) -> int:
    options = options_from(args)  # every input checked before a process starts
    with connect(options.amqp_url, "up"):  # an unreachable broker is one line, not four crash loops
        pass
    return asyncio.run(run_suite(options))
