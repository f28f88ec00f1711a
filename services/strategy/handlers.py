"""The strategy service's handler table: market events and fills in, signals out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from uuid import uuid5

from shared.contracts import BarClosed, Message, OrderBookUpdated, OrderFilled, QuoteTicked, SignalGenerated, TradeTicked
from shared.messaging.bus import MessageBus
from shared.runtime.clock import Clock

from .domain import SignalIntent, StrategyEngine


@dataclass(frozen=True)
class StrategyDeps:
    """What the handlers need: the engine holding every strategy's state, the bus, the clock, our name."""

    engine: StrategyEngine
    bus: MessageBus
    clock: Clock
    source: str


async def on_bar(bar: BarClosed, deps: StrategyDeps) -> None:
    intents = deps.engine.on_bar(bar)
    if intents:  # most bars emit nothing: skip the call
        await publish_signals(bar, intents, deps)


async def on_tick(tick: TradeTicked, deps: StrategyDeps) -> None:
    await publish_signals(tick, deps.engine.on_tick(tick), deps)


async def on_quote(quote: QuoteTicked, deps: StrategyDeps) -> None:
    await publish_signals(quote, deps.engine.on_quote(quote), deps)


async def on_book(book: OrderBookUpdated, deps: StrategyDeps) -> None:
    await publish_signals(book, deps.engine.on_book(book), deps)


async def on_fill(fill: OrderFilled, deps: StrategyDeps) -> None:
    deps.engine.on_fill(fill)


async def publish_signals(cause: Message, intents: Iterable[SignalIntent], deps: StrategyDeps) -> None:
    """Publish one ``SignalGenerated`` per intent.

    The id derives from the cause, the strategy and the intent's position, so a redelivered market event
    produces the very same signal ids, and execution (which derives client order ids from them) places no
    second order.
    """
    for index, intent in enumerate(intents):
        await deps.bus.publish(SignalGenerated.caused_by(
            cause, message_id=uuid5(cause.message_id, f"{intent.strategy_id}/{index}"),
            ts_init=deps.clock.now(), source=deps.source, **intent.signal_fields()))


MARKET_HANDLERS = {BarClosed: on_bar, TradeTicked: on_tick, QuoteTicked: on_quote, OrderBookUpdated: on_book}
FILL_HANDLERS = {OrderFilled: on_fill}
