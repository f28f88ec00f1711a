"""The strategy service's subscription table: market events and fills in, signals out.

Deciding is kept apart from publishing. A new market event runs the strategies once; the signals they ask for
are kept as *unconfirmed* under the event's id until the broker confirmed every one of them. A repeated event
(same stream, sequence not above the last one seen: a redelivery, a replay resumed after a restart) never runs
the strategies again: it publishes what is still unconfirmed for it, or nothing. So a handler retried after a
failed publish sends the very same signals (their ids derive from the event), and a crossover is never lost to
the strategy state having moved on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar
from uuid import UUID, uuid5

from shared.contracts import (
    BarClosed,
    BarHistoryProvided,
    MarketEvent,
    OrderBookUpdated,
    OrderFilled,
    QuoteTicked,
    SignalGenerated,
    StreamPositions,
    TradeTicked,
    WorkerHeartbeatSent,
)
from shared.messaging.bus import MessageBus
from shared.messaging.subscriptions import Route, Table
from shared.runtime.clock import Clock

from .domain import NO_INTENTS, SignalIntent, StrategyEngine


@dataclass
class StrategyDeps:
    """The engine holding the strategies' state, what it has seen, what it still owes, and the outside world."""

    engine: StrategyEngine
    bus: MessageBus
    clock: Clock
    source: str
    positions: StreamPositions = field(default_factory=StreamPositions)
    unconfirmed: dict[UUID, tuple[SignalIntent, ...]] = field(default_factory=dict)
    """Signals decided on an event (by its id) and not yet all confirmed by the broker."""


async def on_bar(bar: BarClosed, deps: StrategyDeps) -> None:
    await handle_market(bar, deps.engine.on_bar, deps)


async def on_tick(tick: TradeTicked, deps: StrategyDeps) -> None:
    await handle_market(tick, deps.engine.on_tick, deps)


async def on_quote(quote: QuoteTicked, deps: StrategyDeps) -> None:
    await handle_market(quote, deps.engine.on_quote, deps)


async def on_book(book: OrderBookUpdated, deps: StrategyDeps) -> None:
    await handle_market(book, deps.engine.on_book, deps)


E = TypeVar("E", BarClosed, TradeTicked, QuoteTicked, OrderBookUpdated)


async def handle_market(event: E, react: Callable[[E], tuple[SignalIntent, ...]], deps: StrategyDeps) -> None:
    """Run the strategies on a new event (``react``), then publish the signals still owed for it."""
    intents = deps.unconfirmed.get(event.message_id)
    if intents is None:
        if not deps.positions.is_new(event):
            return  # a repeat of an event whose signals all went out
        intents = react(event)
        deps.positions.advance(event)
        if intents is NO_INTENTS:
            return
        deps.unconfirmed[event.message_id] = intents
    await publish_signals(event, intents, deps)
    del deps.unconfirmed[event.message_id]


async def handle_fill(fill: OrderFilled, deps: StrategyDeps) -> None:
    """Run the strategies on a fill (the engine ignores a fill id it has seen), then publish the signals still
    owed for it: a strategy may answer its fill with an order (a stop-loss)."""
    intents = deps.unconfirmed.get(fill.message_id)
    if intents is None:
        intents = deps.engine.on_fill(fill)
        if intents is NO_INTENTS:
            return
        deps.unconfirmed[fill.message_id] = intents
    await publish_signals(fill, intents, deps)
    del deps.unconfirmed[fill.message_id]


async def publish_signals(cause: MarketEvent | OrderFilled, intents: tuple[SignalIntent, ...],
                          deps: StrategyDeps) -> None:
    """Publish one ``SignalGenerated`` per intent.

    The id derives from the cause, the strategy and the intent's position, so the signals of an event are the same
    however often they are sent, and execution (which derives client order ids from them) places no second order.
    """
    for index, intent in enumerate(intents):
        await deps.bus.publish(SignalGenerated.caused_by(
            cause, message_id=uuid5(cause.message_id, f"{intent.strategy_id}/{index}"),
            ts_init=deps.clock.now(), source=deps.source, **intent.signal_fields()))


class Inbox(Protocol):
    """What arrives on a worker's own queue goes to: its strategies (fills), its group, its history requests."""

    async def fill(self, fill: OrderFilled) -> None: ...
    async def heartbeat(self, beat: WorkerHeartbeatSent) -> None: ...
    async def history(self, reply: BarHistoryProvided) -> None: ...


async def on_fill(fill: OrderFilled, inbox: Inbox) -> None:
    await inbox.fill(fill)


async def on_heartbeat(beat: WorkerHeartbeatSent, inbox: Inbox) -> None:
    await inbox.heartbeat(beat)


async def on_history(reply: BarHistoryProvided, inbox: Inbox) -> None:
    await inbox.history(reply)


MARKET_HANDLERS = {BarClosed: on_bar, TradeTicked: on_tick, QuoteTicked: on_quote, OrderBookUpdated: on_book}

SUBSCRIPTIONS: Table = {
    "market": Route(MARKET_HANDLERS),
    "inbox": Route({OrderFilled: on_fill, WorkerHeartbeatSent: on_heartbeat, BarHistoryProvided: on_history}),
}
"""Queue purpose -> handlers, as ``topology.SUITE`` names the strategy service's queues (the market partitions
take ``StrategyDeps``, the inbox an ``Inbox``)."""
