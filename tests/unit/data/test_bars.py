"""Bars from trades: intervals, closing on time or by a later trade, late trades, flat bars, stable ids."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.data.domain.bars import BarBuilder, closed_bar, from_ms, timeframe_ms, to_ms

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)
GRACE = timedelta(seconds=2)


def builder(timeframe: str = "1m", grace: timedelta = GRACE) -> BarBuilder:
    return BarBuilder("BTC/USDT", timeframe, late_trade_grace=grace, source="data:test")


def ohlcv(bar) -> tuple:  # type: ignore[no-untyped-def]
    return bar.ts_event, bar.open, bar.high, bar.low, bar.close, bar.volume


@pytest.mark.parametrize(("label", "ms"), [("1s", 1_000), ("1m", 60_000), ("5m", 300_000), ("1h", 3_600_000),
                                           ("4h", 14_400_000), ("1d", 86_400_000)])
def test_timeframes_parse_to_milliseconds(label: str, ms: int) -> None:
    assert timeframe_ms(label) == ms


@pytest.mark.parametrize("label", ["", "m", "0m", "1w", "1M", "1.5h", "1 m", "60"])
def test_an_unknown_timeframe_is_refused_naming_the_accepted_forms(label: str) -> None:
    with pytest.raises(ValueError, match="<n>m"):
        timeframe_ms(label)


def test_trades_of_one_interval_make_one_bar_closed_when_the_clock_passes_its_end_and_grace() -> None:
    bars = builder()
    for seconds, price, size in [(1, "100", "1"), (20, "105", "2"), (40, "98", "1"), (59, "101", "0.5")]:
        assert bars.add(T0 + timedelta(seconds=seconds), Decimal(price), Decimal(size)).bars == []

    assert bars.close_due(T0 + MINUTE + GRACE - timedelta(milliseconds=1)) == []
    [bar] = bars.close_due(T0 + MINUTE + GRACE)

    assert ohlcv(bar) == (T0, 100, 105, 98, 101, Decimal("4.5"))
    assert bar.sequence == to_ms(T0) // 60_000 and bar.timeframe == "1m" and bar.symbol == "BTC/USDT"


def test_a_trade_of_a_later_bar_within_the_grace_keeps_the_bar_open_after_it_closes_it() -> None:
    bars = builder()
    bars.add(T0 + timedelta(seconds=30), Decimal(100), Decimal(1))

    assert bars.add(T0 + MINUTE + timedelta(seconds=1), Decimal(101), Decimal(1)).bars == []
    assert bars.add(T0 + timedelta(seconds=59), Decimal(99), Decimal(1)) == ([], False)  # still in time
    [bar] = bars.add(T0 + MINUTE + GRACE, Decimal(102), Decimal(1)).bars

    assert ohlcv(bar) == (T0, 100, 100, 99, 99, 2)


def test_a_late_trade_is_reported_and_never_reopens_its_bar() -> None:
    bars = builder()
    bars.add(T0, Decimal(100), Decimal(1))
    [closed] = bars.close_due(T0 + MINUTE + GRACE)

    outcome = bars.add(T0 + timedelta(seconds=50), Decimal(500), Decimal(9))

    assert outcome.late and outcome.bars == []
    [after] = bars.close_due(T0 + 2 * MINUTE + GRACE)
    assert ohlcv(after) == (T0 + MINUTE, 100, 100, 100, 100, 0)
    assert closed.close == 100


def test_an_interval_without_trades_closes_flat_at_the_previous_close() -> None:
    bars = builder()
    bars.add(T0 + timedelta(seconds=5), Decimal(100), Decimal(1))
    bars.add(T0 + timedelta(seconds=50), Decimal(103), Decimal(1))

    closed = bars.close_due(T0 + 3 * MINUTE + GRACE)

    assert [ohlcv(bar) for bar in closed] == [(T0, 100, 103, 100, 103, 2),
                                              (T0 + MINUTE, 103, 103, 103, 103, 0),
                                              (T0 + 2 * MINUTE, 103, 103, 103, 103, 0)]
    assert [bar.sequence for bar in closed] == [closed[0].sequence + i for i in range(3)]


def test_no_trade_ever_seen_makes_no_bar() -> None:
    assert builder().close_due(T0 + 10 * MINUTE) == []


def test_a_bar_has_the_same_id_and_sequence_whether_built_from_trades_or_taken_from_a_kline() -> None:
    bars = builder()
    bars.add(T0, Decimal(100), Decimal(1))
    [built] = bars.close_due(T0 + MINUTE + GRACE)

    kline = closed_bar("data:test", "BTC/USDT", "1m", to_ms(T0), Decimal(100), Decimal(100), Decimal(100),
                       Decimal(100), Decimal(1))

    assert (built.message_id, built.sequence) == (kline.message_id, kline.sequence)
    assert built == kline


def test_after_resuming_past_a_bar_published_elsewhere_the_builder_never_emits_it_again() -> None:
    bars = builder()
    bars.add(T0 + timedelta(seconds=10), Decimal(100), Decimal(1))  # a partial bar, before a reconnect
    backfilled = closed_bar("data:test", "BTC/USDT", "1m", to_ms(T0), Decimal(100), Decimal(110), Decimal(90),
                            Decimal(107), Decimal(30))

    bars.resume_after(backfilled)

    assert bars.add(T0 + timedelta(seconds=20), Decimal(1), Decimal(1)).late
    [next_bar] = bars.close_due(T0 + 2 * MINUTE + GRACE)
    assert ohlcv(next_bar) == (T0 + MINUTE, 107, 107, 107, 107, 0)
    older = closed_bar("data:test", "BTC/USDT", "1m", to_ms(T0), Decimal(5), Decimal(5), Decimal(5), Decimal(5),
                       Decimal(0))
    bars.resume_after(older)
    assert bars.last_closed_ms == to_ms(T0 + MINUTE) and bars.last_close == 107


def test_daily_bars_open_at_utc_midnight() -> None:
    bars = builder("1d", timedelta(minutes=1))
    bars.add(datetime(2024, 3, 1, 23, 59, tzinfo=timezone.utc), Decimal(100), Decimal(1))

    [bar] = bars.close_due(datetime(2024, 3, 2, 0, 1, tzinfo=timezone.utc))

    assert bar.ts_event == datetime(2024, 3, 1, tzinfo=timezone.utc)


def test_a_grace_as_long_as_the_timeframe_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter"):
        builder("1m", MINUTE)


@given(st.lists(st.tuples(st.integers(0, 600_000), st.integers(1, 1000), st.integers(1, 10)), min_size=1,
                max_size=60))
def test_every_trade_in_time_lands_in_exactly_one_bar_and_bars_are_contiguous(trades) -> None:  # type: ignore[no-untyped-def]
    bars = builder("1m", GRACE)
    closed, late_volume, newest = [], 0, 0
    for offset, price, size in trades:
        newest = max(newest, offset)
        outcome = bars.add(T0 + timedelta(milliseconds=offset), Decimal(price), Decimal(size))
        closed += outcome.bars
        late_volume += size if outcome.late else 0
    closed += bars.close_due(T0 + timedelta(milliseconds=newest) + 2 * MINUTE + GRACE)

    assert sum(bar.volume for bar in closed) + late_volume == sum(size for _, _, size in trades)
    assert [bar.sequence for bar in closed] == list(range(closed[0].sequence, closed[0].sequence + len(closed)))
    assert all(bar.low <= min(bar.open, bar.close) and bar.high >= max(bar.open, bar.close) for bar in closed)
    assert from_ms(to_ms(closed[0].ts_event)) == closed[0].ts_event
