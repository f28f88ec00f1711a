"""One market partition a worker owns: its own strategy state, built per symbol from history, and its hand-over.

A partition's state lives in a ``StrategyEngine`` of its own, so giving a partition away is dropping its engine.
The first time an event of a symbol arrives, the symbol's bars before that event are fetched and replayed through
the engine (their signals discarded) before the event is handled: a worker that takes a partition over mid-stream
reaches the state the previous owner had. The event stays unacked meanwhile, so nothing overtakes it.

Hand-over keeps the queue's order: ``release`` lets the handler in progress finish (its effects published, its
ack sent), parks the next delivery, and then closes the consumer's channel without cancelling it first. The
broker then returns every unacked delivery in order *and* activates the next single-active consumer in one step
(a ``basic.cancel`` would activate it first, and the returned deliveries would come after newer ones).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from shared.contracts import BarClosed, Message, OrderFilled
from shared.messaging.bus import Consumer, Handler

from ..domain import StrategyEngine

FetchHistory = Callable[[str, datetime, str | None], Awaitable[list[BarClosed]]]
"""``fetch(symbol, before, timeframe)``: the symbol's bars older than ``before``, oldest first."""

MarketHandlers = Mapping[type[Message], Callable[[Any, Any], Awaitable[None]]]
"""The service's market handlers, each ``handler(event, deps)``."""

FillHandler = Callable[[OrderFilled, Any], Awaitable[None]]
"""The service's fill handler, ``handler(fill, deps)``: the strategies' answer to a fill, published."""


class PartitionState(Protocol):
    """What a partition's handlers work on: at least the engine holding its strategies' state."""

    engine: StrategyEngine


class OwnedPartition:
    """Handle the market events of one partition with state of its own, warming each symbol up on first sight."""

    def __init__(self, partition: int, new_state: Callable[[], PartitionState], fetch: FetchHistory,
                 handlers: MarketHandlers, fill_handler: FillHandler) -> None:
        self.partition = partition
        self.new_state = new_state
        self.deps = new_state()
        self.fetch = fetch
        self.market_handlers = handlers
        self.fill_handler = fill_handler
        self.warm: set[str] = set()
        self.consumer: Consumer | None = None
        self.releasing = False
        self._idle = asyncio.Event()
        self._idle.set()

    def handlers(self) -> dict[type[Message], Handler]:
        """Return the partition queue's handler table: the strategy's market handlers behind the warm-up guard."""
        return {message_type: self._guarded(handler) for message_type, handler in self.market_handlers.items()}

    def _guarded(self, handler: Callable[[Any, Any], Awaitable[None]]) -> Handler:
        async def handle(message: Message) -> None:
            await self._admit(message)
            self._idle.clear()
            try:
                await handler(message, self.deps)
            finally:
                self._idle.set()

        return handle

    async def _admit(self, message: Message) -> None:
        if self.releasing:
            await _parked()
        symbol = message.symbol  # type: ignore[attr-defined] - every market event has one
        if symbol not in self.warm:
            timeframe = message.timeframe if isinstance(message, BarClosed) else None
            bars = await self.fetch(symbol, message.ts_event, timeframe)
            if self.releasing:
                await _parked()
            self.deps.engine.warm_up(bars)
            self.warm.add(symbol)

    async def on_fill(self, fill: OrderFilled) -> None:
        """Feed a fill to the strategies of its symbol, unless the symbol is not warm here (or is being handed over).

        Fills do not travel with the market events, and history replays bars only: state built from fills is not
        carried over when a partition moves, and a fill that arrives before a symbol's first event here is dropped.
        """
        if fill.symbol in self.warm and not self.releasing:
            await self.fill_handler(fill, self.deps)

    def forget(self) -> None:
        """Drop every symbol's state: the broker connection was lost, so others may have handled events since."""
        self.warm.clear()
        self.deps = self.new_state()

    async def release(self) -> None:
        """Give the partition up: finish the event in hand, then return the rest to the queue in order."""
        self.releasing = True
        await self._idle.wait()
        if self.consumer is not None:
            await self.consumer.kill()


async def _parked() -> None:
    """Wait until cancelled: a delivery that arrives after ``release`` began is never handled here."""
    await asyncio.get_running_loop().create_future()
