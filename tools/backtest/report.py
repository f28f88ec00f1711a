"""Present a backtest: a summary table, a trades CSV, an equity-curve CSV, and one JSON object."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.portfolio.domain import ClosedTrade, Position

from .engine import BacktestResult


def _day_or_time(ts: datetime) -> str:
    return ts.date().isoformat() if ts.time() == datetime.min.time() else ts.isoformat()


def _number(value: Decimal) -> float | int:
    # JSON numbers: a float prints the shortest text that round-trips, so decimals of up to 15 digits print exactly
    return int(value) if value == value.to_integral_value() else float(value)


TRADE_COLUMNS = ["strategy", "symbol", "side", "quantity", "entry_date", "entry_price", "exit_date", "exit_price",
                 "pnl", "commission", "net_pnl"]


def trade_row(trade: ClosedTrade) -> dict[str, Any]:
    """Return one closed trade as plain values."""
    return {"strategy": trade.strategy_id, "symbol": trade.symbol, "side": trade.side.value,
            "quantity": _number(trade.quantity), "entry_date": _day_or_time(trade.entry_ts),
            "entry_price": _number(trade.entry_price), "exit_date": _day_or_time(trade.exit_ts),
            "exit_price": _number(trade.exit_price), "pnl": _number(trade.gross_pnl),
            "commission": _number(trade.commission), "net_pnl": _number(trade.net_pnl)}


def position_row(position: Position) -> dict[str, Any]:
    """Return one open position as plain values."""
    return {"strategy": position.strategy_id, "symbol": position.symbol, "quantity": _number(position.quantity),
            "entry_date": _day_or_time(position.opened_at) if position.opened_at else None,
            "entry_price": _number(position.average_price),
            "market_price": _number(position.market_price) if position.market_price is not None else None,
            "unrealized_pnl": _number(position.unrealized_pnl)}


def _plain(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def as_json(result: BacktestResult) -> dict[str, Any]:
    """Return the whole result as one JSON-ready object."""
    positions = [position_row(p) for p in result.open_positions]
    return {
        "bars": result.bars,
        "closed_trades": len(result.trades),
        "fills": result.fills,
        "final_value": _number(result.final_value),
        "cash": _number(result.cash),
        "open_position": positions[0] if len(positions) == 1 else (positions or None),
        "trades": [trade_row(t) for t in result.trades],
        "metrics": {k: _plain(v) for k, v in result.metrics.as_dict().items()},
    }


def write_files(result: BacktestResult, out: Path) -> tuple[Path, Path]:
    """Write ``trades.csv`` and ``equity.csv`` into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    trades, equity = out / "trades.csv", out / "equity.csv"
    with trades.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=TRADE_COLUMNS)
        writer.writeheader()
        writer.writerows(trade_row(t) for t in result.trades)
    with equity.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ts", "equity"])
        writer.writerows((ts.isoformat(), f"{value:.6f}") for ts, value in result.curve.points())
    return trades, equity


def summary_table(result: BacktestResult) -> str:
    """Return a human-readable summary of the run."""
    metrics = result.metrics.as_dict()
    rows = [("bars", result.bars), ("closed trades", len(result.trades)), ("fills", result.fills),
            ("final value", f"{result.final_value:.4f}"), ("cash", f"{result.cash:.4f}")]
    rows += [(f"open {p.symbol}", f"{p.quantity} @ {p.average_price} since {_day_or_time(p.opened_at)}")
             for p in result.open_positions if p.opened_at]
    rows += [(name.replace("_", " "), _format(value)) for name, value in metrics.items()
             if name not in ("start", "end", "points", "trade_count")]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _format(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
