"""A backtest result as plain values in the units people read: percentages, days, ISO dates.

One place decides each number's name, unit and rounding; the summary table, the JSON object (schema
``schemas/backtest-result.v1.json``), the CSV files and the HTML report all read from here.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from services.portfolio.domain import ClosedTrade, Position
from services.portfolio.domain.equity import from_micros

from .engine import BacktestConfig, BacktestResult
from .series import buy_and_hold

Unit = Literal["pct", "days", "ratio", "count", "money", "date"]


@dataclass(frozen=True)
class Metric:
    """One reported metric: its JSON key (unit in the name), its label, where it comes from and its unit."""

    key: str
    label: str
    source: str
    unit: Unit


METRICS = (
    Metric("start", "start", "start", "date"),
    Metric("end", "end", "end", "date"),
    Metric("starting_equity", "starting equity", "starting_equity", "money"),
    Metric("final_equity", "final equity", "final_equity", "money"),
    Metric("total_return_pct", "total return", "total_return", "pct"),
    Metric("cagr_pct", "CAGR", "cagr", "pct"),
    Metric("annualized_volatility_pct", "annualised volatility", "annualized_volatility", "pct"),
    Metric("sharpe", "Sharpe", "sharpe", "ratio"),
    Metric("sortino", "Sortino", "sortino", "ratio"),
    Metric("max_drawdown_pct", "max drawdown", "max_drawdown", "pct"),
    Metric("max_drawdown_duration_days", "max drawdown duration", "max_drawdown_duration", "days"),
    Metric("max_drawdown_duration_bars", "max drawdown duration (bars)", "max_drawdown_duration_bars", "count"),
    Metric("calmar", "Calmar", "calmar", "ratio"),
    Metric("win_rate_pct", "win rate", "win_rate", "pct"),
    Metric("profit_factor", "profit factor", "profit_factor", "ratio"),
    Metric("exposure_pct", "exposure", "exposure", "pct"),
    Metric("turnover", "turnover (x mean equity)", "turnover", "ratio"),
    Metric("trade_count", "closed trades", "trade_count", "count"),
)


def number(value: Decimal | float | int) -> float | int:
    """Return ``value`` as a JSON number: an int when integral, else the shortest float that round-trips."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def day_or_time(ts: datetime) -> str:
    """Return ``ts`` as an ISO date when it is midnight, else as an ISO timestamp."""
    return ts.date().isoformat() if ts.time() == datetime.min.time() else ts.isoformat()


def days(span: timedelta) -> float:
    """Return ``span`` in days (fractional for intraday spans)."""
    return round(span.total_seconds() / 86_400, 4)


def pct(fraction: float) -> float:
    """Return ``fraction`` (0.05) in percent (5.0), rounded to 4 decimals."""
    return round(fraction * 100, 4)


def metrics_view(result: BacktestResult) -> dict[str, Any]:
    """Return the metrics under their unit-bearing keys; ``None`` where undefined."""
    raw = result.metrics.as_dict()
    view: dict[str, Any] = {}
    for metric in METRICS:
        value = raw[metric.source]
        if value is None:
            view[metric.key] = None
        elif metric.unit == "pct":
            view[metric.key] = pct(value)
        elif metric.unit == "days":
            view[metric.key] = days(value)
        elif metric.unit == "date":
            view[metric.key] = day_or_time(value)
        elif metric.unit == "ratio":
            view[metric.key] = round(value, 4)
        else:
            view[metric.key] = value
    return view


def trade_return(trade: ClosedTrade) -> Decimal:
    """Return a trade's net P&L as a fraction of what it cost to enter."""
    cost = trade.entry_price * trade.quantity
    return trade.net_pnl / cost if cost else Decimal(0)


def trade_row(trade: ClosedTrade, exit_reason: str = "") -> dict[str, Any]:
    """Return one closed trade as plain values, with its duration, return and why it ended."""
    return {"strategy": trade.strategy_id, "symbol": trade.symbol, "side": trade.side.value,
            "quantity": number(trade.quantity), "entry_date": day_or_time(trade.entry_ts),
            "entry_price": number(trade.entry_price), "exit_date": day_or_time(trade.exit_ts),
            "exit_price": number(trade.exit_price), "duration_days": days(trade.exit_ts - trade.entry_ts),
            "pnl": number(trade.gross_pnl), "commission": number(trade.commission),
            "net_pnl": number(trade.net_pnl), "return_pct": pct(float(trade_return(trade))),
            "exit_reason": exit_reason}


def trade_rows(result: BacktestResult) -> list[dict[str, Any]]:
    """Return every closed trade of ``result`` as plain values."""
    reasons = result.exit_reasons or ("",) * len(result.trades)
    return [trade_row(trade, reason) for trade, reason in zip(result.trades, reasons)]


def position_row(position: Position) -> dict[str, Any]:
    """Return one open position as plain values."""
    return {"strategy": position.strategy_id, "symbol": position.symbol, "quantity": number(position.quantity),
            "entry_date": day_or_time(position.opened_at) if position.opened_at else None,
            "entry_price": number(position.average_price),
            "market_price": number(position.market_price) if position.market_price is not None else None,
            "unrealized_pnl": number(position.unrealized_pnl)}


def benchmark_curve(result: BacktestResult, cash: Decimal) -> list[float]:
    """Return buy-and-hold of the run's symbols (``cash`` split evenly) at each point of the equity curve."""
    return list(buy_and_hold(result.prices, float(cash), result.curve.micros))


def benchmark_view(result: BacktestResult, cash: Decimal) -> dict[str, Any]:
    """Return buy-and-hold's final value and total return (same symbols, same starting cash)."""
    curve = benchmark_curve(result, cash)
    final = curve[-1] if curve else float(cash)
    return {"final_value": round(final, 4), "total_return_pct": pct(final / float(cash) - 1) if cash > 0 else None}


def symbol_rows(result: BacktestResult, cash: Decimal) -> list[dict[str, Any]]:
    """Return one row per symbol: its trades, win rate, net P&L (and as % of starting cash), open quantity, and
    the symbol's own buy-and-hold return."""
    rows = []
    for symbol in sorted({*result.prices, *(t.symbol for t in result.trades)}):
        trades = [t for t in result.trades if t.symbol == symbol]
        net = sum((t.net_pnl for t in trades), Decimal(0))
        open_quantity = sum((p.quantity for p in result.open_positions if p.symbol == symbol), Decimal(0))
        unrealized = sum((p.unrealized_pnl for p in result.open_positions if p.symbol == symbol), Decimal(0))
        series = result.prices.get(symbol)
        held = (series.prices[-1] / series.prices[0] - 1) if series and series.prices[0] > 0 else None
        rows.append({"symbol": symbol, "bars": len(series) if series else 0, "closed_trades": len(trades),
                     "win_rate_pct": pct(sum(1 for t in trades if t.net_pnl > 0) / len(trades)) if trades else None,
                     "net_pnl": number(net), "unrealized_pnl": number(unrealized),
                     "net_pnl_pct_of_cash": pct(float(net / cash)) if cash > 0 else None,
                     "open_quantity": number(open_quantity),
                     "buy_and_hold_return_pct": pct(held) if held is not None else None})
    return rows


def run_view(config: BacktestConfig, result: BacktestResult) -> dict[str, Any]:
    """Return what ran: every field of ``config`` as plain values, and the span of the data."""
    view = {field.name: plain(getattr(config, field.name)) for field in dataclasses.fields(config)}
    micros = [s.micros for s in result.prices.values() if len(s)]
    view["first_bar"] = day_or_time(from_micros(min(m[0] for m in micros))) if micros else None
    view["last_bar"] = day_or_time(from_micros(max(m[-1] for m in micros))) if micros else None
    view["bars"] = result.bars
    return view


def plain(value: Any) -> Any:
    """Return ``value`` (a setting: paths, decimals, enums, models, nested containers) as JSON-ready values."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, float, str)):
        return value
    if isinstance(value, Decimal):
        return number(value)
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return plain(value.model_dump())
    return str(value)


def shown(value: Any, unit: str) -> str:
    """Return ``value`` as people read it in ``unit``: ``12.34%``, ``1,234 days``, ``-`` when undefined."""
    if value is None:
        return "-"
    if unit == "pct":
        return f"{value:.2f}%"
    if unit == "days":
        return f"{value:,.0f} days" if value >= 1 else f"{value * 24:.1f} hours"
    if unit == "money":
        return f"{value:,.2f}"
    if unit == "ratio":
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
