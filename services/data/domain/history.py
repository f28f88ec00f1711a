"""The recent bars of each symbol, kept to answer history requests (a strategy warming up)."""

from __future__ import annotations

from collections import deque
from itertools import islice

from shared.contracts import BarClosed


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
