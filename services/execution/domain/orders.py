"""Orders and their state machine.

::

    PENDING_SUBMIT --Submitted-----> SUBMITTED --+
          |        --SubmitUnknown-> IN_FLIGHT --+--Accepted--> ACCEPTED --Filled--> PARTIALLY_FILLED --Filled--> FILLED
          |                                      |
          +--------------------------------------+--Rejected--> REJECTED
    any live state --Canceled--> CANCELED;  any live state but PENDING_SUBMIT --Expired--> EXPIRED

A broker that answers at once takes PENDING_SUBMIT straight to ACCEPTED, REJECTED or a fill, and a fill may
arrive before the acceptance (it implies it). An order is recorded ``PENDING_SUBMIT`` before it
is sent; a submit whose outcome is unknown leaves it ``IN_FLIGHT`` until the broker answers, and nothing here
ever sends it again. Anything else (a fill after a cancel, an acceptance after a rejection, an overfill) raises
``IllegalTransition``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from shared.contracts import OrderType, Side, SignalGenerated, SubmitOrder, TimeInForce

from .reports import (
    Accepted,
    Canceled,
    Expired,
    Filled,
    OrderEvent,
    Rejected,
    Submitted,
    SubmitUnknown,
    Triggered,
)

_CLIENT_ORDER_ID_NAMESPACE = uuid5(NAMESPACE_URL, "tradebus:execution:client-order-id")
_ZERO = Decimal(0)


class OrderStatus(StrEnum):
    """Where an order is in its life."""

    PENDING_SUBMIT = "pending_submit"
    SUBMITTED = "submitted"
    IN_FLIGHT = "in_flight"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        """Return whether nothing can happen to the order any more."""
        return self in _TERMINAL

    @property
    def is_unanswered(self) -> bool:
        """Return whether the broker has not yet accepted, rejected or filled the order."""
        return self in _UNANSWERED


_TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED})
_UNANSWERED = frozenset({OrderStatus.PENDING_SUBMIT, OrderStatus.SUBMITTED, OrderStatus.IN_FLIGHT})
_WORKING = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})


_STATE_FIELDS = frozenset({"status", "venue_order_id", "filled_quantity", "average_fill_price", "reason",
                           "updated_at"})
_new_order = object.__new__
_set_field = object.__setattr__


class IllegalTransition(Exception):
    """Raised when an event cannot happen to an order in its current state (a bug or a broker inconsistency)."""


@dataclass(frozen=True, slots=True)
class Order:
    """One order and its current state; every change makes a new ``Order`` (see ``transition``)."""

    client_order_id: str
    strategy_id: str
    symbol: str
    side: Side
    quantity: Decimal
    created_at: datetime
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    status: OrderStatus = OrderStatus.PENDING_SUBMIT
    venue_order_id: str | None = None
    filled_quantity: Decimal = _ZERO
    average_fill_price: Decimal | None = None
    reason: str = ""
    updated_at: datetime | None = None
    correlation_id: str | None = None
    recorded_at: datetime | None = None
    """When this service recorded the order, by its own clock (event times of a replay lie years back)."""

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"order quantity must be positive, got {self.quantity}")
        if self.created_at.tzinfo is None:
            raise ValueError("order created_at must be timezone-aware")
        self.order_type.check_prices(self.limit_price, self.stop_price)

    @property
    def leaves_quantity(self) -> Decimal:
        """Return the quantity still to fill."""
        return self.quantity - self.filled_quantity

    @property
    def is_terminal(self) -> bool:
        """Return whether nothing can happen to the order any more."""
        return self.status in _TERMINAL

    @property
    def signed_leaves(self) -> Decimal:
        """Return the unfilled quantity signed by side (negative for a sell)."""
        return self.leaves_quantity if self.side is Side.BUY else -self.leaves_quantity

    @property
    def last_touched(self) -> datetime:
        """Return when this service last changed the order, by its own clock: what ``lost_after`` counts from.

        An unsent order counts from when it was recorded; one sent, from the send (``Submitted`` and
        ``SubmitUnknown`` carry the service's clock).
        """
        if self.status is OrderStatus.PENDING_SUBMIT:
            return self.recorded_at or self.created_at
        return self.updated_at or self.recorded_at or self.created_at

    @classmethod
    def from_command(cls, command: SubmitOrder, now: datetime, recorded_at: datetime | None = None) -> Order:
        """Build a pending order from a ``SubmitOrder`` command (as of ``now``, recorded at ``recorded_at``)."""
        return cls(
            client_order_id=command.client_order_id, strategy_id=command.strategy_id, symbol=command.symbol,
            side=command.side, quantity=command.quantity, created_at=now, order_type=command.order_type,
            limit_price=command.limit_price, stop_price=command.stop_price,
            time_in_force=command.time_in_force, reduce_only=command.reduce_only, updated_at=now,
            correlation_id=str(command.correlation_id), recorded_at=recorded_at)


_ORDER_FIELDS = tuple(f.name for f in fields(Order))


def order_for_signal(signal: SignalGenerated, side: Side, quantity: Decimal, now: datetime, *,
                     reduce_only: bool = False, time_in_force: TimeInForce = TimeInForce.GTC,
                     recorded_at: datetime | None = None) -> Order:
    """Build the pending order a sized signal asks for; its client order id derives from the signal's id.

    An exit whose order type lacks the prices it needs (exits are not price-checked by the contract) goes out
    as a market order.
    """
    order_type, limit_price, stop_price = signal.order_type, signal.limit_price, signal.stop_price
    try:
        order_type.check_prices(limit_price, stop_price)
    except ValueError:
        order_type, limit_price, stop_price = OrderType.MARKET, None, None
    return Order(
        client_order_id=client_order_id_for(signal.message_id), strategy_id=signal.strategy_id,
        symbol=signal.symbol, side=side, quantity=quantity, created_at=now, order_type=order_type,
        limit_price=limit_price, stop_price=stop_price, time_in_force=time_in_force, reduce_only=reduce_only,
        updated_at=now, correlation_id=str(signal.correlation_id), recorded_at=recorded_at)


def client_order_id_for(cause_message_id: UUID | str, leg: int = 0) -> str:
    """Return the client order id for leg ``leg`` of the order caused by ``cause_message_id``.

    Deterministic (a UUID5), so a redelivered message maps to the same id and never becomes a second order.
    """
    return str(uuid5(_CLIENT_ORDER_ID_NAMESPACE, f"{cause_message_id}/{leg}"))


def transition(order: Order, event: OrderEvent) -> Order:
    """Return ``order`` after ``event``; raise ``IllegalTransition`` if the event cannot happen in its state."""
    if event.client_order_id != order.client_order_id:
        raise IllegalTransition(f"{type(event).__name__} for {event.client_order_id} "
                                f"applied to {order.client_order_id}")
    status = order.status
    match event:
        case Submitted():
            _require(order, event, status in (OrderStatus.PENDING_SUBMIT, OrderStatus.IN_FLIGHT))
            return evolve(order, status=OrderStatus.SUBMITTED, updated_at=event.ts)
        case SubmitUnknown():
            _require(order, event, status is OrderStatus.PENDING_SUBMIT)
            return evolve(order, status=OrderStatus.IN_FLIGHT, reason=event.reason, updated_at=event.ts)
        case Accepted():
            _require(order, event, status in _UNANSWERED)
            return evolve(order, status=OrderStatus.ACCEPTED, venue_order_id=event.venue_order_id,
                           updated_at=event.ts)
        case Rejected():
            _require(order, event, status in _UNANSWERED)
            return evolve(order, status=OrderStatus.REJECTED, reason=event.reason, updated_at=event.ts,
                           venue_order_id=event.venue_order_id or order.venue_order_id)
        case Filled():
            return _fill(order, event)
        case Canceled():
            _require(order, event, not order.is_terminal)
            return evolve(order, status=OrderStatus.CANCELED, reason=event.reason, updated_at=event.ts,
                           venue_order_id=event.venue_order_id or order.venue_order_id)
        case Expired():
            _require(order, event, not order.is_terminal and status is not OrderStatus.PENDING_SUBMIT)
            return evolve(order, status=OrderStatus.EXPIRED, updated_at=event.ts,
                           venue_order_id=event.venue_order_id or order.venue_order_id)
        case Triggered():
            _require(order, event, status in _WORKING)
            return evolve(order, updated_at=event.ts)
    raise TypeError(f"not an order event: {event!r}")


def evolve(order: Order, **changes: object) -> Order:
    """Return a copy of ``order`` with ``changes`` to its state fields (status, fills, ids, reason, times).

    Unlike ``dataclasses.replace`` it does not run ``__post_init__`` again: what it checks (quantity, time zone,
    prices for the order type) never changes after creation. Unknown field names raise ``TypeError``.
    """
    unknown = changes.keys() - _STATE_FIELDS
    if unknown:
        raise TypeError(f"evolve cannot change {sorted(unknown)}")
    new = _new_order(Order)
    for name in _ORDER_FIELDS:
        _set_field(new, name, changes[name] if name in changes else getattr(order, name))
    return new


def already_applied(order: Order, event: OrderEvent) -> bool:
    """Return whether ``event`` repeats or is overtaken by what ``order`` already records (apply nothing).

    A late ``Submitted``/``SubmitUnknown`` after the broker answered, a second ``Accepted`` with the same venue
    id, a terminal report equal to the current status. Duplicate fills are recognised by fill id, in the store.
    """
    match event:
        case Submitted():
            return order.status not in (OrderStatus.PENDING_SUBMIT, OrderStatus.IN_FLIGHT)
        case SubmitUnknown():
            return order.status is not OrderStatus.PENDING_SUBMIT
        case Accepted():
            return (order.venue_order_id == event.venue_order_id and not order.status.is_unanswered
                    and order.status is not OrderStatus.REJECTED)
        case Rejected():
            return order.status is OrderStatus.REJECTED
        case Canceled():
            return order.status is OrderStatus.CANCELED
        case Expired():
            return order.status is OrderStatus.EXPIRED
    return False


def _fill(order: Order, fill: Filled) -> Order:
    _require(order, fill, not order.is_terminal)
    if fill.quantity <= 0:
        raise IllegalTransition(f"fill {fill.fill_id} of {order.client_order_id} has quantity {fill.quantity}")
    if fill.quantity > order.leaves_quantity:
        raise IllegalTransition(f"overfill: fill {fill.fill_id} of {fill.quantity} exceeds the "
                                f"{order.leaves_quantity} left on {order.client_order_id}")
    filled = order.filled_quantity + fill.quantity
    if fill.cumulative != filled:
        raise IllegalTransition(f"fill {fill.fill_id} says {fill.cumulative} filled, the order has {filled}")
    previous = order.average_fill_price or _ZERO
    average = (previous * order.filled_quantity + fill.price * fill.quantity) / filled
    status = OrderStatus.FILLED if filled == order.quantity else OrderStatus.PARTIALLY_FILLED
    return evolve(order, status=status, filled_quantity=filled, average_fill_price=average,
                   venue_order_id=order.venue_order_id or fill.venue_order_id, updated_at=fill.ts)


def _require(order: Order, event: OrderEvent, allowed: bool) -> None:
    if not allowed:
        raise IllegalTransition(f"{type(event).__name__} cannot happen to {order.client_order_id} "
                                f"in status {order.status.value}")
