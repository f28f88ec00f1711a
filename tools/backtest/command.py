"""``tradebus backtest``: replay files through the four services in one process and report."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from services.data.domain import BadDataError, BadRow
from services.strategy.adapters.loading import absolute_path
from tools.errors import UsageError
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
from tools.settings_options import RunConfig, load_config, pick

from .engine import BacktestConfig, BacktestResult, Progress, run_backtest
from .output import present
from .progress import progress_bar

CONFIG_KEYS = ("data", "symbol", "strategy", "timeframe", "strict", *DATA_KEYS)
"""Top-level keys of a ``--config`` file (its tables: ``params``, ``columns`` and each settings group)."""
SHOWN_BAD_ROWS = 3
"""Bad rows named in the summary line after a run (all are counted)."""
DATA_LOGGERS = ("services.data.bootstrap", "tradebus.data.feeds")
"""The data service's loggers whose lines a backtest prints itself (bad rows summed up, notes as they come)."""


def symbol_of(path: Path) -> str:
    """Return the symbol a data file is named after: ``orcl-1995-2014.csv`` -> ``ORCL``."""
    return path.stem.split("-")[0].split("_")[0].upper()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML file of a whole run: top-level keys as the options (data, strategy, ...), tables "
                             "[params] [columns] [sizing] [risk] [paper] [portfolio]; options given here override it")
    parser.add_argument("--data", type=Path, action="append",
                        help="CSV file of OHLCV bars (repeat for several symbols; required here or in --config)")
    parser.add_argument("--symbol", action="append", help="symbol of each --data file (default: from the file name)")
    parser.add_argument("--strategy", help="registry name (sma_cross, mean_reversion) or module:Class (required)")
    parser.add_argument("--param", action="append", default=[], metavar="K=V", help="strategy parameter")
    parser.add_argument("--timeframe", help="timeframe label of the bars (default 1d)")
    add_data_arguments(parser)
    add_settings_arguments(parser)
    # output (tools/backtest/output.py): a folder per run, the HTML report, JSON
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for trades.csv, equity.csv, report.html (default: a new folder per run, "
                             "var/backtest/<UTC time>-<strategy>)")
    parser.add_argument("--report", action="store_true", help="also write report.html (plots, trades, metrics)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (schemas/backtest-result.v1.json) instead of the table")
    parser.add_argument("--strict", action="store_true", default=None,
                        help="round-trip every message through JSON (slower)")


def config_from(args: argparse.Namespace) -> BacktestConfig:
    """Return the backtest the arguments (and the ``--config`` file) describe; raise ``UsageError`` for bad ones."""
    config = load_config(args.config, CONFIG_KEYS, GROUPS, tables=("params", "columns"))
    data = [Path(path) for path in listed(pick(args, config, "data"), "data", config)]
    if not data:
        raise UsageError("--data is required: the CSV file(s) of bars to replay")
    strategy = pick(args, config, "strategy")
    if not strategy:
        raise UsageError("--strategy is required: sma_cross, mean_reversion, or a package.module:Class path")
    symbols = listed(pick(args, config, "symbol"), "symbol", config) or [symbol_of(path) for path in data]
    if len(symbols) != len(data):
        raise UsageError(f"{len(data)} --data files but {len(symbols)} --symbol values: give one per file")
    timeframe = str(pick(args, config, "timeframe", "1d"))
    options = data_options_from(args, config)
    check_data_files(data, symbols, timeframe, options)  # fail here, one line, not mid-run
    settings = settings_from(args, config)
    strategy = absolute_path(str(strategy))  # a FILE.py:Class loads from any directory
    params = strategy_params(strategy, args.param, config, settings.sizing)
    return BacktestConfig(data=tuple(data), symbols=tuple(symbols), strategy=str(strategy), params=params,
                          timeframe=timeframe, strict=bool(pick(args, config, "strict", False)),
                          quantity=settings.sizing.quantity, cash=settings.portfolio["starting_cash"],
                          commission=settings.paper.commission_rate, fill_on=settings.paper.fill_on,
                          slippage_bps=settings.paper.slippage_bps, bad_rows=options.bad_rows,  # type: ignore[arg-type]
                          tz=options.tz, columns=options.columns, sizing=settings.sizing, risk=settings.risk,
                          paper=settings.paper, portfolio=settings.portfolio)


def listed(value: object, key: str, config: RunConfig | None) -> list[str]:
    """Return an option that may be repeated (a list in the config file, or one value) as a list of strings."""
    if value is None:
        return []
    if isinstance(value, (str, Path)):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(item, (str, Path)) for item in value):
        return [str(item) for item in value]
    raise UsageError(f"{config.path if config else '--' + key}: {key} must be a text or a list of texts, got {value!r}")


def replay(config: BacktestConfig, progress: Progress | None = None) -> BacktestResult:
    """Run the backtest; bad rows are counted and summed up in one line on stderr, not one line each."""
    bad_rows: list[BadRow] = []
    collector = _BadRowCollector(bad_rows)
    loggers = [logging.getLogger(name) for name in DATA_LOGGERS]
    propagates = [logger.propagate for logger in loggers]
    for logger in loggers:
        logger.addHandler(collector)
        logger.propagate = False
    try:
        result = asyncio.run(run_backtest(config, progress=progress))
    except BadDataError as error:
        raise UsageError(f"bad row {error}; --bad-rows skip passes over bad rows (and counts them)") from None
    finally:
        for logger, propagate in zip(loggers, propagates):
            logger.removeHandler(collector)
            logger.propagate = propagate
    if bad_rows:
        shown = "; ".join(str(row) for row in bad_rows[:SHOWN_BAD_ROWS])
        more = f" and {len(bad_rows) - SHOWN_BAD_ROWS} more" if len(bad_rows) > SHOWN_BAD_ROWS else ""
        print(f"tradebus backtest: skipped {len(bad_rows)} bad row{'s' * (len(bad_rows) != 1)}: {shown}{more} "
              "(--bad-rows reject stops at the first)", file=sys.stderr)
    if result.bars == 0:
        raise UsageError(f"no bars to replay in {', '.join(map(str, config.data))}"
                         + (": every row was bad" if bad_rows else ""))
    return result


class _BadRowCollector(logging.Handler):
    def __init__(self, rows: list[BadRow]) -> None:
        super().__init__(logging.WARNING)
        self.rows = rows

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "bad row %s:%d: %s" and len(record.args or ()) == 3:
            self.rows.append(BadRow(*record.args))  # type: ignore[misc]
        else:
            print(record.getMessage(), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    with progress_bar(config.data) as progress:
        result = replay(config, progress)
    present(result, config, out=args.out, report=args.report, json_output=args.json)
    return 0
