"""Clocks: the live wall clock, and a simulated clock the backtester moves with the data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    """Tell the current time as a timezone-aware UTC datetime."""

    def now(self) -> datetime: ...


class LiveClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class SimulatedClock:
    """A clock that only moves when told to, and never backwards."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(1970, 1, 1, tzinfo=timezone.utc)
        if self._now.tzinfo is None:
            raise ValueError("SimulatedClock needs a timezone-aware start time")

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        """Move the clock to ``when``; raise ``ValueError`` if that is in its past or naive."""
        if when.tzinfo is None:
            raise ValueError("SimulatedClock.set needs a timezone-aware datetime")
        if when < self._now:
            raise ValueError(f"clock cannot move backwards from {self._now} to {when}")
        self._now = when

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        self.set(self._now + delta)
