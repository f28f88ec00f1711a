"""Replay pace: as fast as possible, or event time replayed at wall-clock speed scaled by a factor."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Protocol, TypeVar


class _Timed(Protocol):
    ts_event: datetime


M = TypeVar("M", bound=_Timed)


def replay_delay(first_event: datetime, first_wall: float, event: datetime, now: float, speed: float) -> float:
    """Return the seconds to wait before ``event`` so event time since ``first_event`` passes ``speed`` times faster.

    ``first_wall`` is the monotonic time ``first_event`` went out and ``now`` the monotonic time now; a negative
    result means the replay is late and should not wait.
    """
    return (event - first_event).total_seconds() / speed - (now - first_wall)


class Pacer:
    """Hold each message back until its turn: ``speed`` 60 replays a minute of data per second.

    ``speed`` ``None`` or 0 replays as fast as possible. Delays are measured from the first message, so
    oversleeping once does not add up. ``max_wait_s`` caps a single wait (overnight and weekend gaps), shifting
    the schedule by what it skips. ``clock`` (monotonic seconds) and ``sleep`` are injected so tests need no time.
    """

    def __init__(self, speed: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, max_wait_s: float | None = None) -> None:
        if speed is not None and speed < 0:
            raise ValueError(f"speed must be positive, 0 or None, not {speed}")
        if max_wait_s is not None and max_wait_s < 0:
            raise ValueError(f"max_wait_s must not be negative, not {max_wait_s}")
        self.speed = speed or None
        self.clock, self.sleep, self.max_wait_s = clock, sleep, max_wait_s
        self._first: tuple[datetime, float] | None = None

    @property
    def as_fast_as_possible(self) -> bool:
        """Return whether this pacer never waits."""
        return self.speed is None

    def reset(self) -> None:
        """Start the schedule afresh at the next message (after a pause, or for a new replay)."""
        self._first = None

    async def wait(self, ts_event: datetime) -> None:
        """Wait until the message stamped ``ts_event`` is due."""
        if self.speed is None:
            return
        now = self.clock()
        if self._first is None:
            self._first = (ts_event, now)
            return
        first_event, first_wall = self._first
        delay = replay_delay(first_event, first_wall, ts_event, now, self.speed)
        if self.max_wait_s is not None and delay > self.max_wait_s:
            self._first = (first_event, first_wall - (delay - self.max_wait_s))
            delay = self.max_wait_s
        if delay > 0:
            await self.sleep(delay)


async def paced(messages: AsyncIterable[M], pacer: Pacer) -> AsyncIterator[M]:
    """Yield ``messages`` each when ``pacer`` says it is due."""
    async for message in messages:
        await pacer.wait(message.ts_event)
        yield message
