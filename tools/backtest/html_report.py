"""``--report``: one self-contained HTML file of a backtest (plotly.js inline, so it opens offline)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from . import charts
from .engine import BacktestConfig, BacktestResult
from .views import METRICS, benchmark_view, metrics_view, position_row, run_view, shown, symbol_rows, trade_rows

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1320px;
       padding: 16px 24px; color: #222; }
h1 { font-size: 22px; margin: 8px 0; } h2 { font-size: 17px; margin: 24px 0 8px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e5e5e5; text-align: right; white-space: nowrap; }
th { background: #f6f6f6; position: sticky; top: 0; } td.l, th.l { text-align: left; }
.grid { display: flex; flex-wrap: wrap; gap: 40px; align-items: flex-start; }
.run td.l + td.l { white-space: normal; max-width: 640px; }
.scroll { max-height: 480px; overflow: auto; border: 1px solid #e5e5e5; }
.neg { color: #c0392b; } .pos { color: #1e8449; } .muted { color: #777; font-size: 12px; }
"""
_RUN_LABELS = {"strategy": "strategy", "params": "parameters", "data": "data files", "symbols": "symbols",
               "first_bar": "first bar", "last_bar": "last bar", "bars": "bars", "timeframe": "timeframe",
               "cash": "starting cash"}
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def write_html_report(result: BacktestResult, config: BacktestConfig, path: Path) -> Path:
    """Write the report of ``result`` (run as ``config``) to ``path`` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html_report(result, config), encoding="utf-8")
    return path


def render_html_report(result: BacktestResult, config: BacktestConfig) -> str:
    """Return the report as one HTML document: what ran, metrics, equity, drawdown, prices, months, trades."""
    cash = config.cash
    figures = [("equity", charts.equity_figure(result, cash)), ("drawdown", charts.drawdown_figure(result))]
    figures += [(f"price-{i}", charts.price_figure(result, symbol))
                for i, symbol in enumerate(sorted(result.prices)) if len(result.prices[symbol])]
    figures.append(("monthly", charts.monthly_figure(result)))
    symbols = symbol_rows(result, cash)
    body = [f"<h1>Backtest: {escape(config.strategy)} on {escape(', '.join(config.symbols))}</h1>",
            '<div class="grid">', _run_table(run_view(config, result)), _metrics_table(result, config), "</div>",
            *(_figure(name, figure) for name, figure in figures)]
    if len(symbols) > 1:
        body += ["<h2>Per symbol</h2>", _table(symbols, _SYMBOL_COLUMNS)]
    if result.open_positions:
        body += ["<h2>Open positions</h2>",
                 _table([position_row(p) for p in result.open_positions], _POSITION_COLUMNS)]
    trades = trade_rows(result)
    body += [f"<h2>Trades ({len(trades):,})</h2>", f'<div class="scroll">{_table(trades, _TRADE_COLUMNS)}</div>',
             '<p class="muted">Made by <code>tradebus backtest --report</code>. Metrics: percent and calendar days; '
             "buy and hold splits the starting cash evenly over the symbols at their first price.</p>"]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>tradebus backtest: {escape(config.strategy)}</title><style>{_STYLE}</style>"
            f'<script type="text/javascript">{get_plotlyjs()}</script></head>\n<body>\n'
            + "\n".join(body) + "\n</body></html>\n")


def _figure(name: str, figure: go.Figure) -> str:
    html = figure.to_html(full_html=False, include_plotlyjs=False, div_id=name, config=_PLOT_CONFIG)
    return f'<section id="section-{name}">{html}</section>'


def _run_table(run: dict[str, Any]) -> str:
    rows = [(label, run.get(key)) for key, label in _RUN_LABELS.items() if key in run]
    rows += [(key.replace("_", " "), value) for key, value in run.items() if key not in _RUN_LABELS]
    cells = "".join(f'<tr><td class="l">{escape(label)}</td><td class="l">{escape(_setting(value))}</td></tr>'
                    for label, value in rows)
    return f'<div class="run"><h2>What ran</h2><table>{cells}</table></div>'


def _setting(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_setting(v)}" for k, v in value.items()) or "(defaults)"
    if isinstance(value, list):
        return ", ".join(_setting(v) for v in value)
    return "-" if value is None else str(value)


def _metrics_table(result: BacktestResult, config: BacktestConfig) -> str:
    view, held = metrics_view(result), benchmark_view(result, config.cash)
    rows = [("final value", shown(float(result.final_value), "money")),
            ("buy and hold final value", shown(held["final_value"], "money")),
            ("buy and hold return", shown(held["total_return_pct"], "pct")), ("fills", f"{result.fills:,}")]
    rows += [(metric.label, shown(view[metric.key], metric.unit)) for metric in METRICS]
    cells = "".join(f'<tr><td class="l">{escape(label)}</td><td>{escape(value)}</td></tr>' for label, value in rows)
    return f"<div><h2>Metrics</h2><table>{cells}</table></div>"


_TRADE_COLUMNS = (("symbol", "symbol"), ("side", "side"), ("quantity", "qty"), ("entry_date", "entry"),
                  ("entry_price", "entry price"), ("exit_date", "exit"), ("exit_price", "exit price"),
                  ("duration_days", "days"), ("net_pnl", "net P&L"), ("return_pct", "return %"),
                  ("commission", "commission"), ("exit_reason", "exit reason"))
_SYMBOL_COLUMNS = (("symbol", "symbol"), ("bars", "bars"), ("closed_trades", "trades"),
                   ("win_rate_pct", "win rate %"), ("net_pnl", "net P&L"), ("net_pnl_pct_of_cash", "% of cash"),
                   ("unrealized_pnl", "unrealised"), ("open_quantity", "open qty"),
                   ("buy_and_hold_return_pct", "buy and hold %"))
_POSITION_COLUMNS = (("symbol", "symbol"), ("quantity", "qty"), ("entry_date", "since"),
                     ("entry_price", "entry price"), ("market_price", "last price"),
                     ("unrealized_pnl", "unrealised P&L"))
_SIGNED = {"net_pnl", "return_pct", "unrealized_pnl", "net_pnl_pct_of_cash", "buy_and_hold_return_pct"}
_TEXT = {"symbol", "side", "entry_date", "exit_date", "exit_reason"}


def _table(rows: list[dict[str, Any]], columns: tuple[tuple[str, str], ...]) -> str:
    head = "".join(f'<th class="{"l" if key in _TEXT else ""}">{escape(label)}</th>' for key, label in columns)
    lines = []
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row.get(key)
            css = "l" if key in _TEXT else ("neg" if value < 0 else "pos") if key in _SIGNED and value else ""
            text = "-" if value is None else f"{value:,.2f}" if isinstance(value, float) else str(value)
            cells.append(f'<td class="{css}">{escape(text)}</td>')
        lines.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"
