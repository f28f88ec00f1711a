"""Build OHLCV bars from trades, and name a bar the same way whichever way it was made (trades, klines, REST).

The product's rules of a live bar:

- A bar of timeframe ``tf`` covers ``[open, open + tf)``; opens are multiples of ``tf`` since the Unix epoch (UTC
  midnight for ``1d``, the top of the hour for ``1h``), as the venues align their klines.
- It closes when the clock passes ``open + tf + grace`` (``close_due(now)``, called by a timer), or when a trade
  stamped at or after ``open + tf + grace`` arrives, whichever comes first. The grace lets trades that the venue
  prints a little late still count.
- A trade for a bar already closed is *late*: ``add`` says so (the caller counts it in a metric) and leaves it
  out. A closed bar never reopens and is never published twice.
- An interval with no trade closes as a flat bar at the previous close (open = high = low = close, volume 0), so
  a consumer sees one bar per interval without gaps. Before the first trade (and before ``resume_after`` names
  a bar published elsewhere) there is no previous close, and no bar.
- A bar's ``sequence`` is ``open_ms // tf_ms`` and its id depends only on (kind, source, symbol, timeframe, open
  time): the same bar built from trades, taken from a kline or fetched by a backfill is the same event, and
  consumers drop the repeat (``shared.contracts.streams``). Consecutive bars have consecutive sequences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import NamedTuple

from shared.contracts import BarClosed

from .messages import new_bar, replay_id, stream_id_base

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_TIMEFRAME = re.compile(r"([1-9][0-9]*)([smhd])")
ACCEPTED_TIMEFRAMES = "<n>s, <n>m, <n>h or <n>d with n a positive integer (1m, 5m, 1h, 1d)"


def timeframe_ms(timeframe: str) -> int:
    """Return the length of ``timeframe`` (``1m``, ``5m``, ``1h``, ``1d``, ``30s``) in milliseconds.

    Raise ``ValueError`` naming the accepted forms for anything else (weeks and months are not a fixed multiple
    of the epoch-aligned grid the venues use, so they are refused).
    """
    match = _TIMEFRAME.fullmatch(timeframe)
    if match is None:
        raise ValueError(f"unknown timeframe {timeframe!r}: use {ACCEPTED_TIMEFRAMES}")
    return int(match[1]) * _UNIT_MS[match[2]]


def to_ms(ts: datetime) -> int:
    """Return the milliseconds since the Unix epoch of the aware datetime ``ts`` (sub-millisecond part dropped)."""
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000 + delta.microseconds // 1_000


def from_ms(ms: int) -> datetime:
    """Return the UTC datetime ``ms`` milliseconds after the Unix epoch."""
    return _EPOCH + timedelta(milliseconds=ms)


def closed_bar(source: str, symbol: str, timeframe: str, open_ms: int, open: Decimal, high: Decimal, low: Decimal,
               close: Decimal, volume: Decimal) -> BarClosed:
    """Return the ``BarClosed`` opening at ``open_ms``: its sequence and id follow from the open time alone."""
    ts = from_ms(open_ms)
    message_id = replay_id(stream_id_base("BarClosed", source, symbol, timeframe), ts)
    return new_bar(message_id, ts, source, symbol, open_ms // timeframe_ms(timeframe), timeframe, open, high, low,
                   close, volume)


class TradeOutcome(NamedTuple):
    """What one trade did: the bars it closed (oldest first), and whether it was late (and so left out)."""

    bars: list[BarClosed]
    late: bool


@dataclass(slots=True)
class _Forming:
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    def add(self, price: Decimal, size: Decimal) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += size


class BarBuilder:
    """Build the bars of one symbol and timeframe from its trades, by the rules of this module."""

    def __init__(self, symbol: str, timeframe: str, *, late_trade_grace: timedelta, source: str = "data") -> None:
        if late_trade_grace < timedelta(0):
            raise ValueError(f"late_trade_grace must not be negative, not {late_trade_grace}")
        self.symbol, self.timeframe, self.source = symbol, timeframe, source
        self.tf_ms = timeframe_ms(timeframe)
        self.grace_ms = late_trade_grace // timedelta(milliseconds=1)
        if self.grace_ms >= self.tf_ms:
            raise ValueError(f"late_trade_grace {late_trade_grace} must be shorter than the timeframe {timeframe}")
        self._forming: dict[int, _Forming] = {}
        self.last_closed_ms: int | None = None
        """Open time of the newest bar closed (here, or elsewhere per ``resume_after``); ``None`` before any."""
        self.last_close: Decimal | None = None
        """Close of that bar: the price of the next flat bar."""

    def open_of(self, ts: datetime) -> int:
        """Return the open time (ms) of the bar that ``ts`` falls in."""
        ms = to_ms(ts)
        return ms - ms % self.tf_ms

    def add(self, ts: datetime, price: Decimal, size: Decimal) -> TradeOutcome:
        """Count a trade at ``ts``; return the bars it closes and whether it was late (then it counts nowhere)."""
        open_ms = self.open_of(ts)
        if self.last_closed_ms is not None and open_ms <= self.last_closed_ms:
            return TradeOutcome([], True)
        forming = self._forming.get(open_ms)
        if forming is None:
            self._forming[open_ms] = _Forming(price, price, price, price, size)
        else:
            forming.add(price, size)
        return TradeOutcome(self._close_until(to_ms(ts)), False)

    def close_due(self, now: datetime) -> list[BarClosed]:
        """Return the bars whose interval and grace ended by ``now``, oldest first (flat ones for idle intervals)."""
        return self._close_until(to_ms(now))

    def resume_after(self, bar: BarClosed) -> None:
        """Take ``bar`` (published elsewhere: a backfill, a kline) as closed: drop what was forming up to it and
        continue after it, its close being the price of a following flat bar. An older bar changes nothing."""
        open_ms = to_ms(bar.ts_event)
        if self.last_closed_ms is not None and open_ms <= self.last_closed_ms:
            return
        self.last_closed_ms, self.last_close = open_ms, bar.close
        for stale in [start for start in self._forming if start <= open_ms]:
            del self._forming[stale]

    def _close_until(self, now_ms: int) -> list[BarClosed]:
        newest_due = now_ms - self.tf_ms - self.grace_ms
        if self.last_closed_ms is not None:
            start = self.last_closed_ms + self.tf_ms
        elif self._forming:
            start = min(self._forming)
        else:
            return []
        closed: list[BarClosed] = []
        for open_ms in range(start, newest_due + 1, self.tf_ms):
            bar = self._close(open_ms)
            if bar is not None:
                closed.append(bar)
        return closed

    def _close(self, open_ms: int) -> BarClosed | None:
        forming = self._forming.pop(open_ms, None)
        if forming is None:
            if self.last_close is None:
                return None
            price = self.last_close
            forming = _Forming(price, price, price, price, Decimal(0))
        self.last_closed_ms, self.last_close = open_ms, forming.close
        return closed_bar(self.source, self.symbol, self.timeframe, open_ms, forming.open, forming.high,
                          forming.low, forming.close, forming.volume)
