"""The paper broker: the matcher behind the ``Broker`` interface, its book kept in SQLite across restarts.

It is the "venue" of paper trading and of the backtester (``path=":memory:"``): it remembers every order it was
sent and every fill, refuses a client id it has seen, and answers reconciliation queries from its own records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from shared.contracts import BarClosed, Message, QuoteTicked, TradeTicked
from shared.runtime.clock import Clock

from ..domain.matching import MatcherConfig, PaperMatcher, WorkingOrder
from ..domain.orders import Order, OrderStatus, transition
from ..domain.reports import Filled, Rejected, Report, Triggered
from .broker import Broker
from .sqlite import (
    FILL_COLUMNS,
    INSERT_FILL,
    ORDER_COLUMNS,
    UPSERT_ORDER,
    Synchronous,
    connect,
    fill_from_row,
    fill_row,
    order_from_row,
    order_row,
    transaction,
)

_OPEN = tuple(s.value for s in OrderStatus if not s.is_terminal)


class PaperBroker(Broker):
    """Simulate a venue: fill orders against the market data shown through ``on_market``."""

    name = "paper"

    def __init__(self, config: MatcherConfig | None = None, *, clock: Clock, path: str | Path = ":memory:",
                 synchronous: Synchronous = "FULL") -> None:
        super().__init__()
        self.matcher = PaperMatcher(config)
        self._clock = clock
        self._orders: dict[str, Order] = {}
        self._feeds = {BarClosed: self.matcher.on_bar, TradeTicked: self.matcher.on_trade,
                       QuoteTicked: self.matcher.on_quote}
        self._conn = connect(path, synchronous)
        self._conn.executescript(f"""
            CREATE TABLE IF NOT EXISTS paper_orders ({ORDER_COLUMNS});
            CREATE TABLE IF NOT EXISTS paper_fills ({FILL_COLUMNS});
            CREATE TABLE IF NOT EXISTS paper_working (
                client_order_id TEXT PRIMARY KEY, fill_count INTEGER NOT NULL, triggered INTEGER NOT NULL,
                not_after TEXT, day TEXT NOT NULL);
        """)
        self._restore()

    async def close(self) -> None:
        """Close the database."""
        self._conn.close()

    async def submit(self, order: Order) -> Sequence[Report]:
        """Accept the order into the book (a seen client id is rejected); ``close`` mode may fill it at once."""
        now = self._clock.now()
        client_id = order.client_order_id
        if self._known(client_id):
            return (Rejected(client_id, f"duplicate client_order_id {client_id}", now),)
        self._orders[client_id] = replace(order, status=OrderStatus.PENDING_SUBMIT, venue_order_id=None,
                                          filled_quantity=Decimal(0), average_fill_price=None, reason="",
                                          updated_at=now)
        reports = self.matcher.submit(order, now)
        self._record(reports)
        return reports

    async def cancel(self, client_order_id: str) -> Sequence[Report]:
        """Cancel a working order; return ``()`` if it is not working."""
        reports = self.matcher.cancel(client_order_id, self._clock.now())
        self._record(reports)
        return reports

    async def on_market(self, event: Message) -> Sequence[Report]:
        """Match working orders against a bar, trade or quote; return the fills and expiries it causes."""
        feed = self._feeds.get(type(event))
        if feed is None:
            return ()
        reports = feed(event)
        if not reports:
            return reports
        self._record(reports)
        return [report for report in reports if not isinstance(report, Triggered)]

    async def open_orders(self) -> Sequence[Order]:
        """Return the working orders."""
        return [order for order in self._orders.values() if not order.is_terminal]

    async def orders(self, client_order_ids: Iterable[str]) -> Sequence[Order]:
        """Return the paper broker's record of these orders; unknown ids are left out."""
        found = []
        for client_id in client_order_ids:
            row = self._conn.execute("SELECT * FROM paper_orders WHERE client_order_id = ?", (client_id,)).fetchone()
            if row is not None:
                found.append(order_from_row(row))
        return found

    async def fills_since(self, since: datetime | None = None) -> Sequence[Filled]:
        """Return the fills at or after ``since`` (all when ``None``), in the order they happened."""
        rows = self._conn.execute("SELECT * FROM paper_fills ORDER BY seq").fetchall()
        fills = [fill_from_row(row) for row in rows]
        return fills if since is None else [fill for fill in fills if fill.ts >= since]

    def _known(self, client_order_id: str) -> bool:
        return client_order_id in self._orders or self._conn.execute(
            "SELECT 1 FROM paper_orders WHERE client_order_id = ?", (client_order_id,)).fetchone() is not None

    def _record(self, reports: Sequence[Report]) -> None:
        with transaction(self._conn):
            for report in reports:
                client_id = report.client_order_id
                order = transition(self._orders[client_id], report)
                self._conn.execute(UPSERT_ORDER.format(table="paper_orders"), order_row(order))
                if isinstance(report, Filled):
                    self._conn.execute(INSERT_FILL.format(table="paper_fills"), fill_row(report))
                self._save_working(client_id)
                if order.is_terminal:
                    del self._orders[client_id]
                else:
                    self._orders[client_id] = order

    def _save_working(self, client_order_id: str) -> None:
        working = self.matcher.working(client_order_id)
        if working is None:
            self._conn.execute("DELETE FROM paper_working WHERE client_order_id = ?", (client_order_id,))
            return
        self._conn.execute(
            "INSERT OR REPLACE INTO paper_working VALUES (?, ?, ?, ?, ?)",
            (client_order_id, working.fill_count, int(working.triggered),
             working.not_after.isoformat() if working.not_after else None, working.day.isoformat()))

    def _restore(self) -> None:
        rows = self._conn.execute(
            f"SELECT o.*, w.fill_count, w.triggered, w.not_after, w.day FROM paper_orders o "
            f"JOIN paper_working w USING (client_order_id) "
            f"WHERE o.status IN ({', '.join('?' * len(_OPEN))}) ORDER BY o.created_at, o.rowid", _OPEN).fetchall()
        for row in rows:
            order = order_from_row(row)
            self._orders[order.client_order_id] = order
            self.matcher.restore(WorkingOrder(
                order, order.venue_order_id or "", order.filled_quantity, row["fill_count"], bool(row["triggered"]),
                datetime.fromisoformat(row["not_after"]) if row["not_after"] else None,
                date.fromisoformat(row["day"])))
