"""Merging streams: time order, deterministic ties by symbol then stream order, lazy."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from services.data.adapters import CsvBarFeed, MergedFeed, SyntheticBarFeed
from services.data.domain import merge_in_time_order
from tests.factories import bars
from tests.paths import ORCL_SAMPLE, fixture_file

T0 = datetime(2024, 1, 2, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def test_orcl_and_goog_merge_into_one_time_ordered_replay() -> None:
    merged = list(MergedFeed([CsvBarFeed(ORCL_SAMPLE, "ORCL"),
                              CsvBarFeed(fixture_file("goog-2004-2013.csv"), "GOOG")]))

    assert len(merged) == 5036 + 2148
    assert [(bar.ts_event, bar.symbol) for bar in merged] == sorted((bar.ts_event, bar.symbol) for bar in merged)
    assert [bar.symbol for bar in merged if bar.ts_event == datetime(2004, 8, 19, tzinfo=timezone.utc)] == [
        "GOOG", "ORCL"]


def test_equal_timestamps_come_out_by_symbol_whatever_the_stream_order() -> None:
    streams = [bars(3, "ZZZ", T0, DAY), bars(3, "AAA", T0, DAY), bars(2, "MMM", T0 + DAY, DAY)]

    forward = [(bar.ts_event, bar.symbol) for bar in merge_in_time_order(streams)]
    backward = [(bar.ts_event, bar.symbol) for bar in merge_in_time_order(reversed(streams))]

    assert forward == backward == [
        (T0, "AAA"), (T0, "ZZZ"), (T0 + DAY, "AAA"), (T0 + DAY, "MMM"), (T0 + DAY, "ZZZ"),
        (T0 + 2 * DAY, "AAA"), (T0 + 2 * DAY, "MMM"), (T0 + 2 * DAY, "ZZZ")]


def test_equal_timestamp_and_symbol_keep_the_stream_order() -> None:
    first, second = bars(2, "AAA", T0, DAY), bars(2, "AAA", T0, DAY)

    merged = list(merge_in_time_order([first, second]))

    assert [id(bar) for bar in merged] == [id(first[0]), id(second[0]), id(first[1]), id(second[1])]


def test_merging_reads_at_most_one_message_ahead_per_stream() -> None:
    pulled = {"A": 0, "B": 0}

    def counted(symbol: str):
        for bar in SyntheticBarFeed([symbol], count=1_000_000):
            pulled[symbol] += 1
            yield bar

    merged = merge_in_time_order([counted("A"), counted("B")])
    taken = [next(merged) for _ in range(10)]

    assert len(taken) == 10
    assert sum(pulled.values()) <= len(taken) + 2 and max(pulled.values()) <= 6


def test_a_merged_synthetic_replay_is_the_same_every_run() -> None:
    def run() -> list:
        return [(bar.symbol, bar.ts_event, bar.close, bar.message_id)
                for bar in MergedFeed([SyntheticBarFeed(["B", "A"], seed=1, count=50),
                                       SyntheticBarFeed(["C"], seed=2, count=50)])]

    assert run() == run()
    assert [symbol for symbol, *_ in run()[:3]] == ["A", "B", "C"]
