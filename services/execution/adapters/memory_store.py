"""An order store in plain dicts: the backtester's, where a run starts from scratch and nothing must survive it.

It keeps the promises of the SQLite ``OrderStore`` that a single process can observe: an order is recorded
``PENDING_SUBMIT`` once, an event is applied at most once (fill ids, ``already_applied``), an illegal event
changes nothing, and announced reports wait in an outbox until marked published. Only durability is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from ..domain.orders import Order, OrderStatus, already_applied, transition
from ..domain.reports import Accepted, Canceled, Expired, Filled, OrderEvent, Rejected
from .order_store import Outgoing, UnknownOrder

_ANNOUNCED = (Accepted, Rejected, Filled, Canceled, Expired)


class MemoryOrderStore:
    """Orders, applied fill ids and the outbox in memory, with the interface of ``OrderStore``."""

    def __init__(self) -> None:
        # insertion order is the order of the last write, as SQLite's rowid after INSERT OR REPLACE
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        self._fills: set[str] = set()
        self._latest_fill: datetime | None = None
        self._outbox: dict[int, tuple[str, OrderEvent, UUID | None]] = {}
        self._seq = 0

    def close(self) -> None:
        """Release nothing: there is no file."""

    def record_pending(self, order: Order) -> bool:
        """Record a new order before it is sent; return ``False`` (and write nothing) if its id is known."""
        if order.status is not OrderStatus.PENDING_SUBMIT:
            raise ValueError(f"record_pending needs a PENDING_SUBMIT order, got {order.status.value}")
        if order.client_order_id in self._orders:
            return False
        self._orders[order.client_order_id] = self._open[order.client_order_id] = order
        return True

    def apply(self, event: OrderEvent, causation_id: UUID | None = None) -> Order | None:
        """Apply ``event`` to its order and store the result; return the new order, ``None`` if already applied.

        Announced reports enter the outbox with ``causation_id``. Raises ``UnknownOrder`` for an order never
        recorded and ``IllegalTransition`` for an impossible event (the store is then unchanged).
        """
        client_id = event.client_order_id
        order = self._orders.get(client_id)
        if order is None:
            raise UnknownOrder(client_id)
        is_fill = isinstance(event, Filled)
        if (is_fill and event.fill_id in self._fills) or already_applied(order, event):
            return None
        updated = transition(order, event)
        del self._orders[client_id]
        self._orders[client_id] = updated
        if updated.is_terminal:
            self._open.pop(client_id, None)
        else:
            self._open.pop(client_id, None)
            self._open[client_id] = updated
        if is_fill:
            self._fills.add(event.fill_id)
            if self._latest_fill is None or event.ts > self._latest_fill:
                self._latest_fill = event.ts
        if isinstance(event, _ANNOUNCED):
            self._seq += 1
            self._outbox[self._seq] = (client_id, event, causation_id)
        return updated

    def unpublished(self) -> list[Outgoing]:
        """Return the applied reports not yet announced, oldest first, each with its order as it is now."""
        orders = self._orders
        return [Outgoing(seq, orders[client_id], report, causation_id)
                for seq, (client_id, report, causation_id) in self._outbox.items()]

    def mark_published(self, seq: int) -> None:
        """Record that the outbox entry ``seq`` was published."""
        self._outbox.pop(seq, None)

    def get(self, client_order_id: str) -> Order | None:
        """Return the order with this client id, or ``None``."""
        return self._orders.get(client_order_id)

    def known(self, client_order_id: str) -> bool:
        """Return whether an order with this client id was ever recorded."""
        return client_order_id in self._orders

    def seen_fill(self, fill_id: str) -> bool:
        """Return whether the fill with this id was already applied."""
        return fill_id in self._fills

    def latest_fill_time(self) -> datetime | None:
        """Return the time of the latest applied fill, or ``None``."""
        return self._latest_fill

    def in_flight(self) -> list[Order]:
        """Return the orders the broker has not answered yet (pending, submitted, or of unknown outcome)."""
        return _oldest_first(o for o in self._open.values() if o.status.is_unanswered)

    def open_orders(self) -> list[Order]:
        """Return every order that is not terminal, oldest first (in-flight ones included)."""
        return _oldest_first(self._open.values())

    def orders(self, client_order_ids: Iterable[str]) -> dict[str, Order]:
        """Return the known orders among ``client_order_ids``, by id."""
        found = (self._orders.get(client_id) for client_id in client_order_ids)
        return {order.client_order_id: order for order in found if order is not None}

    def all_orders(self) -> list[Order]:
        """Return every order ever recorded, oldest first."""
        return _oldest_first(self._orders.values())


def _oldest_first(orders: Iterable[Order]) -> list[Order]:
    return sorted(orders, key=_created_at)


def _created_at(order: Order) -> datetime:
    return order.created_at
