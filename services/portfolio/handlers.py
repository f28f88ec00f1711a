"""The portfolio service's handler table: fills and bars in; positions, snapshots, halts and risk exits out."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from shared.contracts import (
    BarClosed,
    Message,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderType,
    PortfolioSnapshot,
    PositionChanged,
    SubmitOrder,
    TradingHalted,
)
from shared.messaging.bus import MessageBus
from shared.runtime.clock import Clock

from .adapters import RiskState
from .domain import (
    DrawdownTracker,
    EquityCurve,
    ExitIntent,
    Ledger,
    PositionUpdate,
    RiskGuard,
    position_changed_values,
    snapshot_values,
)

EXIT_PREFIX = "exit:"

log = logging.getLogger(__name__)


class LedgerPersistence(Protocol):
    """Where applied fills and risk state are kept (SQLite live, nothing in a backtest)."""

    def apply_fill(self, ledger: Ledger, fill: OrderFilled) -> PositionUpdate | None: ...
    def save_risk_state(self, state: RiskState) -> None: ...


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
    dirty: bool = False
    observe: Callable[[PortfolioSnapshot], None] = lambda snapshot: None
    """Called with every snapshot published (the Prometheus gauges)."""


async def on_fill(fill: OrderFilled, deps: PortfolioDeps) -> None:
    update = deps.store.apply_fill(deps.ledger, fill)
    if update is None:
        return  # already applied: a redelivery
    log.info("%s %s %s %s @ %s: position %s, cash %s", fill.strategy_id, fill.side.value, fill.quantity, fill.symbol,
             fill.price, update.position.quantity, deps.ledger.cash)
    await deps.bus.publish(PositionChanged.caused_by(
        fill, ts_event=fill.ts_event, ts_init=deps.clock.now(), source=deps.source,
        **position_changed_values(update)))
    await publish_snapshot(fill, deps)


async def on_bar(bar: BarClosed, deps: PortfolioDeps) -> None:
    ledger = deps.ledger
    ledger.mark(bar.symbol, bar.close)
    equity = ledger.equity()
    if deps.tracker.update(equity):
        deps.store.save_risk_state(RiskState(deps.tracker.peak, deps.guard.halted, deps.guard.halt_reason))
    deps.curve.record(bar.ts_event, equity, in_market=ledger.in_market())
    deps.dirty = True
    if not deps.guard.watching:
        return  # no rule to check, not halted: nothing to decide on this bar
    actions = deps.guard.evaluate(ledger, deps.tracker.drawdown, symbol=bar.symbol)
    for intent in actions.exits:
        await deps.bus.publish(exit_order(intent, bar, deps))
    if actions.halt_reason:
        await halt(bar, actions.halt_reason, deps)


async def on_order_closed(event: OrderRejected | OrderCanceled | OrderExpired, deps: PortfolioDeps) -> None:
    if event.client_order_id.startswith(EXIT_PREFIX):
        deps.guard.release(event.strategy_id, event.symbol)


async def halt(cause: Message, reason: str, deps: PortfolioDeps) -> None:
    """Record and announce that trading is halted; execution refuses new risk from now on."""
    deps.store.save_risk_state(RiskState(deps.tracker.peak, True, reason))
    await deps.bus.publish(TradingHalted.caused_by(
        cause, ts_event=cause.ts_event, ts_init=deps.clock.now(), source=deps.source, reason=reason,
        drawdown=deps.tracker.drawdown))
    await publish_snapshot(cause, deps)


def exit_order(intent: ExitIntent, cause: Message, deps: PortfolioDeps) -> SubmitOrder:
    """Return the reduce-only market order that closes the position ``intent`` names."""
    return SubmitOrder.caused_by(
        cause, ts_event=cause.ts_event, ts_init=deps.clock.now(), source=deps.source,
        client_order_id=intent.intent_id, strategy_id=intent.strategy_id, symbol=intent.symbol, side=intent.side,
        quantity=intent.quantity, order_type=OrderType.MARKET, reduce_only=True)


async def publish_snapshot(cause: Message | None, deps: PortfolioDeps) -> None:
    """Publish the account's state now (after a change, or from the timer with no cause)."""
    fields = snapshot_values(deps.ledger, deps.tracker, trading_halted=deps.guard.halted)
    now = deps.clock.now()
    if cause is None:
        snapshot = PortfolioSnapshot(ts_event=now, ts_init=now, source=deps.source, **fields)
    else:
        snapshot = PortfolioSnapshot.caused_by(cause, ts_event=cause.ts_event, ts_init=now, source=deps.source,
                                               **fields)
    deps.dirty = False
    await deps.bus.publish(snapshot)
    deps.observe(snapshot)


FILL_HANDLERS = {OrderFilled: on_fill, OrderRejected: on_order_closed, OrderCanceled: on_order_closed,
                 OrderExpired: on_order_closed}
MARKET_HANDLERS = {BarClosed: on_bar}
