"""The crossover rule of sma_cross: when it is evaluated, how exact ties are handled, long-only versus short."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.strategy.domain import SmaCrossParams
from shared.contracts import Direction, OrderType

from .factories import make_bars, run_bars, sma_cross_engine

# With fast=1 and slow=2, diff[t] = close[t] - (close[t-1] + close[t]) / 2 = (close[t] - close[t-1]) / 2:
# its sign is the sign of the close's change, and an unchanged close is an exact tie.


def directions(closes, **params) -> list[tuple[int, Direction]]:
    engine = sma_cross_engine(**({"fast": 1, "slow": 2} | params))
    return [(index, intent.direction) for index, intent in run_bars(engine, make_bars(closes))]


def test_a_rise_after_a_fall_is_an_up_cross():
    assert directions([10, 9, 10]) == [(2, Direction.LONG)]


def test_a_tie_then_continuing_in_the_same_direction_is_no_cross():
    assert directions([10, 9, 9, 8]) == []


def test_a_tie_then_reversing_crosses_against_the_last_non_zero_diff():
    assert directions([10, 9, 9, 10]) == [(3, Direction.LONG)]


def test_several_ties_then_reversing_still_cross():
    assert directions([10, 9, 9, 9, 9, 10, 10, 9]) == [(5, Direction.LONG), (7, Direction.EXIT)]


def test_a_tie_after_a_rise_then_falling_is_a_down_cross():
    assert directions([10, 9, 10, 10, 9]) == [(2, Direction.LONG), (4, Direction.EXIT)]


def test_averages_equal_in_decimal_but_not_in_binary_floats_are_a_tie():
    # At the last bar SMA(2) = (2.2 + 5.02) / 2 = 3.61 = (3.61 + 2.2 + 5.02) / 3 = SMA(3); floats differ by 4e-16.
    assert directions(["4", "3.61", "2.2", "5.02"], fast=2, slow=3) == []


def test_no_cross_without_a_non_zero_diff_before_it():
    # diff is 0 at the first bar where the slow SMA is defined, so the rise at bar 2 has nothing to cross.
    assert directions([10, 10, 11, 10]) == []


def test_long_only_ignores_a_down_cross_while_it_has_not_asked_to_be_long():
    assert directions([9, 10, 9, 10, 9]) == [(3, Direction.LONG), (4, Direction.EXIT)]


def test_allow_short_turns_every_down_cross_into_a_short():
    assert directions([9, 10, 9, 10, 9], allow_short=True) == [
        (2, Direction.SHORT),
        (3, Direction.LONG),
        (4, Direction.SHORT),
    ]


def closes_crossing_up_at(bar: int, *, slow: int = 30) -> list[Decimal]:
    """Falling closes, then a jump at ``bar`` (0-based) that lifts SMA(10) above SMA(30)."""
    closes = [Decimal(200 - index) for index in range(bar)] + [Decimal(400)]
    return closes + [Decimal(400)] * (slow - len(closes) + 5)


def test_the_first_evaluation_is_the_31st_bar():
    engine = sma_cross_engine()

    signals = run_bars(engine, make_bars(closes_crossing_up_at(30)))

    assert [(index, intent.direction) for index, intent in signals] == [(30, Direction.LONG)]


def test_a_cross_at_the_30th_bar_is_not_evaluated_because_the_slow_sma_was_undefined_before():
    engine = sma_cross_engine()

    signals = run_bars(engine, make_bars(closes_crossing_up_at(29)))

    assert signals == []


def test_a_signal_carries_the_bar_identity_time_and_close_as_a_market_order():
    bars = make_bars([10, 9, 10])

    [(_, intent)] = run_bars(sma_cross_engine(fast=1, slow=2), bars)

    assert (intent.strategy_id, intent.symbol, intent.ts_event) == ("sma", "ORCL", bars[2].ts_event)
    assert (intent.order_type, intent.reference_price, intent.limit_price) == (OrderType.MARKET, Decimal(10), None)


def test_warmup_bars_is_the_slow_period():
    assert sma_cross_engine(fast=5, slow=21).warmup_bars("ORCL") == 21


@pytest.mark.parametrize(("fast", "slow"), [(30, 30), (31, 30), (0, 30)])
def test_config_rejects_a_fast_period_that_is_not_below_slow_or_positive(fast, slow):
    with pytest.raises(ValueError):
        SmaCrossParams(fast=fast, slow=slow)
