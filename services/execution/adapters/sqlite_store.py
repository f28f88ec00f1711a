"""The execution service's own record of its orders, in SQLite (WAL, ``synchronous=FULL``).

The order is recorded ``PENDING_SUBMIT`` before it is sent, so a crash can lose no order silently; each report's
change is stored in one transaction with its fill id (a fill delivered twice is applied once), the position it
moved, and the event it owes in the outbox (published even if the process dies right after the commit). Every
commit is flushed to disk: money moves on what this file says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path

from shared.contracts import Event
from shared.messaging.outbox import SqliteOutbox
from shared.runtime.sqlite import MEMORY, Synchronous, connect, transaction

from ..domain.lifecycle import Change
from ..domain.orders import Order, OrderStatus
from ..domain.reports import Filled
from .sqlite import FILL_COLUMNS, INSERT_FILL, ORDER_COLUMNS, UPSERT_ORDER, fill_row, order_from_row, order_row
from .store import Key

SCHEMA_VERSION = "2"
_UNANSWERED = tuple(s.value for s in OrderStatus if s.is_unanswered)
_OPEN = tuple(s.value for s in OrderStatus if not s.is_terminal)


class OrderStoreError(Exception):
    """Raised when the file holds an order store this code cannot read."""


class SqliteOrderStore:
    """Orders, applied fills, positions, refusals, the outbox and a few settings in one SQLite file."""

    def __init__(self, path: str | Path = MEMORY, *, synchronous: Synchronous = "FULL") -> None:
        self._conn = connect(path, synchronous)
        self._conn.executescript(f"""
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
                CREATE TABLE IF NOT EXISTS orders ({ORDER_COLUMNS});
                CREATE INDEX IF NOT EXISTS orders_status ON orders (status);
                CREATE TABLE IF NOT EXISTS fills ({FILL_COLUMNS});
                CREATE TABLE IF NOT EXISTS positions (
                    strategy_id TEXT, symbol TEXT, quantity TEXT NOT NULL, PRIMARY KEY (strategy_id, symbol));
                CREATE TABLE IF NOT EXISTS refusals (client_order_id TEXT PRIMARY KEY);
            """)
        with transaction(self._conn):
            stored = self._meta("schema_version")
            if stored is None:
                self._set_meta("schema_version", SCHEMA_VERSION)
            elif stored != SCHEMA_VERSION:
                raise OrderStoreError(f"order store schema {stored}, this code reads {SCHEMA_VERSION}: move the "
                                      "old state directory away to start afresh")
        self.outbox = SqliteOutbox(self._conn)

    def close(self) -> None:
        self._conn.close()

    def record(self, order: Order) -> bool:
        if order.status is not OrderStatus.PENDING_SUBMIT:
            raise ValueError(f"record needs a PENDING_SUBMIT order, got {order.status.value}")
        with transaction(self._conn):
            if self._known(order.client_order_id):
                return False
            self._conn.execute(UPSERT_ORDER.format(table="orders"), order_row(order))
        return True

    def refuse(self, client_order_id: str, event: Event) -> bool:
        with transaction(self._conn):
            if self._known(client_order_id):
                return False
            self._conn.execute("INSERT INTO refusals VALUES (?)", (client_order_id,))
            self.outbox.enqueue((event,))
        return True

    def save(self, change: Change, event: Event | None) -> None:
        order = change.order
        with transaction(self._conn):
            self._conn.execute(UPSERT_ORDER.format(table="orders"), order_row(order))
            if isinstance(change.report, Filled):
                self._conn.execute(INSERT_FILL.format(table="fills"), fill_row(change.report))
            if change.filled:
                self._move_position((order.strategy_id, order.symbol), change.position_delta)
            if event is not None:
                self.outbox.enqueue((event,))

    def _move_position(self, key: Key, delta: Decimal) -> None:
        row = self._conn.execute("SELECT quantity FROM positions WHERE strategy_id = ? AND symbol = ?", key).fetchone()
        quantity = (Decimal(row["quantity"]) if row else Decimal(0)) + delta
        self._conn.execute("INSERT OR REPLACE INTO positions VALUES (?, ?, ?)", (*key, str(quantity)))

    def get(self, client_order_id: str) -> Order | None:
        row = self._conn.execute("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,)).fetchone()
        return None if row is None else order_from_row(row)

    def _known(self, client_order_id: str) -> bool:
        return (self._conn.execute("SELECT 1 FROM orders WHERE client_order_id = ?", (client_order_id,)).fetchone()
                or self._conn.execute("SELECT 1 FROM refusals WHERE client_order_id = ?",
                                      (client_order_id,)).fetchone()) is not None

    def seen_fill(self, fill_id: str) -> bool:
        return self._conn.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill_id,)).fetchone() is not None

    def in_flight(self) -> list[Order]:
        return self._select_status(_UNANSWERED)

    def open_orders(self) -> list[Order]:
        return self._select_status(_OPEN)

    def orders(self, client_order_ids: Iterable[str]) -> dict[str, Order]:
        found = (self.get(client_id) for client_id in client_order_ids)
        return {order.client_order_id: order for order in found if order is not None}

    def positions(self) -> Mapping[Key, Decimal]:
        rows = self._conn.execute("SELECT strategy_id, symbol, quantity FROM positions").fetchall()
        return {(row["strategy_id"], row["symbol"]): Decimal(row["quantity"]) for row in rows}

    def reconcile_cursor(self) -> str | None:
        return self._meta("reconcile_cursor")

    def save_reconcile_cursor(self, cursor: str | None) -> None:
        with transaction(self._conn):
            self._set_meta("reconcile_cursor", cursor)

    def halt(self) -> tuple[bool, str | None]:
        return self._meta("halted") == "1", self._meta("halt_reason") or None

    def save_halt(self, halted: bool, reason: str | None) -> None:
        with transaction(self._conn):
            self._set_meta("halted", "1" if halted else "0")
            self._set_meta("halt_reason", reason)

    def _select_status(self, statuses: tuple[str, ...]) -> list[Order]:
        rows = self._conn.execute(
            f"SELECT * FROM orders WHERE status IN ({', '.join('?' * len(statuses))}) ORDER BY created_at, rowid",
            statuses).fetchall()
        return [order_from_row(row) for row in rows]

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row["value"]

    def _set_meta(self, key: str, value: str | None) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
