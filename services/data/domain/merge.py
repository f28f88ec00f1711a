"""Merge several time-ordered message streams into one, lazily and deterministically."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import TypeVar

M = TypeVar("M")

merge_key = attrgetter("ts_event", "symbol")
"""The merge order: event time, then symbol."""


def merge_in_time_order(streams: Iterable[Iterable[M]]) -> Iterator[M]:
    """Yield the messages of ``streams`` (each already in time order) in time order, one at a time.

    Equal timestamps come out by symbol, then in the order of ``streams``, so a replay is the same on every run.
    Nothing is read ahead beyond one message per stream.
    """
    streams = list(streams)
    if len(streams) == 1:
        return iter(streams[0])
    return heapq.merge(*streams, key=merge_key)
