"""Equity over time: a compact equity curve for statistics, and the exact drawdown the risk rules watch.

``EquityCurve`` keeps three parallel arrays (epoch microseconds as int64, equity as float64, an in-market byte):
17 bytes a point, so a million bars cost about 17 MB. Floats are fine there: the curve feeds statistics, never
money. ``DrawdownTracker`` keeps peak equity as ``Decimal`` for the kill switch and the snapshot.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MICROSECOND = timedelta(microseconds=1)
_ZERO = Decimal(0)


def to_micros(ts: datetime) -> int:
    """Return ``ts`` (timezone-aware) as integer microseconds since the Unix epoch."""
    return (ts - _EPOCH) // _ONE_MICROSECOND


def from_micros(micros: int) -> datetime:
    """Return the UTC datetime ``micros`` microseconds after the Unix epoch."""
    return _EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One point of an equity curve: epoch microseconds, equity (a float: statistics, not money), in the market."""

    micros: int
    equity: float
    in_market: bool

    @classmethod
    def at(cls, ts: datetime, equity: Decimal, *, in_market: bool) -> CurvePoint:
        """Return the point for ``equity`` at ``ts``."""
        return cls((ts - _EPOCH) // _ONE_MICROSECOND, float(equity), in_market)


class EquityCurve:
    """Record (time, equity, in-market) points, one per timestamp, in time order."""

    def __init__(self) -> None:
        self._micros: array[int] = array("q")
        self._equity: array[float] = array("d")
        self._in_market = bytearray()

    def record(self, ts: datetime, equity: Decimal | float, *, in_market: bool = False) -> None:
        """Append a point; a point at the last point's time replaces it, an older one is ignored (redelivery)."""
        self._append((ts - _EPOCH) // _ONE_MICROSECOND, float(equity), in_market)

    def add(self, point: CurvePoint) -> None:
        """Append ``point`` (as ``record`` does)."""
        self._append(point.micros, point.equity, point.in_market)

    def _append(self, micros: int, value: float, in_market: bool) -> None:
        if self._micros and micros <= self._micros[-1]:
            if micros == self._micros[-1]:
                self._equity[-1] = value
                self._in_market[-1] = in_market
            return
        self._micros.append(micros)
        self._equity.append(value)
        self._in_market.append(in_market)

    def __len__(self) -> int:
        return len(self._micros)

    def last_time(self) -> datetime | None:
        """Return the time of the newest point (the market's time as the portfolio last saw it), or ``None``."""
        return from_micros(self._micros[-1]) if self._micros else None

    @property
    def micros(self) -> array[int]:
        """Return the timestamps as epoch microseconds (do not modify)."""
        return self._micros

    @property
    def equities(self) -> array[float]:
        """Return the equity values as floats (do not modify)."""
        return self._equity

    def in_market_count(self) -> int:
        """Return how many points were recorded with a position open."""
        return self._in_market.count(1)

    def points(self) -> Iterator[tuple[datetime, float]]:
        """Yield every point as (UTC datetime, equity)."""
        for micros, value in zip(self._micros, self._equity):
            yield from_micros(micros), value

    def nbytes(self) -> int:
        """Return the bytes the recorded points occupy (spare buffer capacity not counted)."""
        return len(self._micros) * 8 + len(self._equity) * 8 + len(self._in_market)



@dataclass(frozen=True, slots=True)
class DrawdownStats:
    """The drawdown profile of a curve: deepest fall from a peak, and the longest time spent below a peak.

    ``max_drawdown`` is a fraction of the peak (0.25 is 25%). The duration is measured from the peak to the
    first point back at or above it, or to the last point when the curve never recovered.
    """

    max_drawdown: float
    max_drawdown_duration: timedelta
    max_drawdown_duration_bars: int
    current_drawdown: float
    peak: float


def drawdown_stats(curve: EquityCurve) -> DrawdownStats | None:
    """Return the drawdown profile of ``curve``, or ``None`` when it has no point or a non-positive peak."""
    if not len(curve):
        return None
    micros, values = curve.micros, curve.equities
    peak, peak_index, underwater = values[0], 0, False
    deepest, longest_bars, longest_micros = 0.0, 0, 0
    for index, value in enumerate(values):
        if value < peak:
            if peak <= 0:
                return None
            deepest = max(deepest, (peak - value) / peak)
            underwater = True
            continue
        if underwater and index - peak_index > longest_bars:
            longest_bars, longest_micros = index - peak_index, micros[index] - micros[peak_index]
        peak, peak_index, underwater = value, index, False
    last = len(values) - 1
    if underwater and last - peak_index > longest_bars:
        longest_bars, longest_micros = last - peak_index, micros[last] - micros[peak_index]
    if peak <= 0:
        return None
    current = (peak - values[-1]) / peak
    return DrawdownStats(deepest, timedelta(microseconds=longest_micros), longest_bars, current, peak)


class DrawdownTracker:
    """Follow peak equity exactly and tell the current drawdown as a fraction of the peak."""

    def __init__(self, peak: Decimal | None = None) -> None:
        self._peak = peak
        self._equity = peak

    @property
    def peak(self) -> Decimal | None:
        """Return the highest equity seen (``None`` before the first update)."""
        return self._peak

    @property
    def equity(self) -> Decimal | None:
        """Return the equity of the last update."""
        return self._equity

    def update(self, equity: Decimal) -> bool:
        """Record ``equity``; return whether it set a new peak (persist the peak when it does)."""
        self._equity = equity
        if self._peak is None or equity > self._peak:
            self._peak = equity
            return True
        return False

    def restart(self) -> None:
        """Measure drawdown afresh from the last equity (trading resumed: the old peak would halt it again)."""
        self._peak = self._equity

    @property
    def drawdown(self) -> Decimal:
        """Return (peak - equity) / peak, zero at a peak, before any update, or when the peak is not positive."""
        if self._peak is None or self._equity is None or self._peak <= 0 or self._equity >= self._peak:
            return _ZERO
        return (self._peak - self._equity) / self._peak

    def reset(self, equity: Decimal) -> None:
        """Make ``equity`` the new peak (after trading resumes, so an old peak does not re-trip the kill switch)."""
        self._peak = self._equity = equity
