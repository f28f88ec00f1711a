"""Equity curve, drawdown and performance metrics against small hand-computed cases."""

from __future__ import annotations

import math
import statistics
import tracemalloc
from dataclasses import fields
from datetime import timedelta
from decimal import Decimal

import pytest

from services.portfolio.domain import ClosedTrade, DrawdownTracker, EquityCurve, compute_metrics, infer_periods_per_year
from shared.contracts import Side

from .factories import day

D = Decimal
SERIES = [100.0, 120.0, 90.0, 125.0, 124.0, 123.0, 122.0, 126.0]


def curve_of(values: list[float], step: timedelta = timedelta(days=1), in_market: list[bool] | None = None
             ) -> EquityCurve:
    curve = EquityCurve()
    for i, value in enumerate(values):
        curve.record(day(0) + i * step, value, in_market=bool(in_market and in_market[i]))
    return curve


def trade(net: str) -> ClosedTrade:
    return ClosedTrade("s", "ORCL", Side.BUY, D(1), day(0), D(10), day(1), D(10) + D(net), D(net), D(0))


def test_metrics_of_a_known_series_match_independent_computation() -> None:
    returns = [b / a - 1 for a, b in zip(SERIES, SERIES[1:])]
    mean, stdev = statistics.mean(returns), statistics.stdev(returns)
    downside = math.sqrt(sum(min(r, 0) ** 2 for r in returns) / len(returns))
    years = 7 / 365.25

    m = compute_metrics(curve_of(SERIES), [], periods_per_year=252)

    assert m.total_return == pytest.approx(0.26)
    assert m.cagr == pytest.approx(1.26 ** (1 / years) - 1)
    assert m.annualized_volatility == pytest.approx(stdev * math.sqrt(252))
    assert m.sharpe == pytest.approx(mean / stdev * math.sqrt(252))
    assert m.sortino == pytest.approx(mean / downside * math.sqrt(252))
    assert m.calmar == pytest.approx(m.cagr / 0.25)


def test_max_drawdown_is_the_deepest_fall_and_duration_the_longest_time_under_a_peak() -> None:
    m = compute_metrics(curve_of(SERIES), [], periods_per_year=252)

    assert m.max_drawdown == pytest.approx(0.25)  # 120 -> 90
    assert m.max_drawdown_duration_bars == 4  # 125 on day 3, regained on day 7
    assert m.max_drawdown_duration == timedelta(days=4)


def test_a_drawdown_never_recovered_lasts_until_the_last_point() -> None:
    m = compute_metrics(curve_of([100.0, 110.0, 105.0, 100.0, 104.0]), [], periods_per_year=252)

    assert m.max_drawdown == pytest.approx(10 / 110)
    assert m.max_drawdown_duration_bars == 3


def test_trade_statistics_use_net_pnl() -> None:
    trades = [trade("30"), trade("-10"), trade("20"), trade("-5")]

    m = compute_metrics(curve_of(SERIES), trades, periods_per_year=252)

    assert (m.trade_count, m.win_rate, m.profit_factor) == (4, 0.5, pytest.approx(50 / 15))


def test_exposure_is_the_share_of_points_in_the_market_and_turnover_notional_over_mean_equity() -> None:
    flags = [False, True, True, True, False, False, False, False]

    m = compute_metrics(curve_of(SERIES, in_market=flags), [], periods_per_year=252, traded_notional=D(2000))

    assert m.exposure == pytest.approx(3 / 8)
    assert m.turnover == pytest.approx(2000 / statistics.mean(SERIES))


@pytest.mark.parametrize("values", [[], [100.0], [100.0, 100.0, 100.0], [100.0, 0.0, 50.0]])
def test_degenerate_curves_give_none_never_nan_or_inf(values: list[float]) -> None:
    m = compute_metrics(curve_of(values), [])

    for field in fields(m):
        value = getattr(m, field.name)
        assert not (isinstance(value, float) and not math.isfinite(value)), field.name
    assert (m.sharpe, m.sortino, m.win_rate, m.profit_factor) == (None, None, None, None)


def test_a_flat_curve_has_zero_volatility_and_no_drawdown() -> None:
    m = compute_metrics(curve_of([100.0] * 5), [], periods_per_year=252)

    assert (m.total_return, m.annualized_volatility, m.max_drawdown, m.max_drawdown_duration_bars) == (0, 0, 0, 0)


def test_profit_factor_without_a_losing_trade_is_none() -> None:
    m = compute_metrics(curve_of(SERIES), [trade("5")], periods_per_year=252)

    assert (m.win_rate, m.profit_factor) == (1.0, None)


@pytest.mark.parametrize(
    ("step", "points", "expected"),
    [
        (timedelta(days=1), 30, 252),
        (timedelta(weeks=1), 30, 52),
        (timedelta(days=30), 30, 12),
        (timedelta(hours=1), 24 * 10, 252 * 24),
    ],
)
def test_periods_per_year_are_inferred_from_the_spacing(step: timedelta, points: int, expected: float) -> None:
    assert infer_periods_per_year(curve_of([100.0] * points, step).micros) == pytest.approx(expected)


def test_periods_per_year_of_session_bars_count_points_per_trading_day() -> None:
    curve = EquityCurve()
    for session in range(5):
        for bar in range(78):  # 6.5 hours of 5-minute bars
            curve.record(day(session) + timedelta(minutes=5 * bar), 100.0)

    assert infer_periods_per_year(curve.micros) == pytest.approx(252 * 78)


def test_a_point_at_the_same_time_replaces_the_last_and_an_older_one_is_ignored() -> None:
    curve = curve_of([100.0, 101.0])

    curve.record(day(1), 105.0, in_market=True)
    curve.record(day(0), 1.0)

    assert list(curve.points()) == [(day(0), 100.0), (day(1), 105.0)]
    assert curve.in_market_count() == 1


def test_a_large_curve_costs_well_under_fifty_bytes_a_point() -> None:
    points = 100_000
    stamps = [day(0) + timedelta(minutes=i) for i in range(points)]
    tracemalloc.start()
    try:
        curve = EquityCurve()
        for i, ts in enumerate(stamps):
            curve.record(ts, 100.0 + i % 17, in_market=bool(i % 2))
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(curve) == points
    assert used / points < 25


def test_drawdown_tracker_follows_the_peak_exactly() -> None:
    tracker = DrawdownTracker()
    assert tracker.drawdown == 0

    assert tracker.update(D("100000"))
    assert not tracker.update(D("97500.5"))

    assert tracker.peak == D("100000")
    assert tracker.drawdown == D("0.024995")
    tracker.reset(D("97500.5"))
    assert (tracker.peak, tracker.drawdown) == (D("97500.5"), 0)
