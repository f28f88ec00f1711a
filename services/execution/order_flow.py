"""The order path, one place: place an order, check and send it, apply what the broker says, recover, announce.

Every order takes the same crash-safe path (``place``): record it, check risk, send it, apply the broker's answer
(the lifecycle decides the change; the store keeps it with the event it owes), then publish the outbox. A
redelivered signal or command finds its client order id already recorded and places nothing; one recorded but
never sent (a crash in between) is sent once the broker confirms it does not have it. Start-up and crash recovery
are one path (``recover``): reload, reconcile with the broker, send what was never sent, announce what is owed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from shared.contracts import BalancesObserved, BalanceView, Message, OrderType, SignalGenerated, StreamPositions
from shared.messaging.bus import MessageBus
from shared.messaging.outbox import OutboxPublisher
from shared.runtime.clock import Clock

from .adapters.broker import Broker, OutcomeUnknown
from .adapters.store import OrderStore
from .domain.account import ExecutionAccount
from .domain.events import order_event, refusal
from .domain.lifecycle import Change, decide
from .domain.orders import Order, OrderStatus, client_order_id_for, order_for_signal
from .domain.reconcile import reconcile
from .domain.reports import Accepted, Canceled, Expired, Filled, OrderEvent, Rejected, Report, Submitted, SubmitUnknown
from .domain.risk import RiskLimits, check_order, reduces_position
from .domain.sizing import SizingError, SizingPolicy, size_order

log = logging.getLogger(__name__)


@dataclass
class OrderFlow:
    """The order store, the broker, sizing and risk rules, the account, and the outside world."""

    store: OrderStore
    broker: Broker
    sizing: SizingPolicy
    limits: RiskLimits
    bus: MessageBus
    clock: Clock
    source: str
    lost_after: timedelta = timedelta(minutes=1)
    mode: str = "replay"
    """How orders meet the market (replay, dry-run, sandbox, live): status reports say it."""
    last_fill_id: str | None = None
    """The last fill this process applied: balances read after it are compared once the portfolio has it too."""
    account: ExecutionAccount = field(default_factory=ExecutionAccount)
    prices: StreamPositions = field(default_factory=StreamPositions)
    """What market events the account's last prices have seen (a repeated bar does not move a price back)."""
    publisher: OutboxPublisher = field(init=False)
    _sending: asyncio.Lock = field(init=False)
    """Held while an order is checked and sent, and while reconciling: reconciliation never sees an order the
    broker is about to learn of as one it lost."""

    def __post_init__(self) -> None:
        self.publisher = OutboxPublisher(self.store.outbox, self.bus)
        self._sending = asyncio.Lock()

    # -- orders ------------------------------------------------------------------------------------------------
    def order_for(self, signal: SignalGenerated) -> Order | str | None:
        """Return the order a signal asks for, the reason it cannot have one, or ``None`` when none is needed."""
        account = self.account
        position = account.projected_position(signal.strategy_id, signal.symbol)
        price = account.prices.get(signal.symbol, signal.reference_price)
        try:
            sized = size_order(signal, self.sizing, position=position, price=price, equity=account.equity)
        except SizingError as error:
            return str(error)
        if sized is None:
            return None
        # reduce-only only if it reduces what is filled now: an exit may overtake the fill of its entry
        filled = account.position(signal.strategy_id, signal.symbol)
        reduce_only = sized.reduce_only and reduces_position(sized.side, sized.quantity, filled)
        # event time: the order is placed as of the market event behind the signal (see the paper matcher)
        return order_for_signal(signal, sized.side, sized.quantity, signal.ts_event, reduce_only=reduce_only,
                                recorded_at=self.clock.now())

    async def refuse(self, signal: SignalGenerated, reason: str) -> None:
        """Announce, once, that ``signal`` could not become an order."""
        client_order_id = client_order_id_for(signal.message_id)
        self.store.refuse(client_order_id, refusal(signal, client_order_id, reason, source=self.source,
                                                   now=self.clock.now()))
        await self.publisher.flush()

    async def place(self, order: Order, cause: Message) -> None:
        """Record ``order``, check risk, send it, apply the answer, publish: each step survives a crash."""
        if self.store.record(order):
            self.account.track(order)
            await self.check_and_send(order, cause)
        elif await self._never_reached_the_broker(order.client_order_id):
            # a crash came between recording and sending: the broker does not know the order, so send it now
            await self.check_and_send(order, cause)
        await self.publisher.flush()  # for a redelivery, only the announcements may still be owed

    async def _never_reached_the_broker(self, client_order_id: str) -> bool:
        recorded = self.store.get(client_order_id)
        return (recorded is not None and recorded.status is OrderStatus.PENDING_SUBMIT
                and not await self.broker.orders([client_order_id]))

    async def check_and_send(self, order: Order, cause: Message | None) -> None:
        """Run pre-trade risk on a recorded order, then send it and apply the broker's answer."""
        async with self._sending:
            await self._check_and_send(order, cause)

    async def _check_and_send(self, order: Order, cause: Message | None) -> None:
        now = self.clock.now()
        reason = check_order(order, self.account.exposure(excluding=order.client_order_id), self.limits, now)
        if reason is not None:
            self.apply(Rejected(order.client_order_id, reason, now), cause)
            return
        self.account.note_sent(now)
        reports: Sequence[OrderEvent]
        try:
            reports = await self.broker.submit(order)
        except OutcomeUnknown as error:
            reports = [SubmitUnknown(order.client_order_id, self.clock.now(), str(error))]
        for report in reports or [Submitted(order.client_order_id, self.clock.now())]:
            self.apply(report, cause)

    async def cancel(self, client_order_id: str, cause: Message, reason: str = "") -> None:
        """Cancel an order that is working (one never sent is canceled here, without asking the broker)."""
        order = self.store.get(client_order_id)
        if order is None or order.is_terminal:
            return  # nothing working under that id: canceling is already true
        if order.status is OrderStatus.PENDING_SUBMIT:
            self.apply(Canceled(order.client_order_id, None, order.filled_quantity, self.clock.now(), reason), cause)
        else:
            self.apply_all(await self.broker.cancel(order.client_order_id), cause)
        await self.publisher.flush()

    async def cancel_entries(self, cause: Message, reason: str) -> int:
        """Cancel every working order that would add to a position (a halt: no new risk); return how many."""
        entries = [order for order in list(self.account.working.values())
                   if not order.reduce_only and not reduces_position(
                       order.side, order.quantity - order.filled_quantity,
                       self.account.position(order.strategy_id, order.symbol))]
        for order in entries:
            await self.cancel(order.client_order_id, cause, reason)
        return len(entries)

    async def cancel_resting_entries(self, strategy_id: str, symbol: str, cause: Message) -> None:
        """Cancel a strategy's resting limit and stop orders in a symbol: an exit means no new entry either."""
        for order in self.account.resting(strategy_id, symbol):
            if order.order_type is not OrderType.MARKET and order.status is not OrderStatus.PENDING_SUBMIT:
                self.apply_all(await self.broker.cancel(order.client_order_id), cause)

    # -- reports -----------------------------------------------------------------------------------------------
    async def on_market(self, event: Message, close: Decimal | None) -> None:
        """Show a market event to the broker (a bar's ``close`` also prices the account), apply what it causes."""
        if close is not None and self.prices.advance(event):  # type: ignore[arg-type]
            self.account.prices[event.symbol] = close  # type: ignore[attr-defined]
        reports = await self.broker.on_market(event)
        if reports:
            self.apply_all(reports, event)
            await self.publisher.flush()

    async def on_reports(self, reports: Sequence[Report]) -> None:
        """Take reports a broker pushed on its own (a venue's order stream): apply them, announce them."""
        self.apply_all(reports, None)
        await self.publisher.flush()

    def apply_all(self, reports: Sequence[OrderEvent], cause: Message | None) -> None:
        """Apply several reports in order."""
        for report in reports:
            self.apply(report, cause)

    def apply(self, report: OrderEvent, cause: Message | None) -> Change | None:
        """Apply one report: decide the change, store it with the event it owes, update the account.

        A fill, cancel or expiry the broker reports of an order it has not answered yet (its stream overtook the
        answer, or the answer was lost) proves that it accepted the order: that is applied and announced first,
        as reconciliation does, so every order the broker took is announced accepted before anything else.
        """
        store = self.store
        if isinstance(report, (Filled, Canceled, Expired)) and report.venue_order_id:
            order = store.get(report.client_order_id)
            if order is not None and order.status.is_unanswered:
                self.apply(Accepted(report.client_order_id, report.venue_order_id, report.ts), cause)
        fill_seen = isinstance(report, Filled) and store.seen_fill(report.fill_id)
        change = decide(store.get(report.client_order_id), report, fill_seen=fill_seen)
        if change is None:
            return None
        event = order_event(change.order, report, causation_id=cause.message_id if cause else None,
                            source=self.source, now=self.clock.now()) if change.announced else None
        store.save(change, event)
        self.account.apply(change)
        if isinstance(report, Filled):
            self.last_fill_id = report.fill_id
        return change

    async def observe_balances(self) -> None:
        """Read the venue's balances and publish them for the portfolio to compare (a paper broker has none)."""
        last_fill_id = self.last_fill_id
        balances = await self.broker.balances()
        if balances is None:
            return
        await self.publisher.flush()  # the fills announced before the read go out first
        if self.last_fill_id != last_fill_id:
            # a fill was applied during the read: the venue may or may not count it, so "the balances as of
            # this fill" would be a guess either way; the next round reads again
            log.debug("balances read while a fill arrived: not published")
            return
        now = self.clock.now()
        await self.bus.publish(BalancesObserved(
            ts_event=now, ts_init=now, source=self.source, venue=self.broker.name, last_fill_id=last_fill_id,
            balances=tuple(BalanceView(asset=asset, free=free, used=used, total=total)
                           for asset, (free, used, total) in sorted(balances.items()))))

    # -- recovery ----------------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Take the account as the store holds it (start-up: the store is the source of truth)."""
        self.account.reset(self.store.positions(), self.store.open_orders())
        self.account.halted, self.account.halt_reason = self.store.halt()

    async def recover(self, *, send_unsent: bool = False) -> None:
        """Reconcile with the broker (adopt what it has that we lack, resolve in-flight submits), then announce what
        is owed; with ``send_unsent`` (at start-up) also send what was recorded and never sent."""
        async with self._sending:
            await self._recover(send_unsent)
        await self.publisher.flush()

    async def _recover(self, send_unsent: bool) -> None:
        mine = {o.client_order_id: o for o in self.store.open_orders()}
        view = await self.broker.view(mine, self.store.reconcile_cursor())
        mine |= self.store.orders(o.client_order_id for o in view.orders)
        plan = reconcile(mine, view, self.store.seen_fill, self.clock.now(), self.lost_after)
        for adopted in plan.adopt:
            if self.store.record(adopted):
                self.account.track(adopted)
        self.apply_all(plan.events, None)
        for discrepancy in plan.discrepancies:
            log.error("reconciliation: %s", discrepancy)
        self.store.save_reconcile_cursor(view.cursor)
        for client_order_id in plan.unsent if send_unsent else ():
            order = self.store.get(client_order_id)
            if order is not None and order.status is OrderStatus.PENDING_SUBMIT:
                log.info("sending %s, recorded before a restart and never sent", client_order_id)
                await self._check_and_send(order, None)

    def set_halt(self, halted: bool, reason: str | None) -> None:
        """Halt or resume trading, and remember it across restarts."""
        account = self.account
        if (account.halted, account.halt_reason) != (halted, reason):
            account.halted, account.halt_reason = halted, reason
            self.store.save_halt(halted, reason)
