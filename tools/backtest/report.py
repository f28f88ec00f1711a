"""Present a backtest: a summary table, the run's folder (trades.csv, equity.csv), and one JSON object.

The JSON object follows ``schemas/backtest-result.v1.json`` (``SCHEMA``): units are in the names
(``cagr_pct``, ``max_drawdown_duration_days``), ``open_positions`` is always a list. A field is added only with
a new version of the schema.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .engine import BacktestConfig, BacktestResult
from .views import (
    METRICS,
    benchmark_curve,
    benchmark_view,
    metrics_view,
    number,
    position_row,
    run_view,
    shown,
    symbol_rows,
    trade_rows,
)

SCHEMA = "tradebus.backtest-result"
SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / f"backtest-result.v{SCHEMA_VERSION}.json"
TRADE_COLUMNS = ["strategy", "symbol", "side", "quantity", "entry_date", "entry_price", "exit_date", "exit_price",
                 "duration_days", "pnl", "commission", "net_pnl", "return_pct", "exit_reason"]


def starting_cash(result: BacktestResult, config: BacktestConfig | None) -> Decimal:
    """Return the run's starting cash: the config's, else the equity curve's first value."""
    if config is not None:
        return config.cash
    return Decimal(str(result.metrics.starting_equity or 0))


def as_json(result: BacktestResult, config: BacktestConfig) -> dict[str, Any]:
    """Return the whole result as one JSON-ready object (schema ``SCHEMA_FILE``)."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "run": run_view(config, result),
        "bars": result.bars,
        "fills": result.fills,
        "closed_trades": len(result.trades),
        "starting_cash": number(config.cash),
        "final_value": number(result.final_value),
        "cash": number(result.cash),
        "buy_and_hold": benchmark_view(result, config.cash),
        "metrics": metrics_view(result),
        "open_positions": [position_row(p) for p in result.open_positions],
        "trades": trade_rows(result),
        "symbols": symbol_rows(result, config.cash),
    }


def run_folder(base: Path, strategy: str, now: datetime | None = None) -> Path:
    """Return a new folder under ``base`` for one run: ``<UTC timestamp>-<strategy>`` (``-2``... if taken)."""
    stamp = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = f"{stamp}-{re.sub(r'[^A-Za-z0-9_]+', '-', Path(strategy).name).strip('-') or 'strategy'}"
    folder, n = base / name, 1
    while folder.exists():
        n += 1
        folder = base / f"{name}-{n}"
    return folder


def write_files(result: BacktestResult, out: Path, config: BacktestConfig | None = None) -> tuple[Path, Path]:
    """Write ``trades.csv`` and ``equity.csv`` (with buy-and-hold and drawdown) into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    trades, equity = out / "trades.csv", out / "equity.csv"
    with trades.open("w", newline="") as handle:
        rows = csv.DictWriter(handle, fieldnames=TRADE_COLUMNS, extrasaction="ignore")
        rows.writeheader()
        rows.writerows(trade_rows(result))
    benchmark = benchmark_curve(result, starting_cash(result, config))
    with equity.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ts", "equity", "buy_and_hold", "drawdown_pct"])
        peak = float("-inf")
        for (ts, value), held in zip(result.curve.points(), benchmark):
            peak = max(peak, value)
            drawdown = (value / peak - 1) * 100 if peak > 0 else 0.0
            writer.writerow((ts.isoformat(), f"{value:.6f}", f"{held:.6f}", f"{drawdown:.4f}"))
    return trades, equity


def summary_table(result: BacktestResult, config: BacktestConfig | None = None, *, width: int = 100) -> str:
    """Return a readable summary of the run (metrics in percent and days), as text."""
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(summary(result, config))
    return console.file.getvalue().rstrip("\n")  # type: ignore[attr-defined]


def summary(result: BacktestResult, config: BacktestConfig | None = None) -> Table:
    """Return the summary of the run as a rich table (print it to a console)."""
    cash = starting_cash(result, config)
    title = f"{config.strategy} on {', '.join(config.symbols)}" if config else "backtest"
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    benchmark = benchmark_view(result, cash)
    rows = [("bars", f"{result.bars:,}"), ("fills", f"{result.fills:,}"),
            ("final value", f"{result.final_value:,.2f}"), ("cash", f"{result.cash:,.2f}"),
            ("buy and hold", f"{benchmark['final_value']:,.2f} ({shown(benchmark['total_return_pct'], 'pct')})")]
    rows += [(f"open {p.symbol}", f"{p.quantity} @ {p.average_price} since {p.opened_at:%Y-%m-%d}")
             for p in result.open_positions if p.opened_at]
    view = metrics_view(result)
    rows += [(metric.label, shown(view[metric.key], metric.unit)) for metric in METRICS]
    for name, value in rows:
        table.add_row(name, value)
    return table

