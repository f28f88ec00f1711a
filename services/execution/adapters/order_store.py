"""The execution service's own record of its orders and of the fills it has applied (SQLite, WAL).

The order is recorded ``PENDING_SUBMIT`` before it is sent, so a crash can lose no order silently; each event is
applied in one transaction together with its fill id, so a fill delivered twice is applied once, and together
with an outbox entry, so an event that must be announced is published even if the process dies right after the
commit: publish ``unpublished()`` (on start-up and after each apply), then ``mark_published``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

from ..domain.orders import Order, OrderStatus, already_applied, transition
from ..domain.reports import Accepted, Canceled, Expired, Filled, OrderEvent, Rejected, Report
from .sqlite import (
    FILL_COLUMNS,
    INSERT_FILL,
    ORDER_COLUMNS,
    UPSERT_ORDER,
    Synchronous,
    connect,
    fill_row,
    order_from_row,
    order_row,
    report_from_json,
    report_json,
    transaction,
)

_UNANSWERED = tuple(s.value for s in OrderStatus if s.is_unanswered)
_OPEN = tuple(s.value for s in OrderStatus if not s.is_terminal)
_ANNOUNCED = (Accepted, Rejected, Filled, Canceled, Expired)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An applied report still to be announced: the order as it is now, the report, and what caused it."""

    seq: int
    order: Order
    report: Report
    causation_id: UUID | None


class UnknownOrder(LookupError):
    """Raised when an event names a client order id the store has never recorded."""


class OrderStore:
    """Orders and applied fills in one SQLite file (``":memory:"`` for tests and backtests)."""

    def __init__(self, path: str | Path = ":memory:", *, synchronous: Synchronous = "FULL") -> None:
        self._conn = connect(path, synchronous)
        self._conn.executescript(f"""
            CREATE TABLE IF NOT EXISTS orders ({ORDER_COLUMNS});
            CREATE INDEX IF NOT EXISTS orders_status ON orders (status);
            CREATE TABLE IF NOT EXISTS fills ({FILL_COLUMNS});
            CREATE TABLE IF NOT EXISTS outbox (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, client_order_id TEXT NOT NULL, report TEXT NOT NULL,
                causation_id TEXT);
        """)

    def close(self) -> None:
        """Close the database."""
        self._conn.close()

    def record_pending(self, order: Order) -> bool:
        """Record a new order before it is sent; return ``False`` (and write nothing) if its id is known."""
        if order.status is not OrderStatus.PENDING_SUBMIT:
            raise ValueError(f"record_pending needs a PENDING_SUBMIT order, got {order.status.value}")
        with transaction(self._conn):
            if self.known(order.client_order_id):
                return False
            self._conn.execute(UPSERT_ORDER.format(table="orders"), order_row(order))
        return True

    def apply(self, event: OrderEvent, causation_id: UUID | None = None) -> Order | None:
        """Apply ``event`` to its order and store the result; return the new order, ``None`` if already applied.

        A report that the service announces (accepted, rejected, filled, canceled, expired) also enters the
        outbox, with ``causation_id`` (the message being handled). Raises ``UnknownOrder`` for an order never
        recorded and ``IllegalTransition`` for an impossible event.
        """
        with transaction(self._conn):
            order = self.get(event.client_order_id)
            if order is None:
                raise UnknownOrder(event.client_order_id)
            if (isinstance(event, Filled) and self.seen_fill(event.fill_id)) or already_applied(order, event):
                return None
            updated = transition(order, event)
            self._conn.execute(UPSERT_ORDER.format(table="orders"), order_row(updated))
            if isinstance(event, Filled):
                self._conn.execute(INSERT_FILL.format(table="fills"), fill_row(event))
            if isinstance(event, _ANNOUNCED):
                self._conn.execute("INSERT INTO outbox (client_order_id, report, causation_id) VALUES (?, ?, ?)",
                                   (event.client_order_id, report_json(event), causation_id and str(causation_id)))
        return updated

    def unpublished(self) -> list[Outgoing]:
        """Return the applied reports not yet announced, oldest first."""
        rows = self._conn.execute(
            "SELECT outbox.seq, outbox.report, outbox.causation_id, orders.* FROM outbox "
            "JOIN orders USING (client_order_id) ORDER BY outbox.seq").fetchall()
        return [Outgoing(row["seq"], order_from_row(row), report_from_json(row["report"]),
                         UUID(row["causation_id"]) if row["causation_id"] else None) for row in rows]

    def mark_published(self, seq: int) -> None:
        """Record that the outbox entry ``seq`` was published (its broker confirm received)."""
        self._conn.execute("DELETE FROM outbox WHERE seq = ?", (seq,))

    def get(self, client_order_id: str) -> Order | None:
        """Return the order with this client id, or ``None``."""
        row = self._conn.execute("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,)).fetchone()
        return None if row is None else order_from_row(row)

    def known(self, client_order_id: str) -> bool:
        """Return whether an order with this client id was ever recorded."""
        return self._conn.execute("SELECT 1 FROM orders WHERE client_order_id = ?",
                                  (client_order_id,)).fetchone() is not None

    def seen_fill(self, fill_id: str) -> bool:
        """Return whether the fill with this id was already applied."""
        return self._conn.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill_id,)).fetchone() is not None

    def latest_fill_time(self) -> datetime | None:
        """Return the time of the latest applied fill (a ``since`` for reconciliation queries), or ``None``."""
        rows = self._conn.execute("SELECT ts FROM fills").fetchall()
        return max((datetime.fromisoformat(row["ts"]) for row in rows), default=None)

    def in_flight(self) -> list[Order]:
        """Return the orders the broker has not answered yet (pending, submitted, or of unknown outcome)."""
        return self._select_status(_UNANSWERED)

    def open_orders(self) -> list[Order]:
        """Return every order that is not terminal, oldest first (in-flight ones included)."""
        return self._select_status(_OPEN)

    def orders(self, client_order_ids: Iterable[str]) -> dict[str, Order]:
        """Return the known orders among ``client_order_ids``, by id."""
        found = (self.get(client_id) for client_id in client_order_ids)
        return {order.client_order_id: order for order in found if order is not None}

    def all_orders(self) -> list[Order]:
        """Return every order ever recorded, oldest first (the execution book is rebuilt from them)."""
        rows = self._conn.execute("SELECT * FROM orders ORDER BY created_at, rowid").fetchall()
        return [order_from_row(row) for row in rows]

    def _select_status(self, statuses: tuple[str, ...]) -> list[Order]:
        rows = self._conn.execute(
            f"SELECT * FROM orders WHERE status IN ({', '.join('?' * len(statuses))}) ORDER BY created_at, rowid",
            statuses).fetchall()
        return [order_from_row(row) for row in rows]
