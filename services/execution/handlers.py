"""The execution service's subscription table: signals, order commands, market data and the portfolio's state in;
each message translated into a call on the order path (``OrderFlow``); status requests answered."""

from __future__ import annotations

import logging

from shared.contracts import (
    BarClosed,
    CancelOrder,
    Direction,
    ExecutionStatusReported,
    PortfolioSnapshot,
    QuoteTicked,
    RequestStatus,
    SignalGenerated,
    SubmitOrder,
    TradeTicked,
    TradingHalted,
    TradingResumed,
    WorkingOrderView,
)
from shared.messaging.errors import ErrorPolicy
from shared.messaging.subscriptions import Route, Table

from .domain.orders import Order
from .order_flow import OrderFlow

log = logging.getLogger(__name__)


async def on_signal(signal: SignalGenerated, flow: OrderFlow) -> None:
    if signal.direction is Direction.EXIT:
        await flow.cancel_resting_entries(signal.strategy_id, signal.symbol, signal)
    order = flow.order_for(signal)
    if isinstance(order, str):
        await flow.refuse(signal, order)
    elif order is not None:
        await flow.place(order, signal)


async def on_submit(command: SubmitOrder, flow: OrderFlow) -> None:
    await flow.place(Order.from_command(command, command.ts_event, recorded_at=flow.clock.now()), command)


async def on_cancel(command: CancelOrder, flow: OrderFlow) -> None:
    await flow.cancel(command.client_order_id, command, command.reason)


async def on_bar(bar: BarClosed, flow: OrderFlow) -> None:
    await flow.on_market(bar, bar.close)


async def on_tick(event: TradeTicked | QuoteTicked, flow: OrderFlow) -> None:
    await flow.on_market(event, None)


async def on_snapshot(snapshot: PortfolioSnapshot, flow: OrderFlow) -> None:
    flow.account.equity = snapshot.equity
    flow.set_halt(snapshot.trading_halted, flow.account.halt_reason if snapshot.trading_halted else None)


async def on_halted(event: TradingHalted, flow: OrderFlow) -> None:
    flow.set_halt(True, event.reason)
    if canceled := await flow.cancel_entries(event, f"trading halted: {event.reason}"):
        log.warning("trading halted (%s): %d working entry order(s) canceled", event.reason, canceled)


async def on_status_request(request: RequestStatus, flow: OrderFlow) -> None:
    await flow.bus.publish(status_report(request, flow))


def status_report(request: RequestStatus, flow: OrderFlow) -> ExecutionStatusReported:
    """Return where the execution service stands, in answer to ``request``."""
    working = tuple(
        WorkingOrderView(client_order_id=o.client_order_id, strategy_id=o.strategy_id, symbol=o.symbol, side=o.side,
                         order_type=o.order_type, quantity=o.quantity, filled_quantity=o.filled_quantity,
                         limit_price=o.limit_price, stop_price=o.stop_price, status=o.status.value)
        for o in sorted(flow.account.working.values(), key=lambda order: order.client_order_id))
    return ExecutionStatusReported.caused_by(
        request, ts_event=request.ts_event, ts_init=flow.clock.now(), source=flow.source, venue=flow.broker.name,
        mode=flow.mode, trading_halted=flow.account.halted, halt_reason=flow.account.halt_reason,
        working_orders=working)


async def on_resumed(event: TradingResumed, flow: OrderFlow) -> None:
    flow.set_halt(False, None)


SUBSCRIPTIONS: Table = {
    # money moves on these paths: an unexpected error stops the service (crash-only recovery on restart)
    "market": Route({BarClosed: on_bar, TradeTicked: on_tick, QuoteTicked: on_tick}, ErrorPolicy.CRASH),
    "signals": Route({SignalGenerated: on_signal}, ErrorPolicy.CRASH),
    "commands": Route({SubmitOrder: on_submit, CancelOrder: on_cancel}, ErrorPolicy.CRASH),
    "portfolio": Route({PortfolioSnapshot: on_snapshot, TradingHalted: on_halted, TradingResumed: on_resumed}),
    "control": Route({RequestStatus: on_status_request}),
}
"""Queue purpose -> handlers, as ``topology.SUITE`` names the execution service's queues."""
