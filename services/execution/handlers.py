"""The execution service's handler table: signals and order commands in; orders to the broker; order events out.

Every order takes the same crash-safe path (``place``): record it, check risk, send it, apply the broker's
answer in the store (with an outbox entry), then publish the outbox. A redelivered signal or command finds its
client order id already recorded and places nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from shared.contracts import (
    BarClosed,
    CancelOrder,
    Direction,
    Message,
    OrderRejected,
    OrderType,
    PortfolioSnapshot,
    QuoteTicked,
    SignalGenerated,
    SubmitOrder,
    TradeTicked,
    TradingHalted,
    TradingResumed,
)
from shared.messaging.bus import MessageBus
from shared.runtime.clock import Clock

from .adapters.broker import Broker, OutcomeUnknown
from .adapters.order_store import OrderStore
from .domain.book import ExecutionBook
from .domain.events import order_event
from .domain.orders import Order, OrderStatus, client_order_id_for, order_for_signal
from .domain.reconcile import reconcile
from .domain.reports import Canceled, OrderEvent, Rejected, Submitted, SubmitUnknown
from .domain.risk import RiskLimits, check_order, reduces_position
from .domain.sizing import SizingError, SizingPolicy, size_order


@dataclass
class ExecutionDeps:
    """The order store, the broker, sizing and risk rules, the account book, and the outside world."""

    store: OrderStore
    broker: Broker
    book: ExecutionBook
    sizing: SizingPolicy
    limits: RiskLimits
    bus: MessageBus
    clock: Clock
    source: str
    lost_after: timedelta = timedelta(minutes=1)
    outbox_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Serialises outbox flushes: the signal, command and market consumers run concurrently."""


async def on_signal(signal: SignalGenerated, deps: ExecutionDeps) -> None:
    if signal.direction is Direction.EXIT:
        await cancel_resting_entries(signal, deps)
    position = deps.book.projected_position(signal.strategy_id, signal.symbol)
    price = deps.book.prices.get(signal.symbol, signal.reference_price)
    try:
        sized = size_order(signal, deps.sizing, position=position, price=price, equity=deps.book.equity)
    except SizingError as error:
        sized, reason = None, str(error)
        await deps.bus.publish(rejection(signal, reason, deps))
    if sized is not None:
        # reduce-only only if it reduces what is filled now: an exit may overtake the fill of its entry
        filled = deps.book.position(signal.strategy_id, signal.symbol)
        reduce_only = sized.reduce_only and reduces_position(sized.side, sized.quantity, filled)
        # event time: the order is placed as of the market event behind the signal (see the paper matcher)
        order = order_for_signal(signal, sized.side, sized.quantity, signal.ts_event, reduce_only=reduce_only)
        await place(order, signal, deps)


async def on_submit(command: SubmitOrder, deps: ExecutionDeps) -> None:
    await place(Order.from_command(command, command.ts_event), command, deps)


async def on_cancel(command: CancelOrder, deps: ExecutionDeps) -> None:
    order = deps.store.get(command.client_order_id)
    if order is None or order.is_terminal:
        return  # nothing working under that id: canceling is already true
    if order.status is OrderStatus.PENDING_SUBMIT:
        apply(Canceled(order.client_order_id, None, order.filled_quantity, deps.clock.now(), command.reason),
              command, deps)
    else:
        for report in await deps.broker.cancel(order.client_order_id):
            apply(report, command, deps)
    await publish_outbox(deps)


async def on_market(event: BarClosed | TradeTicked | QuoteTicked, deps: ExecutionDeps) -> None:
    if isinstance(event, BarClosed):
        deps.book.prices[event.symbol] = event.close
    reports = await deps.broker.on_market(event)
    if reports:
        for report in reports:
            apply(report, event, deps)
        await publish_outbox(deps)


async def on_snapshot(snapshot: PortfolioSnapshot, deps: ExecutionDeps) -> None:
    deps.book.equity = snapshot.equity
    deps.book.halted = snapshot.trading_halted


async def on_halted(event: TradingHalted, deps: ExecutionDeps) -> None:
    deps.book.halted, deps.book.halt_reason = True, event.reason


async def on_resumed(event: TradingResumed, deps: ExecutionDeps) -> None:
    deps.book.halted, deps.book.halt_reason = False, None


async def place(order: Order, cause: Message, deps: ExecutionDeps) -> None:
    """Record ``order``, check risk, send it, apply the answer, publish: each step survives a crash."""
    if deps.store.record_pending(order):
        deps.book.track(order)
        await check_and_send(order, cause, deps)
    elif await never_reached_the_broker(order.client_order_id, deps):
        # a crash came between recording and sending: the broker does not know the order, so send it now
        await check_and_send(order, cause, deps)
    await publish_outbox(deps)  # for a redelivery, only the announcements may still be owed


async def never_reached_the_broker(client_order_id: str, deps: ExecutionDeps) -> bool:
    """Return whether a recorded order is still unsent and unknown to the broker (asked, never assumed)."""
    recorded = deps.store.get(client_order_id)
    return (recorded is not None and recorded.status is OrderStatus.PENDING_SUBMIT
            and not await deps.broker.orders([client_order_id]))


async def check_and_send(order: Order, cause: Message, deps: ExecutionDeps) -> None:
    """Run pre-trade risk on a recorded order, then send it and apply the broker's answer."""
    now = deps.clock.now()
    reason = check_order(order, deps.book.risk_state(), deps.limits, now)
    if reason is not None:
        apply(Rejected(order.client_order_id, reason, now), cause, deps)
        return
    deps.book.note_sent(now)
    try:
        reports = await deps.broker.submit(order)
    except OutcomeUnknown as error:
        reports = [SubmitUnknown(order.client_order_id, deps.clock.now(), str(error))]
    for report in reports or [Submitted(order.client_order_id, deps.clock.now())]:
        apply(report, cause, deps)


def apply(report: OrderEvent, cause: Message, deps: ExecutionDeps) -> None:
    """Apply one report in the store (with its outbox entry) and in the book."""
    before = deps.store.get(report.client_order_id)
    updated = deps.store.apply(report, cause.message_id)
    if updated is not None:
        deps.book.track(updated, updated.filled_quantity - (before.filled_quantity if before else Decimal(0)))


async def publish_outbox(deps: ExecutionDeps) -> None:
    """Publish every applied report not yet announced, oldest first, marking each once confirmed."""
    async with deps.outbox_lock:  # two flushes at once would both publish an entry neither has marked yet
        for outgoing in deps.store.unpublished():
            event = order_event(outgoing.order, outgoing.report, causation_id=outgoing.causation_id,
                                source=deps.source, now=deps.clock.now())
            if event is not None:
                await deps.bus.publish(event)
            deps.store.mark_published(outgoing.seq)


async def cancel_resting_entries(signal: SignalGenerated, deps: ExecutionDeps) -> None:
    """Cancel the strategy's resting limit/stop orders in the symbol: an exit means no new entry either."""
    for order in deps.book.resting(signal.strategy_id, signal.symbol):
        if order.order_type is not OrderType.MARKET and order.status is not OrderStatus.PENDING_SUBMIT:
            for report in await deps.broker.cancel(order.client_order_id):
                apply(report, signal, deps)


async def recover(deps: ExecutionDeps) -> None:
    """Reconcile with the broker (adopt what it has that we lack, resolve in-flight submits), then announce."""
    mine = {o.client_order_id: o for o in deps.store.open_orders()}
    view = await deps.broker.view(mine)
    mine |= deps.store.orders(o.client_order_id for o in view.orders)
    plan = reconcile(mine, view, deps.store.seen_fill, deps.clock.now(), deps.lost_after)
    for adopted in plan.adopt:
        deps.store.record_pending(adopted)
    for event in plan.events:
        deps.store.apply(event)
    deps.book.reset(deps.store.all_orders())  # the store is the source of truth
    await publish_outbox(deps)


def rejection(signal: SignalGenerated, reason: str, deps: ExecutionDeps) -> Message:
    """Return the ``OrderRejected`` for a signal that could not become an order."""
    return OrderRejected.caused_by(signal, ts_event=signal.ts_event, ts_init=deps.clock.now(), source=deps.source,
                                   client_order_id=client_order_id_for(signal.message_id),
                                   strategy_id=signal.strategy_id, symbol=signal.symbol, reason=reason)


SIGNAL_HANDLERS = {SignalGenerated: on_signal}
COMMAND_HANDLERS = {SubmitOrder: on_submit, CancelOrder: on_cancel}
MARKET_HANDLERS = {BarClosed: on_market, TradeTicked: on_market, QuoteTicked: on_market}
PORTFOLIO_HANDLERS = {PortfolioSnapshot: on_snapshot, TradingHalted: on_halted, TradingResumed: on_resumed}
