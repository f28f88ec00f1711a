"""``tradebus backtest``: replay files through the four services in one process and report."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from services.strategy.domain import StrategyParamsError, UnknownStrategy, parse_params, prepare_strategy
from tools.errors import ToolError

from .engine import BacktestConfig, run_backtest
from .report import as_json, summary_table, write_files


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def symbol_of(path: Path) -> str:
    """Return the symbol a data file is named after: ``orcl-1995-2014.csv`` -> ``ORCL``."""
    return path.stem.split("-")[0].split("_")[0].upper()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, action="append", required=True,
                        help="CSV file of OHLCV bars (repeat for several symbols)")
    parser.add_argument("--symbol", action="append", help="symbol of each --data file (default: from the file name)")
    parser.add_argument("--strategy", required=True, help="registry name (sma_cross, mean_reversion) or module:Class")
    parser.add_argument("--param", action="append", default=[], metavar="K=V", help="strategy parameter")
    parser.add_argument("--timeframe", default="1d", help="timeframe label of the bars (default 1d)")
    parser.add_argument("--quantity", type=_decimal, default=Decimal(100), help="shares per order (default 100)")
    parser.add_argument("--cash", type=_decimal, default=Decimal(100000), help="starting cash (default 100000)")
    parser.add_argument("--commission", type=_decimal, default=Decimal(0), help="fraction of notional (0.001 = 0.1%%)")
    parser.add_argument("--slippage-bps", type=_decimal, default=Decimal(0), help="adverse slippage in basis points")
    parser.add_argument("--fill", choices=("next_open", "close"), default="next_open",
                        help="market orders fill at the next bar's open (default) or this bar's close")
    parser.add_argument("--out", type=Path, default=Path("var/backtest"), help="folder for trades.csv and equity.csv")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--strict", action="store_true", help="round-trip every message through JSON (slower)")


def config_from(args: argparse.Namespace) -> BacktestConfig:
    """Return the backtest the arguments describe; raise ``ToolError`` for bad ones."""
    symbols = args.symbol or [symbol_of(path) for path in args.data]
    if len(symbols) != len(args.data):
        raise ToolError(f"{len(args.data)} --data files but {len(symbols)} --symbol values")
    for path in args.data:
        if not path.is_file():
            raise ToolError(f"no such data file: {path}")
    try:
        params = parse_params(args.param)
        prepare_strategy(args.strategy, args.strategy, params)  # fail here, with a clear message, not mid-run
    except (UnknownStrategy, StrategyParamsError, TypeError) as error:
        raise ToolError(str(error)) from None
    return BacktestConfig(data=tuple(args.data), symbols=tuple(symbols), strategy=args.strategy, params=params,
                          timeframe=args.timeframe, quantity=args.quantity, cash=args.cash,
                          commission=args.commission, fill_on=args.fill, slippage_bps=args.slippage_bps,
                          strict=args.strict)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    result = asyncio.run(run_backtest(config))
    trades, equity = write_files(result, args.out)
    if args.json:
        json.dump(as_json(result), sys.stdout)
        sys.stdout.write("\n")
    else:
        print(summary_table(result))
        print(f"\ntrades: {trades}\nequity curve: {equity}")
    return 0
