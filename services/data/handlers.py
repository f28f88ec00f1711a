"""The data service's handler table (history requests), and the replay loop that publishes market events."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass

from shared.contracts import BarClosed, BarHistoryProvided, BarView, Message, RequestBarHistory
from shared.messaging.bus import MessageBus
from shared.runtime.clock import Clock

from .adapters import Pacer
from .domain import BarHistory


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


async def replay(feed: AsyncIterable[Message], pacer: Pacer, deps: DataDeps,
                 after_each: Callable[[], Awaitable[None]] | None = None) -> int:
    """Publish every event of ``feed`` at the pacer's speed; return how many were published."""
    count = 0
    async for event in feed:
        await pacer.wait(event.ts_event)
        await publish_market(event, deps)
        if after_each is not None:
            await after_each()
        count += 1
    return count


async def on_history_request(request: RequestBarHistory, deps: DataDeps) -> None:
    bars = deps.history.last(request.symbol, request.count, request.timeframe)
    timeframe = request.timeframe or (bars[-1].timeframe if bars else "unknown")
    await deps.bus.publish(BarHistoryProvided.caused_by(
        request, ts_event=request.ts_event, ts_init=deps.clock.now(), source=deps.source, symbol=request.symbol,
        timeframe=timeframe, requester=request.requester,
        bars=tuple(BarView(ts=b.ts_event, open=b.open, high=b.high, low=b.low, close=b.close, volume=b.volume)
                   for b in bars)))


HANDLERS = {RequestBarHistory: on_history_request}
