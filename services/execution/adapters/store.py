"""What the execution service asks of an order store: keep orders, applied fills, positions and the outbox.

Stores only persist: what a report changes is decided by ``domain.lifecycle`` before it reaches them. The SQLite
store (``SqliteOrderStore``, the service's) and the memory store (the backtester's) keep the same promises a single
process can observe and run the same contract tests; only the SQLite one outlives the process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Protocol

from shared.contracts import Event
from shared.messaging.outbox import Outbox

from ..domain.lifecycle import Change
from ..domain.orders import Order

Key = tuple[str, str]
"""(strategy id, symbol)."""


class OrderStore(Protocol):
    """The execution service's record of its orders; ``outbox`` holds the order events owed."""

    outbox: Outbox

    def record(self, order: Order) -> bool:
        """Record a new ``PENDING_SUBMIT`` order before it is sent; return ``False`` (write nothing) if its id is
        known."""

    def refuse(self, client_order_id: str, event: Event) -> bool:
        """Record that the order of ``client_order_id`` was refused before it existed (it could not be sized) and
        owe ``event``; return ``False`` (owe nothing more) if that was recorded before."""

    def save(self, change: Change, event: Event | None) -> None:
        """Store what one report changed (the order, the fill, the position) and owe ``event``, atomically."""

    def get(self, client_order_id: str) -> Order | None:
        """Return the order with this client id, or ``None``."""

    def seen_fill(self, fill_id: str) -> bool:
        """Return whether the fill with this id was applied."""

    def in_flight(self) -> list[Order]:
        """Return the orders the broker has not answered yet (pending, submitted, or of unknown outcome)."""

    def open_orders(self) -> list[Order]:
        """Return every order that is not terminal, oldest first (in-flight ones included)."""

    def orders(self, client_order_ids: Iterable[str]) -> dict[str, Order]:
        """Return the known orders among ``client_order_ids``, by id."""

    def positions(self) -> Mapping[Key, Decimal]:
        """Return the filled position of every (strategy, symbol), signed."""

    def reconcile_cursor(self) -> str | None:
        """Return the broker's bookmark where the next reconciliation starts (``None``: from the beginning)."""

    def save_reconcile_cursor(self, cursor: str | None) -> None:
        """Record the broker's bookmark after a reconciliation was applied."""

    def halt(self) -> tuple[bool, str | None]:
        """Return whether trading is halted, and why."""

    def save_halt(self, halted: bool, reason: str | None) -> None:
        """Record whether trading is halted, and why."""

    def close(self) -> None:
        """Release the store."""
