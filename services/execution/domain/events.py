"""Translate an order and the report just applied to it into the contract event the service publishes.

Event ids are derived from the client order id and the report (its kind; a fill's id), so the event announcing
one report has one id however often it is built: republished after a crash, it is recognised downstream.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from shared.contracts import (
    Event,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    SignalGenerated,
)

from .orders import Order
from .reports import Accepted, Canceled, Expired, Filled, OrderEvent, Rejected

_EVENT_IDS = uuid5(NAMESPACE_URL, "tradebus:execution:order-event")


def order_event_id(client_order_id: str, report: OrderEvent) -> UUID:
    """Return the message id of the event announcing ``report`` about order ``client_order_id``."""
    detail = report.fill_id if isinstance(report, Filled) else ""
    return uuid5(_EVENT_IDS, f"{client_order_id}/{type(report).__name__}/{detail}")


def refusal(signal: SignalGenerated, client_order_id: str, reason: str, *, source: str,
            now: datetime) -> OrderRejected:
    """Return the ``OrderRejected`` for a signal that could not become an order (it could not be sized)."""
    return OrderRejected.caused_by(signal, message_id=uuid5(_EVENT_IDS, f"{client_order_id}/Refused/"),
                                   ts_event=signal.ts_event, ts_init=now, source=source,
                                   client_order_id=client_order_id, strategy_id=signal.strategy_id,
                                   symbol=signal.symbol, reason=reason)


def order_event(order: Order, report: OrderEvent, *, causation_id: UUID | None, source: str,
                now: datetime) -> Event | None:
    """Return the event that announces ``report`` about ``order`` (the order after the report), or ``None``.

    ``Submitted``, ``SubmitUnknown`` and ``Triggered`` announce nothing. The event keeps the order's correlation
    id (the chain that began with the market data behind the signal) and names the message being handled when
    the report arrived (a signal, a command, the bar that filled the order) as its cause.
    """
    envelope = _envelope(order, report, causation_id, source, now)
    match report:
        case Accepted():
            return OrderAccepted(**envelope, venue_order_id=report.venue_order_id, side=order.side,
                                 quantity=order.quantity, order_type=order.order_type, limit_price=order.limit_price,
                                 stop_price=order.stop_price, time_in_force=order.time_in_force)
        case Rejected():
            return OrderRejected(**envelope, reason=report.reason)
        case Filled():
            return OrderFilled(**envelope, fill_id=report.fill_id, venue_order_id=report.venue_order_id,
                               side=order.side, quantity=report.quantity, price=report.price,
                               commission=report.commission, commission_currency=report.commission_currency,
                               cumulative_quantity=report.cumulative,
                               leaves_quantity=report.leaves)
        case Canceled():
            return OrderCanceled(**envelope, venue_order_id=report.venue_order_id,
                                 filled_quantity=report.filled_quantity, reason=report.reason)
        case Expired():
            return OrderExpired(**envelope, venue_order_id=report.venue_order_id,
                                filled_quantity=report.filled_quantity)
    return None


def _envelope(order: Order, report: OrderEvent, causation_id: UUID | None, source: str,
              now: datetime) -> dict[str, Any]:
    fields: dict[str, Any] = dict(message_id=order_event_id(order.client_order_id, report), ts_event=report.ts,
                                  ts_init=now, source=source, causation_id=causation_id,
                                  client_order_id=order.client_order_id, strategy_id=order.strategy_id,
                                  symbol=order.symbol)
    if order.correlation_id is not None:
        fields["correlation_id"] = UUID(order.correlation_id)
    return fields
