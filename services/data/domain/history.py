"""The bars the data service published, kept to answer history requests (a strategy warming up).

``BarArchive`` is what the handler asks of one: the bars of a symbol older than a time. ``BarHistory`` keeps the
last bars of each stream in memory (the backtester's, where nobody warms up); the service keeps them on disk
(``adapters.archive``), so they outlive a restart and reach back further than the replay runs ahead of its
slowest consumer.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from itertools import islice
from typing import Protocol

from shared.contracts import BarClosed


class BarArchive(Protocol):
    """Published bars by symbol and timeframe, oldest first."""

    def append(self, bar: BarClosed) -> None:
        """Keep ``bar``, the newest of its symbol and timeframe."""

    def bars_before(self, symbol: str, count: int, timeframe: str | None = None,
                    before: datetime | None = None) -> list[BarClosed]:
        """Return up to ``count`` most recent bars of ``symbol`` older than ``before`` (any time when ``None``),
        oldest first; ``timeframe`` may be left out when the symbol has bars of one timeframe only."""


class AmbiguousTimeframe(ValueError):
    """Raised when a symbol has bars of several timeframes and the request names none."""


class BarHistory:
    """Keep the last ``maxlen`` bars of each (symbol, timeframe); older bars fall off."""

    def __init__(self, maxlen: int) -> None:
        if maxlen < 1:
            raise ValueError(f"maxlen must be at least 1, not {maxlen}")
        self.maxlen = maxlen
        self._bars: dict[tuple[str, str], deque[BarClosed]] = {}

    def append(self, bar: BarClosed) -> None:
        """Remember ``bar`` as the newest of its symbol and timeframe."""
        key = (bar.symbol, bar.timeframe)
        bars = self._bars.get(key)
        if bars is None:
            bars = self._bars[key] = deque(maxlen=self.maxlen)
        bars.append(bar)

    def last(self, symbol: str, n: int, timeframe: str | None = None) -> list[BarClosed]:
        """Return up to ``n`` most recent bars of ``symbol``, oldest first; none for an unknown symbol.

        ``timeframe`` may be left out when the symbol has bars of one timeframe only.
        """
        if n <= 0:
            return []
        bars = self._bars.get((symbol, timeframe or self._only_timeframe(symbol)), ())
        return list(islice(bars, max(len(bars) - n, 0), None))

    def bars_before(self, symbol: str, count: int, timeframe: str | None = None,
                    before: datetime | None = None) -> list[BarClosed]:
        """Return up to ``count`` most recent bars of ``symbol`` older than ``before``, oldest first."""
        if before is None:
            return self.last(symbol, count, timeframe)
        kept = self.last(symbol, self.maxlen, timeframe)
        return [bar for bar in kept if bar.ts_event < before][-count:] if count > 0 else []

    def symbols(self) -> list[str]:
        """Return the symbols with bars, sorted."""
        return sorted({symbol for symbol, _ in self._bars})

    def timeframes(self, symbol: str) -> list[str]:
        """Return the timeframes ``symbol`` has bars of, sorted."""
        return sorted(timeframe for sym, timeframe in self._bars if sym == symbol)

    def _only_timeframe(self, symbol: str) -> str:
        timeframes = self.timeframes(symbol)
        if len(timeframes) > 1:
            raise AmbiguousTimeframe(f"{symbol} has bars of timeframes {timeframes}; name one")
        return timeframes[0] if timeframes else ""
