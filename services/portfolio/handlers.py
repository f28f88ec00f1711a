"""The portfolio service's subscription table: order events, balances, bars and the operator's commands in;
positions, snapshots, halts, balance differences and exits out.

What a fill or a bar owes (the position change and snapshot after a fill; the exit orders and the halt a bar's
risk check asks for) is decided in the handler, stored in the outbox together with the change that caused it,
and published from there, so a crash between the two loses nothing. Owed messages have ids derived from their
cause, so one sent twice (published, then again after a crash before it was marked) is recognisable downstream.
A repeated bar (its stream's sequence already seen) changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from shared.contracts import (
    BalanceDifference,
    BalancesDiffered,
    BalancesObserved,
    BarClosed,
    FlattenPositions,
    HaltTrading,
    Message,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderType,
    PortfolioSnapshot,
    PositionChanged,
    RequestStatus,
    ResumeTrading,
    StreamPositions,
    SubmitOrder,
    TradingHalted,
    TradingResumed,
)
from shared.messaging.bus import MessageBus
from shared.messaging.errors import ErrorPolicy
from shared.messaging.outbox import OutboxPublisher
from shared.messaging.subscriptions import Route, Table
from shared.runtime.clock import Clock

from .adapters import LedgerPersistence
from .domain import (
    CurvePoint,
    DrawdownTracker,
    EquityCurve,
    ExitIntent,
    KillSwitchState,
    Ledger,
    PositionUpdate,
    RiskGuard,
    check_balances,
    position_changed_values,
    snapshot_values,
)

EXIT_PREFIX = "exit:"
_OWED_IDS = uuid5(NAMESPACE_URL, "tradebus:portfolio:owed")

log = logging.getLogger(__name__)


@dataclass
class PortfolioDeps:
    """The portfolio's state and its outside world."""

    ledger: Ledger
    store: LedgerPersistence
    tracker: DrawdownTracker
    guard: RiskGuard
    bus: MessageBus
    clock: Clock
    source: str
    curve: EquityCurve = field(default_factory=EquityCurve)
    positions: StreamPositions = field(default_factory=StreamPositions)
    owing: bool = True
    """Whether the outbox may hold something (at start-up it may: a crash can leave entries behind)."""
    observe: Callable[[Message], None] = lambda message: None
    """Called with every message published (the Prometheus gauges read snapshots and balance differences)."""
    account_currency: str = "USDT"
    """The currency of cash, in the venue's balances."""
    balance_baseline: dict[str, Decimal] = field(default_factory=dict)
    balance_tolerance: Decimal = Decimal(0)
    balance_pending: dict[str, Decimal] = field(default_factory=dict)
    """What the last balance comparison found, for the next to confirm (``domain.balances``); in memory only."""
    publisher: OutboxPublisher = field(init=False)

    def __post_init__(self) -> None:
        self.publisher = OutboxPublisher(self.store.outbox, self.bus, self.observe)

    def kill_switch(self) -> KillSwitchState:
        """Return the state of the kill switch to store."""
        return KillSwitchState(self.tracker.peak, self.guard.halted, self.guard.halt_reason, self.guard.flattening)


def owed_id(kind: str, cause: UUID | str) -> UUID:
    """Return the id of the ``kind`` message owed for ``cause``: the same however often it is built."""
    return uuid5(_OWED_IDS, f"{kind}/{cause}")


async def on_fill(fill: OrderFilled, deps: PortfolioDeps) -> None:
    update = deps.store.apply_fill(deps.ledger, fill, lambda update: fill_announcements(fill, update, deps))
    if update is not None:  # else already applied: a redelivery
        deps.owing = True
        log.info("%s %s %s %s @ %s: position %s, cash %s", fill.strategy_id, fill.side.value, fill.quantity,
                 fill.symbol, fill.price, update.position.quantity, deps.ledger.cash)
    await publish_owed(deps)


async def on_bar(bar: BarClosed, deps: PortfolioDeps) -> None:
    if deps.positions.is_new(bar):
        owed = mark_to_market(bar, deps)
        deps.positions.advance(bar)
        deps.owing = deps.owing or bool(owed)
    await publish_owed(deps)


async def on_order_ended(event: OrderRejected | OrderCanceled | OrderExpired, deps: PortfolioDeps) -> None:
    if event.client_order_id.startswith(EXIT_PREFIX):
        deps.guard.release(event.strategy_id, event.symbol)


async def on_halt(command: HaltTrading, deps: PortfolioDeps) -> None:
    if deps.guard.halt(f"operator: {command.reason}"):
        log.warning("trading halted by the operator: %s", command.reason)
    reason = deps.guard.halt_reason or command.reason
    await owe(deps, [halt_event(command, reason, deps), snapshot(command, deps, "halt")])


async def on_resume(command: ResumeTrading, deps: PortfolioDeps) -> None:
    if deps.guard.halted:
        log.warning("trading resumed by the operator (%s); drawdown is measured afresh from equity %s",
                    command.reason, deps.ledger.equity())
    deps.guard.resume()
    deps.tracker.restart()
    resumed = TradingResumed.caused_by(command, message_id=owed_id("resume", command.message_id),
                                       ts_event=command.ts_event, ts_init=deps.clock.now(), source=deps.source,
                                       reason=f"operator: {command.reason}")
    await owe(deps, [resumed, snapshot(command, deps, "resume")])


async def on_flatten(command: FlattenPositions, deps: PortfolioDeps) -> None:
    # the exits are placed at the market's time, not the operator's clock: in a replay they lie years apart, and
    # an order dated after every bar would wait for a bar that never comes
    market_time = deps.curve.last_time() or command.ts_event
    exits = [exit_order(intent, command, deps, market_time)
             for intent in deps.guard.flatten(deps.ledger, command.symbol)]
    log.warning("flattening %d position(s)%s: %s", len(exits), f" of {command.symbol}" if command.symbol else "",
                command.reason)
    # the snapshot comes last: the operator's tool knows from it that every exit order was sent
    await owe(deps, [*exits, snapshot(command, deps, "flatten")])


async def on_status(command: RequestStatus, deps: PortfolioDeps) -> None:
    await deps.bus.publish(snapshot(command, deps, "status"))


async def on_balances(observed: BalancesObserved, deps: PortfolioDeps) -> None:
    if observed.last_fill_id is not None and not deps.ledger.has_applied(observed.last_fill_id):
        return  # read before a fill this portfolio has not applied yet: the next observation compares
    check = check_balances(deps.ledger.balances(deps.account_currency),
                           {balance.asset: balance.total for balance in observed.balances}, deps.balance_baseline,
                           deps.balance_tolerance, deps.balance_pending)
    deps.balance_pending = check.pending
    owed: list[Message] = []
    if check.differences:
        for difference in check.differences:
            log.error("the venue %s holds %s %s, the books expect %s: a difference of %s, left for a human to "
                      "explain", observed.venue, difference.observed, difference.asset, difference.expected,
                      difference.amount)
        owed.append(BalancesDiffered.caused_by(
            observed, message_id=owed_id("balances", observed.message_id), ts_event=observed.ts_event,
            ts_init=deps.clock.now(), source=deps.source, venue=observed.venue,
            differences=tuple(BalanceDifference(asset=d.asset, expected=d.expected, observed=d.observed,
                                                difference=d.amount) for d in check.differences)))
    if owed or check.baseline != deps.balance_baseline:
        deps.balance_baseline = check.baseline
        deps.store.save_balance_baseline(check.baseline, owed)
        deps.owing = deps.owing or bool(owed)
    await publish_owed(deps)


async def owe(deps: PortfolioDeps, owed: list[Message]) -> None:
    """Store the kill switch with what a command owes (one write), then publish it."""
    deps.store.save_kill_switch(deps.kill_switch(), owed)
    deps.owing = True
    await publish_owed(deps)


def mark_to_market(bar: BarClosed, deps: PortfolioDeps) -> list[Message]:
    """Mark the bar's symbol, follow the drawdown, check the risk rules; store it all and return what is owed."""
    ledger = deps.ledger
    ledger.mark(bar.symbol, bar.close)
    equity = ledger.equity()
    new_peak = deps.tracker.update(equity)
    point = CurvePoint.at(bar.ts_event, equity, in_market=ledger.in_market())
    deps.curve.add(point)
    owed: list[Message] = []
    halted = False
    if deps.guard.watching:
        actions = deps.guard.evaluate(ledger, deps.tracker.drawdown, symbol=bar.symbol)
        owed += [exit_order(intent, bar, deps) for intent in actions.exits]
        if actions.halt_reason:
            halted = True
            owed += [halt_event(bar, actions.halt_reason, deps), snapshot(bar, deps, "halt")]
    # the kill switch's state changes only with a new peak or a halt: most bars have nothing to store of it
    deps.store.record_bar(bar, point, deps.kill_switch() if new_peak or halted else None, owed)
    return owed


def fill_announcements(fill: OrderFilled, update: PositionUpdate, deps: PortfolioDeps) -> list[Message]:
    """Return what an applied fill owes: its position change, then the account's snapshot after it."""
    position = PositionChanged.caused_by(
        fill, message_id=owed_id("position", fill.fill_id), ts_event=fill.ts_event, ts_init=deps.clock.now(),
        source=deps.source, **position_changed_values(update))
    return [position, snapshot(fill, deps, "fill")]


def exit_order(intent: ExitIntent, cause: Message, deps: PortfolioDeps, ts_event: datetime | None = None
               ) -> SubmitOrder:
    """Return the reduce-only market order that closes the position ``intent`` names, at ``ts_event`` (default:
    its cause's)."""
    return SubmitOrder.caused_by(
        cause, message_id=owed_id("exit", intent.intent_id), ts_event=ts_event or cause.ts_event,
        ts_init=deps.clock.now(),
        source=deps.source, client_order_id=intent.intent_id, strategy_id=intent.strategy_id, symbol=intent.symbol,
        side=intent.side, quantity=intent.quantity, order_type=OrderType.MARKET, reduce_only=True)


def halt_event(cause: Message, reason: str, deps: PortfolioDeps) -> TradingHalted:
    """Return the announcement that trading halted; execution refuses new risk from then on."""
    return TradingHalted.caused_by(cause, message_id=owed_id("halt", cause.message_id), ts_event=cause.ts_event,
                                   ts_init=deps.clock.now(), source=deps.source, reason=reason,
                                   drawdown=deps.tracker.drawdown)


def snapshot(cause: Message | None, deps: PortfolioDeps, kind: str = "") -> PortfolioSnapshot:
    """Return the account's state now, caused by ``cause`` (with an id owed to it), or by nothing (the timer)."""
    fields = snapshot_values(deps.ledger, deps.tracker, trading_halted=deps.guard.halted)
    now = deps.clock.now()
    if cause is None:
        return PortfolioSnapshot(ts_event=now, ts_init=now, source=deps.source, **fields)
    return PortfolioSnapshot.caused_by(cause, message_id=owed_id(f"snapshot:{kind}", cause.message_id),
                                       ts_event=cause.ts_event, ts_init=now, source=deps.source, **fields)


async def publish_owed(deps: PortfolioDeps) -> None:
    """Publish every message the outbox holds, oldest first, marking each once the broker confirmed it."""
    if deps.owing:
        await deps.publisher.flush()
        deps.owing = False


async def publish_snapshot(deps: PortfolioDeps) -> None:
    """Publish the account's state now (the timer's: no cause, nothing owed)."""
    current = snapshot(None, deps)
    await deps.bus.publish(current)
    deps.observe(current)


ORDER_EVENT_HANDLERS = {OrderFilled: on_fill, OrderRejected: on_order_ended, OrderCanceled: on_order_ended,
                        OrderExpired: on_order_ended, BalancesObserved: on_balances}

SUBSCRIPTIONS: Table = {
    # money moves on both paths (fills, and risk exits decided on bars): an unexpected error stops the service
    "orders": Route(ORDER_EVENT_HANDLERS, ErrorPolicy.CRASH),
    "market": Route({BarClosed: on_bar}, ErrorPolicy.CRASH),
    "control": Route({HaltTrading: on_halt, ResumeTrading: on_resume, FlattenPositions: on_flatten,
                      RequestStatus: on_status}, ErrorPolicy.CRASH),
}
"""Queue purpose -> handlers, as ``topology.SUITE`` names the portfolio service's queues."""
