"""Indicators against straightforward recomputation from the whole window, and against published values."""

from __future__ import annotations

import math
import random
import statistics
from decimal import Decimal

import pytest

from services.strategy.domain import EMA, RSI, SMA, RollingStd


def random_prices(count: int, *, seed: int = 1, start: float = 50.0) -> list[Decimal]:
    rng = random.Random(seed)
    prices, price = [], start
    for _ in range(count):
        price = max(0.01, price + rng.gauss(0, 0.5))
        prices.append(Decimal(f"{price:.6f}"))
    return prices


@pytest.mark.parametrize("indicator", [SMA(3), EMA(3), RollingStd(3), RSI(2)])
def test_indicator_is_not_ready_and_has_no_value_until_its_window_fills(indicator):
    assert indicator.update(Decimal(1)) is None
    assert indicator.update(Decimal(2)) is None
    assert (indicator.ready, indicator.value) == (False, None)

    value = indicator.update(Decimal(4))

    assert value is not None and indicator.ready and indicator.value == value


@pytest.mark.parametrize("make", [SMA, EMA, RollingStd, RSI])
@pytest.mark.parametrize("period", [0, -3, 2.5, True])
def test_indicator_rejects_a_period_that_is_not_a_positive_integer(make, period):
    with pytest.raises(ValueError, match="period"):
        make(period)


def test_sma_of_decimals_equals_the_exact_mean_of_the_window_over_a_long_run():
    prices = random_prices(20_000)
    sma = SMA(30)

    values = [sma.update(price) for price in prices]

    for t in range(29, len(prices)):
        assert values[t] == sum(prices[t - 29 : t + 1]) / 30
    assert all(isinstance(value, Decimal) for value in values[29:])


def test_sma_of_decimals_detects_equal_averages_exactly():
    fast, slow = SMA(2), SMA(3)
    # (b + c) / 2 == (a + b + c) / 3 exactly when b + c == 2a: 0.1 + 0.5 == 2 * 0.3.
    for price in ("0.3", "0.1", "0.5"):
        last_fast, last_slow = fast.update(Decimal(price)), slow.update(Decimal(price))

    assert last_fast - last_slow == 0


def test_sma_of_floats_does_not_drift_over_a_long_run():
    rng = random.Random(3)
    values = [1e6 + rng.random() for _ in range(200_000)]
    sma = SMA(7)

    for value in values:
        last = sma.update(value)

    assert last == pytest.approx(math.fsum(values[-7:]) / 7, rel=1e-15)


def test_ema_seeds_with_the_sma_then_moves_by_alpha():
    ema = EMA(3)  # alpha = 0.5

    values = [ema.update(value) for value in (1, 2, 3, 4, 5, 0)]

    assert values == [None, None, 2.0, 3.0, 4.0, 2.0]


def test_ema_matches_its_recurrence_recomputed_from_scratch():
    prices = random_prices(500, seed=5)
    period, alpha = 12, 2 / 13
    ema = EMA(period)

    values = [ema.update(price) for price in prices]

    expected = statistics.fmean(float(p) for p in prices[:period])
    assert values[period - 1] == pytest.approx(expected, rel=1e-12)
    for t in range(period, len(prices)):
        expected = alpha * float(prices[t]) + (1 - alpha) * expected
        assert values[t] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("ddof", "reference"), [(0, statistics.pstdev), (1, statistics.stdev)])
def test_rolling_std_matches_the_deviation_of_each_window(ddof, reference):
    prices = [float(p) for p in random_prices(3_000, seed=9)]
    std = RollingStd(20, ddof=ddof)

    values = [std.update(price) for price in prices]

    for t in range(19, len(prices)):
        assert values[t] == pytest.approx(reference(prices[t - 19 : t + 1]), rel=1e-9, abs=1e-12)


def test_rolling_std_stays_accurate_for_small_moves_on_a_large_level():
    # Float resolution at 1e7 is ~2e-9, so ~1e-6 relative is the floor here; a sum-of-squares update is far off.
    rng = random.Random(11)
    prices = [1e7 + rng.random() * 1e-2 for _ in range(50_000)]
    std = RollingStd(10)

    values = [std.update(price) for price in prices]

    for t in range(len(prices) - 1_000, len(prices)):
        assert values[t] == pytest.approx(statistics.pstdev(prices[t - 9 : t + 1]), rel=1e-5)


def test_rolling_std_of_a_constant_series_is_zero():
    std = RollingStd(5)

    values = [std.update(Decimal("101.25")) for _ in range(23)]

    assert values[4:] == [0.0] * 19


# Wilder's worked example as published by StockCharts ("Relative Strength Index", ChartSchool): closes and RSI(14).
STOCKCHARTS_CLOSES = [
    44.3389,
    44.0902,
    44.1497,
    43.6124,
    44.3278,
    44.8264,
    45.0955,
    45.4245,
    45.8433,
    46.0826,
    45.8931,
    46.0328,
    45.6140,
    46.2820,
    46.2820,
    46.0028,
    46.0328,
    46.4116,
    46.2222,
    45.6439,
    46.2122,
    46.2521,
    45.7137,
    46.4515,
    45.7835,
    45.3548,
    44.0288,
    44.1783,
    44.2181,
    44.5672,
    43.4205,
    42.6628,
    43.1314,
]
STOCKCHARTS_RSI = [
    70.53,
    66.32,
    66.55,
    69.41,
    66.36,
    57.97,
    62.93,
    63.26,
    56.06,
    62.38,
    54.71,
    50.42,
    39.99,
    41.46,
    41.87,
    45.46,
    37.30,
    33.08,
    37.77,
]


def test_rsi_reproduces_the_published_wilder_example():
    rsi = RSI(14)

    values = [rsi.update(close) for close in STOCKCHARTS_CLOSES]

    assert values[:14] == [None] * 14
    assert [round(value, 2) for value in values[14:]] == STOCKCHARTS_RSI


def reference_rsi(prices: list[float], period: int) -> list[float]:
    changes = [b - a for a, b in zip(prices, prices[1:], strict=False)]
    gains = [max(change, 0.0) for change in changes]
    losses = [max(-change, 0.0) for change in changes]
    gain, loss = sum(gains[:period]) / period, sum(losses[:period]) / period
    result = [100 - 100 / (1 + gain / loss)]
    for up, down in zip(gains[period:], losses[period:], strict=True):
        gain, loss = (gain * (period - 1) + up) / period, (loss * (period - 1) + down) / period
        result.append(100 - 100 / (1 + gain / loss))
    return result


def test_rsi_matches_wilder_smoothing_recomputed_from_scratch():
    prices = [float(p) for p in random_prices(2_000, seed=13)]
    rsi = RSI(9)

    values = [rsi.update(price) for price in prices]

    assert values[9:] == pytest.approx(reference_rsi(prices, 9), rel=1e-9)


def test_rsi_is_100_without_losses_and_50_without_any_movement():
    rising, flat = RSI(3), RSI(3)

    for step in range(6):
        rising.update(10 + step)
        flat.update(10)

    assert (rising.value, flat.value) == (100.0, 50.0)
