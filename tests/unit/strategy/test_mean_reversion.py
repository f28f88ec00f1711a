"""mean_reversion: limit entries on stretched z-scores, market exits back at the mean."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.strategy.domain import LoadedStrategy, MeanReversion, MeanReversionParams, StrategyEngine
from shared.contracts import Direction, OrderType

from .factories import make_bars, run_bars

# Four bars at 100, then 90: window of 5 = [100, 100, 100, 100, 90], mean 98, population std 4, z = -2.


def run(closes, **params):
    config = MeanReversionParams(**({"period": 5, "entry_z": 1.5} | params))
    engine = StrategyEngine([LoadedStrategy("mr", MeanReversion, config)])
    return run_bars(engine, make_bars(closes))


def test_a_close_far_below_the_mean_enters_long_with_a_limit_rounded_down_to_the_tick():
    [(index, intent)] = run([100, 100, 100, 100, 90], limit_offset=Decimal("0.0015"))

    assert (index, intent.direction, intent.order_type) == (4, Direction.LONG, OrderType.LIMIT)
    assert (intent.limit_price, intent.reference_price) == (Decimal("89.86"), Decimal(90))  # 89.865 rounded down


def test_it_does_not_enter_again_while_it_wants_to_be_long():
    signals = run([100, 100, 100, 100, 90, 85])

    assert [(index, intent.direction) for index, intent in signals] == [(4, Direction.LONG)]


def test_it_exits_at_market_when_the_z_score_returns_to_the_exit_level():
    signals = run([100, 100, 100, 100, 90, 85, 110])

    assert [(index, i.direction, i.order_type) for index, i in signals] == [
        (4, Direction.LONG, OrderType.LIMIT),
        (6, Direction.EXIT, OrderType.MARKET),
    ]


def test_a_close_far_above_the_mean_is_ignored_unless_shorting_is_allowed():
    closes = [100, 100, 100, 100, 110]

    assert run(closes) == []
    [(_, intent)] = run(closes, allow_short=True, tick_size=Decimal("0.25"))
    assert (intent.direction, intent.limit_price) == (Direction.SHORT, Decimal("110.25"))  # 110.11 rounded up


def test_a_z_score_inside_the_entry_band_does_nothing():
    assert run([100, 100, 100, 100, 90], entry_z=2.5) == []


def test_a_flat_series_has_no_z_score_and_no_signal():
    assert run([100] * 12) == []


@pytest.mark.parametrize("params", [{"exit_z": 2.0}, {"exit_z": -2.5}, {"entry_z": 0}, {"limit_offset": 1}])
def test_config_rejects_inconsistent_thresholds(params):
    with pytest.raises(ValueError):
        MeanReversionParams(**params)
