"""History of recent bars per symbol, to warm strategies up."""

from __future__ import annotations

import pytest

from services.data.domain import AmbiguousTimeframe, BarHistory
from tests.factories import bar, bars


def test_last_n_returns_the_most_recent_bars_oldest_first() -> None:
    history = BarHistory(maxlen=100)
    orcl = bars(10, "ORCL")
    for b in orcl:
        history.append(b)

    assert history.last("ORCL", 3) == orcl[-3:]


def test_old_bars_fall_off_beyond_maxlen() -> None:
    history = BarHistory(maxlen=4)
    orcl = bars(10, "ORCL")
    for b in orcl:
        history.append(b)

    assert history.last("ORCL", 100) == orcl[-4:]


def test_symbols_are_kept_apart() -> None:
    history = BarHistory(maxlen=10)
    orcl, goog = bars(5, "ORCL"), bars(2, "GOOG")
    for b in orcl + goog:
        history.append(b)

    assert history.last("GOOG", 5) == goog and history.last("ORCL", 1) == orcl[-1:]
    assert history.symbols() == ["GOOG", "ORCL"]


@pytest.mark.parametrize("symbol, n", [("MSFT", 5), ("ORCL", 0), ("ORCL", -1)])
def test_an_unknown_symbol_or_a_non_positive_count_gives_nothing(symbol, n) -> None:
    history = BarHistory(maxlen=10)
    history.append(bar())

    assert history.last(symbol, n) == []


def test_a_symbol_with_several_timeframes_needs_one_named() -> None:
    history = BarHistory(maxlen=10)
    daily, hourly = bar(timeframe="1d"), bar(timeframe="1h")
    history.append(daily)
    history.append(hourly)

    assert history.last("ORCL", 5, "1h") == [hourly]
    with pytest.raises(AmbiguousTimeframe, match=r"\['1d', '1h'\]"):
        history.last("ORCL", 5)


def test_the_returned_list_is_a_copy() -> None:
    history = BarHistory(maxlen=10)
    history.append(bar())

    history.last("ORCL", 5).clear()

    assert len(history.last("ORCL", 5)) == 1


def test_maxlen_must_be_positive() -> None:
    with pytest.raises(ValueError):
        BarHistory(maxlen=0)
