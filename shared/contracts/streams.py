"""Market-data streams and the rule every consumer of market events applies: drop a repeated or older event.

Delivery is at least once: a publisher that restarts republishes what it cannot prove was confirmed, and a
consumer that crashed before its ack is handed the same events again. A market event's stream is (source, type,
symbol, timeframe); its publisher numbers the events of a stream 1, 2, 3, ... (``sequence``), so an event is new
exactly when its sequence is above the last one seen of its stream. An event without a sequence (a test's, a
tool's) is always new.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeAlias

from .market import BarClosed, OrderBookUpdated, QuoteTicked, TradeTicked

MarketEvent: TypeAlias = BarClosed | TradeTicked | QuoteTicked | OrderBookUpdated
StreamKey: TypeAlias = tuple[str, str, str, str]
"""(source, type, symbol, timeframe): timeframe is empty for anything but bars."""


def stream_of(event: MarketEvent) -> StreamKey:
    """Return the stream ``event`` belongs to."""
    values = event.__dict__
    return values["source"], values["type"], values["symbol"], values.get("timeframe", "")


class StreamPositions:
    """The last sequence seen of each stream; decides which events are new."""

    __slots__ = ("_last",)

    def __init__(self, positions: Iterable[tuple[StreamKey, int]] = ()) -> None:
        self._last: dict[StreamKey, int] = dict(positions)

    def is_new(self, event: MarketEvent) -> bool:
        """Return whether ``event`` comes after everything seen of its stream (always, without a sequence)."""
        sequence = event.__dict__["sequence"]
        return sequence is None or sequence > self._last.get(stream_of(event), 0)

    def advance(self, event: MarketEvent) -> bool:
        """Record ``event`` as seen and return ``True`` if it is new; return ``False`` and record nothing if not."""
        sequence = event.__dict__["sequence"]
        if sequence is None:
            return True
        key = stream_of(event)
        if sequence <= self._last.get(key, 0):
            return False
        self._last[key] = sequence
        return True

    def last(self, key: StreamKey) -> int:
        """Return the last sequence seen of stream ``key`` (0 if none)."""
        return self._last.get(key, 0)

    def items(self) -> Iterator[tuple[StreamKey, int]]:
        """Return every stream with its last sequence (what a store persists)."""
        return iter(self._last.items())

    def __len__(self) -> int:
        return len(self._last)
