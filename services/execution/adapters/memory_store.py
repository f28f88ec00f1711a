"""An order store in plain dicts: the backtester's, where a run starts from scratch and nothing must outlive it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from shared.contracts import Event
from shared.messaging.outbox import MemoryOutbox

from ..domain.lifecycle import Change
from ..domain.orders import Order, OrderStatus
from ..domain.reports import Filled
from .store import Key

_ZERO = Decimal(0)


class MemoryOrderStore:
    """Orders, applied fill ids, positions and the outbox in memory (an ``OrderStore``)."""

    def __init__(self) -> None:
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        self._fills: set[str] = set()
        self._refused: set[str] = set()
        self._positions: dict[Key, Decimal] = {}
        self._cursor: str | None = None
        self._halt: tuple[bool, str | None] = (False, None)
        self.outbox = MemoryOutbox()

    def close(self) -> None:
        """Release nothing: there is no file."""

    def record(self, order: Order) -> bool:
        if order.status is not OrderStatus.PENDING_SUBMIT:
            raise ValueError(f"record needs a PENDING_SUBMIT order, got {order.status.value}")
        client_id = order.client_order_id
        if client_id in self._orders or client_id in self._refused:
            return False
        self._orders[client_id] = self._open[client_id] = order
        return True

    def refuse(self, client_order_id: str, event: Event) -> bool:
        if client_order_id in self._refused or client_order_id in self._orders:
            return False
        self._refused.add(client_order_id)
        self.outbox.enqueue((event,))
        return True

    def save(self, change: Change, event: Event | None) -> None:
        order = change.order
        client_id = order.client_order_id
        self._orders[client_id] = order
        if order.is_terminal:
            self._open.pop(client_id, None)
        else:
            self._open[client_id] = order
        if isinstance(change.report, Filled):
            self._fills.add(change.report.fill_id)
        if change.filled:
            key = (order.strategy_id, order.symbol)
            self._positions[key] = self._positions.get(key, _ZERO) + change.position_delta
        if event is not None:
            self.outbox.enqueue((event,))

    def get(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def seen_fill(self, fill_id: str) -> bool:
        return fill_id in self._fills

    def in_flight(self) -> list[Order]:
        return _oldest_first(o for o in self._open.values() if o.status.is_unanswered)

    def open_orders(self) -> list[Order]:
        return _oldest_first(self._open.values())

    def orders(self, client_order_ids: Iterable[str]) -> dict[str, Order]:
        found = (self._orders.get(client_id) for client_id in client_order_ids)
        return {order.client_order_id: order for order in found if order is not None}

    def all_orders(self) -> list[Order]:
        """Return every order recorded, oldest first (a backtest reads them after the run)."""
        return _oldest_first(self._orders.values())

    def positions(self) -> Mapping[Key, Decimal]:
        return dict(self._positions)

    def reconcile_cursor(self) -> str | None:
        return self._cursor

    def save_reconcile_cursor(self, cursor: str | None) -> None:
        self._cursor = cursor

    def halt(self) -> tuple[bool, str | None]:
        return self._halt

    def save_halt(self, halted: bool, reason: str | None) -> None:
        self._halt = (halted, reason)


def _oldest_first(orders: Iterable[Order]) -> list[Order]:
    return sorted(orders, key=_created_at)


def _created_at(order: Order) -> datetime:
    return order.created_at
