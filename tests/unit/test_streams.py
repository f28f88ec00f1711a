"""Every consumer of market events drops a repeated or older event of a stream, and only of that stream."""

from __future__ import annotations

from shared.contracts import StreamPositions, stream_of
from tests.factories import bar, tick


def test_an_event_is_new_once_and_a_repeat_or_an_older_one_is_not():
    positions = StreamPositions()

    assert positions.advance(bar(sequence=1)) and positions.advance(bar(sequence=2))
    assert not positions.advance(bar(sequence=2))
    assert not positions.advance(bar(sequence=1))
    assert positions.last(stream_of(bar())) == 2


def test_streams_are_told_apart_by_source_type_symbol_and_timeframe():
    positions = StreamPositions([(stream_of(bar()), 5)])

    assert not positions.is_new(bar(sequence=5))
    for other in (bar(sequence=1, source="data:other.csv"), bar(sequence=1, symbol="GOOG"),
                  bar(sequence=1, timeframe="1h"), tick(sequence=1)):
        assert positions.is_new(other), other


def test_an_event_without_a_sequence_is_always_new_and_moves_nothing():
    positions = StreamPositions([(stream_of(bar()), 5)])

    assert positions.advance(bar()) and positions.advance(bar())
    assert dict(positions.items()) == {stream_of(bar()): 5}


def test_a_gap_is_accepted_so_a_consumer_that_sees_only_some_events_of_a_stream_still_advances():
    positions = StreamPositions()

    assert positions.advance(bar(sequence=3)) and positions.advance(bar(sequence=10))
    assert not positions.is_new(bar(sequence=4))
