"""Reconcile the service's order store with what the broker knows: crash-only recovery, and in-flight resolution.

The plan says what to record and publish; it never says "send again". Orders the broker has that the store lacks
(a crash between send and record) are adopted; fills the store has not recorded are applied; submits whose
outcome was unknown take the broker's answer. An order the broker does not know that was never sent (a crash
between record and send) is *unsent*: the caller sends it, once. One the broker still does not know ``lost_after``
after the service last touched it (by its own clock: a replay's event times lie years back) never reached it and
is rejected. Anything that cannot be explained (the broker lost an accepted order, fills are missing) is listed
as a discrepancy for a human, not guessed at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from .orders import IllegalTransition, Order, OrderStatus, transition
from .reports import Accepted, Canceled, Expired, Filled, OrderEvent, Rejected

NEVER_RECEIVED = "the broker never received the order"


@dataclass(frozen=True, slots=True)
class BrokerView:
    """What the broker says: its view of orders (open ones and any asked about) and its fills since the last
    reconciliation, oldest first; ``cursor`` is where the next one starts (the broker's own bookmark)."""

    orders: Sequence[Order] = ()
    fills: Sequence[Filled] = ()
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    """What to do: record each order of ``adopt`` as pending, then apply and publish ``events`` in order."""

    adopt: tuple[Order, ...] = ()
    events: tuple[OrderEvent, ...] = ()
    still_in_flight: tuple[str, ...] = ()
    discrepancies: tuple[str, ...] = ()
    unsent: tuple[str, ...] = ()
    """Recorded orders never sent: send each once (after risk, like any new order)."""


@dataclass
class _Plan:
    adopt: list[Order] = field(default_factory=list)
    events: list[OrderEvent] = field(default_factory=list)
    still_in_flight: list[str] = field(default_factory=list)
    discrepancies: list[str] = field(default_factory=list)
    unsent: list[str] = field(default_factory=list)

    def freeze(self) -> ReconcilePlan:
        return ReconcilePlan(tuple(self.adopt), tuple(self.events), tuple(self.still_in_flight),
                             tuple(self.discrepancies), tuple(self.unsent))


def reconcile(store_orders: Mapping[str, Order], broker: BrokerView, fill_seen: Callable[[str], bool],
              now: datetime, lost_after: timedelta) -> ReconcilePlan:
    """Return the plan that brings the store in line with ``broker``.

    ``store_orders`` holds the store's open orders and any order the broker mentions that the store knows;
    ``fill_seen`` tells whether a fill id is already recorded.
    """
    plan = _Plan()
    new_fills = _group_unseen(broker.fills, fill_seen)
    broker_orders = {order.client_order_id: order for order in broker.orders}
    for client_id, known_there in broker_orders.items():
        if client_id not in store_orders:
            base = _as_pending(known_there)
            plan.adopt.append(base)
            _catch_up(base, known_there, new_fills.pop(client_id, []), now, plan)
    for client_id, ours in store_orders.items():
        theirs = broker_orders.get(client_id)
        fills = new_fills.pop(client_id, [])
        if ours.is_terminal:
            _check_terminal(ours, theirs, fills, plan)
        elif theirs is None:
            _unknown_to_broker(ours, now, lost_after, plan)
        else:
            _catch_up(ours, theirs, fills, now, plan)
    for client_id, fills in new_fills.items():
        plan.discrepancies.append(f"{len(fills)} fill(s) for {client_id}, an order neither side can describe")
    return plan.freeze()


def _catch_up(ours: Order, theirs: Order, fills: list[Filled], now: datetime, plan: _Plan) -> None:
    steps: list[OrderEvent] = []
    if ours.status.is_unanswered and theirs.status is OrderStatus.REJECTED:
        steps.append(Rejected(ours.client_order_id, theirs.reason or "rejected by the broker", now,
                              theirs.venue_order_id))
    elif ours.status.is_unanswered and not theirs.status.is_unanswered and theirs.venue_order_id:
        steps.append(Accepted(ours.client_order_id, theirs.venue_order_id, now))
    steps.extend(fills)
    state = _apply_all(ours, steps, plan)
    if state is None:
        return
    if state.filled_quantity != theirs.filled_quantity:
        plan.discrepancies.append(f"{ours.client_order_id}: broker has {theirs.filled_quantity} filled, "
                                  f"known fills add up to {state.filled_quantity}")
        return
    if state.status is theirs.status:
        return
    ending = _ending(theirs, now)
    if ending is not None:
        _apply_all(state, [ending], plan)
    elif theirs.status is OrderStatus.REJECTED:
        plan.discrepancies.append(f"{ours.client_order_id} is {state.status.value} here but rejected by the broker")


def _ending(theirs: Order, now: datetime) -> OrderEvent | None:
    if theirs.status is OrderStatus.CANCELED:
        return Canceled(theirs.client_order_id, theirs.venue_order_id, theirs.filled_quantity,
                        theirs.updated_at or now, theirs.reason)
    if theirs.status is OrderStatus.EXPIRED:
        return Expired(theirs.client_order_id, theirs.venue_order_id, theirs.filled_quantity,
                       theirs.updated_at or now)
    return None


def _apply_all(order: Order, steps: list[OrderEvent], plan: _Plan) -> Order | None:
    applied: list[OrderEvent] = []
    try:
        for step in steps:
            order = transition(order, step)
            applied.append(step)
    except IllegalTransition as error:
        plan.discrepancies.append(f"{order.client_order_id}: {error}")
        return None
    plan.events.extend(applied)
    return order


def _unknown_to_broker(ours: Order, now: datetime, lost_after: timedelta, plan: _Plan) -> None:
    if not ours.status.is_unanswered:
        plan.discrepancies.append(f"{ours.client_order_id} is {ours.status.value} here but unknown to the broker")
    elif now - ours.last_touched >= lost_after:
        plan.events.append(Rejected(ours.client_order_id, NEVER_RECEIVED, now))
    elif ours.status is OrderStatus.PENDING_SUBMIT:
        plan.unsent.append(ours.client_order_id)
    else:
        plan.still_in_flight.append(ours.client_order_id)


def _check_terminal(ours: Order, theirs: Order | None, fills: list[Filled], plan: _Plan) -> None:
    if fills:
        plan.discrepancies.append(f"{ours.client_order_id} is {ours.status.value} here, "
                                  f"yet the broker reports {len(fills)} unrecorded fill(s)")
    elif theirs is not None and not theirs.is_terminal:
        plan.discrepancies.append(f"{ours.client_order_id} is {ours.status.value} here "
                                  f"but still {theirs.status.value} at the broker")


def _as_pending(theirs: Order) -> Order:
    return replace(theirs, status=OrderStatus.PENDING_SUBMIT, venue_order_id=None, filled_quantity=Decimal(0),
                   average_fill_price=None, reason="")


def _group_unseen(fills: Sequence[Filled], fill_seen: Callable[[str], bool]) -> dict[str, list[Filled]]:
    grouped: dict[str, list[Filled]] = {}
    for fill in fills:
        if not fill_seen(fill.fill_id):
            grouped.setdefault(fill.client_order_id, []).append(fill)
    return grouped
