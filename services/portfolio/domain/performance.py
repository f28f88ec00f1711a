"""Performance metrics of an equity curve and its closed trades.

Definitions (returns are simple per-point returns of the curve, the risk-free rate is zero):
- total return: last / first equity - 1; CAGR: (last / first) ** (1 / years) - 1 over calendar time
  (365.25-day years);
- annualised volatility: sample standard deviation of returns times sqrt(periods per year);
- Sharpe: mean return / its sample standard deviation times sqrt(periods per year);
- Sortino: mean return / downside deviation (root mean square of the negative returns over all periods)
  times sqrt(periods per year);
- max drawdown and its duration: see ``DrawdownStats``; Calmar: CAGR / max drawdown;
- win rate: share of trades with positive net P&L; profit factor: sum of winning net P&L / |sum of losing|;
- exposure: share of points recorded with a position open; turnover: traded notional / mean equity over the
  whole period (not annualised).
A value that is undefined for the data (no trades, a flat curve, a single point) is ``None``, never NaN or inf.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import islice
from statistics import median
from typing import Any

from .equity import EquityCurve, drawdown_stats, from_micros
from .positions import ClosedTrade

TRADING_DAYS_PER_YEAR = 252
_MICROS_PER_DAY = 86_400_000_000
_DAYS_PER_YEAR = 365.25
_SPACING_SAMPLE = 10_001


@dataclass(frozen=True, slots=True)
class PerformanceMetrics:
    """Summary statistics of one run; every ratio is a plain fraction (0.05 is 5%)."""

    start: datetime | None
    end: datetime | None
    points: int
    periods_per_year: float | None
    starting_equity: float | None
    final_equity: float | None
    total_return: float | None
    cagr: float | None
    annualized_volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None
    max_drawdown_duration: timedelta | None
    max_drawdown_duration_bars: int | None
    calmar: float | None
    win_rate: float | None
    profit_factor: float | None
    exposure: float | None
    turnover: float | None
    trade_count: int

    def as_dict(self) -> dict[str, Any]:
        """Return the metrics as a plain dict (for printing or JSON)."""
        return asdict(self)


def infer_periods_per_year(micros: Sequence[int]) -> float | None:
    """Guess how many points make a year from their spacing: daily 252, weekly 52, monthly 12.

    Intraday data counts 252 trading days times the median number of points per calendar day (UTC) that has
    data, so 5-minute equity bars (78 a session) and hourly FX bars (24 a day) both come out right.
    """
    if len(micros) < 2:
        return None
    head = micros[:_SPACING_SAMPLE]
    typical_days = median(b - a for a, b in zip(head, islice(head, 1, None))) / _MICROS_PER_DAY
    if typical_days >= 25:
        return 12.0
    if typical_days >= 5:
        return 52.0
    if typical_days >= 20 / 24:
        return float(TRADING_DAYS_PER_YEAR)
    per_day = Counter(m // _MICROS_PER_DAY for m in micros)
    return TRADING_DAYS_PER_YEAR * float(median(per_day.values()))


def compute_metrics(
    curve: EquityCurve,
    trades: Sequence[ClosedTrade],
    *,
    periods_per_year: float | None = None,
    traded_notional: Decimal | None = None,
) -> PerformanceMetrics:
    """Compute the performance metrics of ``curve`` and ``trades`` (see the module docstring for definitions)."""
    micros, values = curve.micros, curve.equities
    ppy = periods_per_year or infer_periods_per_year(micros)
    returns = _returns(values)
    mean, stdev, downside = _moments(returns)
    drawdown = drawdown_stats(curve)
    cagr = _cagr(micros, values)
    annual = math.sqrt(ppy) if ppy else None
    return PerformanceMetrics(
        start=from_micros(micros[0]) if micros else None,
        end=from_micros(micros[-1]) if micros else None,
        points=len(values),
        periods_per_year=ppy,
        starting_equity=values[0] if values else None,
        final_equity=values[-1] if values else None,
        total_return=_finite(values[-1] / values[0] - 1) if len(values) and values[0] > 0 else None,
        cagr=cagr,
        annualized_volatility=_finite(stdev * annual) if stdev is not None and annual else None,
        sharpe=_ratio(mean, stdev, annual),
        sortino=_ratio(mean, downside, annual),
        max_drawdown=drawdown.max_drawdown if drawdown else None,
        max_drawdown_duration=drawdown.max_drawdown_duration if drawdown else None,
        max_drawdown_duration_bars=drawdown.max_drawdown_duration_bars if drawdown else None,
        calmar=_ratio(cagr, drawdown.max_drawdown if drawdown else None, 1.0),
        win_rate=_win_rate(trades),
        profit_factor=_profit_factor(trades),
        exposure=curve.in_market_count() / len(curve) if len(curve) else None,
        turnover=_turnover(traded_notional, values),
        trade_count=len(trades),
    )


def _returns(values: array[float]) -> array[float]:
    if len(values) < 2 or any(v <= 0 for v in islice(values, len(values) - 1)):
        return array("d")  # a non-positive equity makes simple returns meaningless
    return array("d", (b / a - 1.0 for a, b in zip(values, islice(values, 1, None))))


def _moments(returns: array[float]) -> tuple[float | None, float | None, float | None]:
    n = len(returns)
    if n < 2:
        return None, None, None
    mean = math.fsum(returns) / n
    variance = math.fsum((r - mean) ** 2 for r in returns) / (n - 1)
    downside = math.sqrt(math.fsum(r * r for r in returns if r < 0) / n)
    return mean, math.sqrt(variance), downside


def _cagr(micros: array[int], values: array[float]) -> float | None:
    if len(values) < 2 or values[0] <= 0 or values[-1] <= 0:
        return None
    years = (micros[-1] - micros[0]) / _MICROS_PER_DAY / _DAYS_PER_YEAR
    if years <= 0:
        return None
    try:
        return _finite((values[-1] / values[0]) ** (1 / years) - 1)
    except OverflowError:
        return None


def _ratio(numerator: float | None, denominator: float | None, scale: float | None) -> float | None:
    if numerator is None or not denominator or scale is None:
        return None
    return _finite(numerator / denominator * scale)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _win_rate(trades: Sequence[ClosedTrade]) -> float | None:
    if not trades:
        return None
    return sum(1 for t in trades if t.net_pnl > 0) / len(trades)


def _profit_factor(trades: Sequence[ClosedTrade]) -> float | None:
    wins = sum((t.net_pnl for t in trades if t.net_pnl > 0), Decimal(0))
    losses = -sum((t.net_pnl for t in trades if t.net_pnl < 0), Decimal(0))
    return float(wins / losses) if losses else None


def _turnover(traded_notional: Decimal | None, values: array[float]) -> float | None:
    if traded_notional is None or not values:
        return None
    mean_equity = math.fsum(values) / len(values)
    return _finite(float(traded_notional) / mean_equity) if mean_equity > 0 else None
