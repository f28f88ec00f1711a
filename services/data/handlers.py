"""The data service's handler table (history requests), and the replay loop that publishes market events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from shared.contracts import BarClosed, BarHistoryProvided, BarView, Message, RequestBarHistory
from shared.messaging.bus import MessageBus
from shared.messaging.errors import PublishFailed
from shared.runtime.clock import Clock

from .adapters import Pacer
from .domain import BarHistory

log = logging.getLogger(__name__)


@dataclass
class DataDeps:
    """The history kept for warm-ups, the bus, the clock, our name."""

    history: BarHistory
    feed: AsyncIterable[Message]
    bus: MessageBus
    clock: Clock
    source: str
    published: int = 0
    replay_done: bool = False


async def publish_market(event: Message, deps: DataDeps) -> None:
    """Publish one market event, keeping bars in the history first."""
    if type(event) is BarClosed:
        deps.history.append(event)
    await deps.bus.publish(event)
    deps.published += 1


PUBLISH_WINDOW = 64
"""Publishes of a replay awaiting the broker's confirm at once: enough that confirm round trips overlap."""


class PublishWindow:
    """Run publishes concurrently, at most ``size`` unfinished, started in the order they are submitted.

    On the bus's one publishing channel the broker receives them in that order, so the window keeps the order
    of a replay while the confirm round trips overlap instead of adding up. The first failure is raised by the
    next ``submit`` or by ``drain``; publishes already started by then may still be confirmed.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a publish window holds at least one publish, not {size}")
        self._slots = asyncio.Semaphore(size)
        self._unfinished: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None

    async def submit(self, publish: Coroutine[Any, Any, None]) -> None:
        """Start ``publish`` once fewer than ``size`` are unfinished; raise an earlier publish's failure instead."""
        try:
            self._raise_failure()
            await self._slots.acquire()
            self._raise_failure()
        except BaseException:
            publish.close()
            raise
        task = asyncio.create_task(publish)
        self._unfinished.add(task)
        task.add_done_callback(self._finished)

    async def drain(self) -> None:
        """Wait until every started publish has finished; raise the first failure."""
        if self._unfinished:
            await asyncio.gather(*self._unfinished, return_exceptions=True)
        self._raise_failure()

    async def cancel(self) -> None:
        """Cancel the unfinished publishes and wait for them to end."""
        for task in self._unfinished:
            task.cancel()
        await asyncio.gather(*self._unfinished, return_exceptions=True)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._unfinished.discard(task)
        self._slots.release()
        if self._failure is None and not task.cancelled():
            self._failure = task.exception()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure


async def replay(feed: AsyncIterable[Message], pacer: Pacer, deps: DataDeps,
                 after_each: Callable[[], Awaitable[None]] | None = None) -> int:
    """Publish every event of ``feed`` at the pacer's speed; return how many were published (all confirmed).

    Up to ``PUBLISH_WINDOW`` publishes await their confirm at once, in feed order; the first failure stops the
    replay and is raised. ``after_each`` (a backtest draining its bus) is awaited after each event's publish has
    finished, so with it events go out one at a time.
    """
    window = PublishWindow(PUBLISH_WINDOW)
    count = 0
    try:
        async for event in feed:
            await pacer.wait(event.ts_event)
            await window.submit(publish_market(event, deps))
            if after_each is not None:
                await window.drain()
                await after_each()
            count += 1
        await window.drain()
    except BaseException:
        await window.cancel()
        raise
    return count


async def on_history_request(request: RequestBarHistory, deps: DataDeps) -> None:
    """Answer with the symbol's last ``count`` bars (before ``before``, if given); drop it if the requester is gone."""
    before = request.before
    if before is None:
        bars = deps.history.last(request.symbol, request.count, request.timeframe)
    else:
        kept = deps.history.last(request.symbol, deps.history.maxlen, request.timeframe)
        bars = [bar for bar in kept if bar.ts_event < before][-request.count:]
    timeframe = request.timeframe or (bars[-1].timeframe if bars else "unknown")
    try:
        await deps.bus.publish(BarHistoryProvided.caused_by(
            request, ts_event=request.ts_event, ts_init=deps.clock.now(), source=deps.source, symbol=request.symbol,
            timeframe=timeframe, requester=request.requester,
            bars=tuple(BarView(ts=b.ts_event, open=b.open, high=b.high, low=b.low, close=b.close, volume=b.volume)
                       for b in bars)))
    except PublishFailed as error:
        if not str(error).startswith("unroutable"):
            raise
        log.info("dropped the history reply to %s: it no longer listens", request.requester)


HANDLERS = {RequestBarHistory: on_history_request}
