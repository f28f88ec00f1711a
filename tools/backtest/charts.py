"""The figures of the HTML report (plotly), from a backtest result; pure: no files, no HTML around them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go

from services.portfolio.domain.equity import from_micros

from .engine import BacktestResult
from .views import benchmark_curve

MAX_POINTS = 4_000
"""Points per line drawn; longer series keep each bucket's extremes (a drawdown's trough stays visible)."""
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LAYOUT: dict[str, Any] = {
    "template": "plotly_white", "margin": {"l": 60, "r": 20, "t": 70, "b": 40}, "hovermode": "x unified",
    "legend": {"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"}}
_SCALES = [{"type": "buttons", "direction": "right", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom",
            "buttons": [{"label": "linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
                        {"label": "log", "method": "relayout", "args": [{"yaxis.type": "log"}]}]}]


def decimate(count: int, values: Sequence[float], limit: int = MAX_POINTS) -> list[int]:
    """Return the indices to draw of ``count`` points: all if few, else each bucket's first, lowest and highest."""
    if count <= limit:
        return list(range(count))
    size = -(-count * 3 // limit)
    keep: set[int] = {count - 1}
    for start in range(0, count, size):
        bucket = range(start, min(start + size, count))
        keep.update((start, min(bucket, key=values.__getitem__), max(bucket, key=values.__getitem__)))
    return sorted(keep)


def _times(micros: Sequence[int], indices: Sequence[int]) -> list[datetime]:
    return [from_micros(micros[i]) for i in indices]


def equity_figure(result: BacktestResult, cash: Decimal) -> go.Figure:
    """Return the equity curve against buy-and-hold of the same symbols with the same starting cash."""
    micros, equity = result.curve.micros, result.curve.equities
    held = benchmark_curve(result, cash)
    shown = sorted({*decimate(len(equity), equity), *decimate(len(held), held)})
    figure = go.Figure(layout={**_LAYOUT, "title": "Equity against buy and hold (same symbols, same cash)",
                               "yaxis_title": "value", "updatemenus": _SCALES, "height": 480})
    figure.add_scatter(x=_times(micros, shown), y=[equity[i] for i in shown], name="strategy", line={"width": 2})
    figure.add_scatter(x=_times(micros, shown), y=[held[i] for i in shown], name="buy and hold",
                       line={"width": 1.5, "dash": "dot"})
    return figure


def drawdowns(values: Sequence[float]) -> list[float]:
    """Return the drawdown at each point, in percent below the running peak (0 or negative)."""
    peak, out = float("-inf"), []
    for value in values:
        peak = max(peak, value)
        out.append((value / peak - 1) * 100 if peak > 0 else 0.0)
    return out


def drawdown_figure(result: BacktestResult) -> go.Figure:
    """Return the strategy's drawdown over time, in percent."""
    micros, below = result.curve.micros, drawdowns(result.curve.equities)
    shown = decimate(len(below), below)
    figure = go.Figure(layout={**_LAYOUT, "title": "Drawdown", "yaxis_title": "% below peak", "height": 300,
                               "margin": {**_LAYOUT["margin"], "t": 50}})
    figure.add_scatter(x=_times(micros, shown), y=[below[i] for i in shown], name="drawdown", fill="tozeroy",
                       line={"color": "#c0392b", "width": 1})
    return figure


def price_figure(result: BacktestResult, symbol: str) -> go.Figure:
    """Return ``symbol``'s price with the entries and exits of its trades (and open positions) marked."""
    series = result.prices[symbol]
    shown = decimate(len(series), series.prices)
    figure = go.Figure(layout={**_LAYOUT, "title": f"{symbol}: price, entries and exits", "yaxis_title": "price",
                               "updatemenus": _SCALES, "height": 480})
    figure.add_scatter(x=_times(series.micros, shown), y=[series.prices[i] for i in shown], name=symbol,
                       line={"color": "#555", "width": 1})
    trades = [t for t in result.trades if t.symbol == symbol]
    opened = [p for p in result.open_positions if p.symbol == symbol and p.opened_at]
    figure.add_scatter(x=[t.entry_ts for t in trades] + [p.opened_at for p in opened],
                       y=[float(t.entry_price) for t in trades] + [float(p.average_price) for p in opened],
                       mode="markers", name="entry",
                       marker={"symbol": "triangle-up", "size": 9, "color": "#27ae60"})
    figure.add_scatter(x=[t.exit_ts for t in trades], y=[float(t.exit_price) for t in trades], mode="markers",
                       name="exit", marker={"symbol": "triangle-down", "size": 9, "color": "#c0392b"})
    return figure


def monthly_returns(result: BacktestResult) -> dict[int, list[float | None]]:
    """Return each year's twelve monthly returns in percent (``None`` for months without data)."""
    month_end: dict[tuple[int, int], float] = {}
    first: float | None = None
    for ts, value in result.curve.points():
        first = value if first is None else first
        month_end[(ts.year, ts.month)] = value
    table: dict[int, list[float | None]] = {}
    previous = first
    for (year, month), value in month_end.items():
        row = table.setdefault(year, [None] * 12)
        if previous:
            row[month - 1] = round((value / previous - 1) * 100, 2)
        previous = value
    return table


def monthly_figure(result: BacktestResult) -> go.Figure:
    """Return the monthly returns as a heatmap, years by months, in percent."""
    table = monthly_returns(result)
    years = sorted(table)
    z = [table[year] for year in years]
    text = [["" if v is None else f"{v:.1f}" for v in row] for row in z]
    figure = go.Figure(layout={**_LAYOUT, "title": "Monthly returns (%)", "hovermode": "closest",
                               "height": max(300, 26 * len(years) + 120), "yaxis": {"autorange": "reversed"}})
    figure.add_heatmap(z=z, x=list(MONTHS), y=[str(year) for year in years], text=text, texttemplate="%{text}",
                       colorscale="RdYlGn", zmid=0, colorbar={"title": "%"},
                       hovertemplate="%{y} %{x}: %{z:.2f}%<extra></extra>")
    return figure
