"""The paper broker: the matcher behind the ``Broker`` interface, its records and market window kept across restarts.

It is the "venue" of paper trading and of the backtester (``path=None``: everything in plain dicts): it remembers
every order it was sent and every fill, refuses a client id it has seen, and answers reconciliation queries from
its own records. It is also a consumer of market data, so it drops a repeated or older event of a stream
(``StreamPositions``): a bar republished after a restart neither fills anything again nor enters the window twice.
The window of recent market events (what an order that arrives late is matched against) and the streams'
positions are saved with every market event, in the same transaction as the reports it caused, so a restarted
paper broker fills a late order exactly as one that never stopped.

``synchronous=NORMAL`` by default: a simulated venue's records survive a crash of the process (every failure the
tests inject); after a crash of the machine, reconciliation reports what the two sides no longer agree on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from shared.contracts import (
    BarClosed,
    Message,
    QuoteTicked,
    StreamKey,
    StreamPositions,
    TradeTicked,
    decode,
    encode,
    stream_of,
)
from shared.runtime.clock import Clock
from shared.runtime.sqlite import Synchronous, connect, transaction

from ..domain.matching import MatcherConfig, PaperMatcher, WorkingOrder
from ..domain.orders import Order, OrderStatus, evolve, transition
from ..domain.reports import Filled, Rejected, Report, Triggered
from .broker import Broker
from .sqlite import (
    FILL_COLUMNS,
    INSERT_FILL,
    ORDER_COLUMNS,
    UPSERT_ORDER,
    fill_from_row,
    fill_row,
    order_from_row,
    order_row,
)

_OPEN = tuple(s.value for s in OrderStatus if not s.is_terminal)
WindowEvent = BarClosed | TradeTicked | QuoteTicked
PRUNE_EVERY = 1_000
"""Market events saved for a symbol between two trims of its window."""


class PaperBroker(Broker):
    """Simulate a venue: fill orders against the market data shown through ``on_market``.

    ``path`` is the SQLite file the broker's records are kept in (``":memory:"`` for a throwaway database), or
    ``None`` to keep them in plain dicts, which the backtester uses: the same answers, nothing durable.
    """

    name = "paper"

    def __init__(self, config: MatcherConfig | None = None, *, clock: Clock, path: str | Path | None = ":memory:",
                 synchronous: Synchronous = "NORMAL") -> None:
        super().__init__()
        self.matcher = PaperMatcher(config)
        self._clock = clock
        self._orders: dict[str, Order] = {}
        self._feeds: dict[type, Callable[..., Sequence[Report]]] = {
            BarClosed: self.matcher.on_bar, TradeTicked: self.matcher.on_trade, QuoteTicked: self.matcher.on_quote}
        window = self.matcher.config.replay_window
        self._records: _Records = _MemoryRecords() if path is None else _SqliteRecords(path, synchronous, window)
        self._keeps_window = path is not None
        for working in self._records.working_orders():
            self._orders[working.order.client_order_id] = working.order
            self.matcher.restore(working)
        for event in self._records.window():
            self.matcher.recall(event)
        self._positions = StreamPositions(self._records.streams())

    async def close(self) -> None:
        """Close the database."""
        self._records.close()

    async def submit(self, order: Order) -> Sequence[Report]:
        """Accept the order as working (a seen client id is rejected); ``close`` mode may fill it at once."""
        now = self._clock.now()
        client_id = order.client_order_id
        if client_id in self._orders or self._records.known(client_id):
            return (Rejected(client_id, f"duplicate client_order_id {client_id}", now),)
        self._orders[client_id] = evolve(order, status=OrderStatus.PENDING_SUBMIT, venue_order_id=None,
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
        """Match working orders against a new bar, trade or quote; return the fills and expiries it causes."""
        feed = self._feeds.get(type(event))
        if feed is None or not self._positions.is_new(event):  # type: ignore[arg-type]
            return ()
        reports = feed(event)
        self._positions.advance(event)  # type: ignore[arg-type]
        self._record(reports, event)  # type: ignore[arg-type]
        return [report for report in reports if not isinstance(report, Triggered)] if reports else reports

    async def open_orders(self) -> Sequence[Order]:
        """Return the working orders."""
        return [order for order in self._orders.values() if not order.is_terminal]

    async def orders(self, client_order_ids: Iterable[str]) -> Sequence[Order]:
        """Return the paper broker's record of these orders; unknown ids are left out."""
        found = (self._records.order(client_id) for client_id in client_order_ids)
        return [order for order in found if order is not None]

    async def fills_since(self, cursor: str | None = None) -> tuple[Sequence[Filled], str | None]:
        """Return the fills after ``cursor`` (the count of fills seen), in the order they happened."""
        fills, count = self._records.fills_after(int(cursor) if cursor else 0)
        return fills, str(count)

    def _record(self, reports: Sequence[Report], event: WindowEvent | None = None) -> None:
        changes = []
        for report in reports:
            client_id = report.client_order_id
            order = transition(self._orders[client_id], report)
            changes.append((order, report))
            if order.is_terminal:
                del self._orders[client_id]
            else:
                self._orders[client_id] = order
        if changes or (event is not None and self._keeps_window):
            self._records.save(changes, self.matcher.working, event)


Change = tuple[Order, Report]
"""An order after a report, and the report."""

WorkingOf = Callable[[str], WorkingOrder | None]
"""The matcher's working state of an order, by client order id (``None`` once it stopped working)."""


class _Records(Protocol):
    def known(self, client_order_id: str) -> bool: ...
    def order(self, client_order_id: str) -> Order | None: ...
    def fills_after(self, count: int) -> tuple[list[Filled], int]: ...
    def working_orders(self) -> list[WorkingOrder]: ...
    def window(self) -> list[WindowEvent]: ...
    def streams(self) -> list[tuple[StreamKey, int]]: ...
    def save(self, changes: Sequence[Change], working_of: WorkingOf, event: WindowEvent | None) -> None: ...
    def close(self) -> None: ...


class _MemoryRecords:
    def __init__(self) -> None:
        self._orders: dict[str, Order] = {}
        self._fills: list[Filled] = []

    def known(self, client_order_id: str) -> bool:
        return client_order_id in self._orders

    def order(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    def fills_after(self, count: int) -> tuple[list[Filled], int]:
        return self._fills[count:], len(self._fills)

    def working_orders(self) -> list[WorkingOrder]:
        return []

    def window(self) -> list[WindowEvent]:
        return []

    def streams(self) -> list[tuple[StreamKey, int]]:
        return []

    def save(self, changes: Sequence[Change], working_of: WorkingOf, event: WindowEvent | None) -> None:
        for order, report in changes:
            self._orders[order.client_order_id] = order
            if isinstance(report, Filled):
                self._fills.append(report)

    def close(self) -> None:
        pass


class _SqliteRecords:
    def __init__(self, path: str | Path, synchronous: Synchronous, window: int) -> None:
        self._conn = connect(path, synchronous)
        self._window = window
        self._saved: dict[str, int] = {}
        self._conn.executescript(f"""
            CREATE TABLE IF NOT EXISTS paper_orders ({ORDER_COLUMNS});
            CREATE TABLE IF NOT EXISTS paper_fills ({FILL_COLUMNS});
            CREATE TABLE IF NOT EXISTS paper_working (
                client_order_id TEXT PRIMARY KEY, fill_count INTEGER NOT NULL, triggered INTEGER NOT NULL,
                not_after TEXT, day TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS paper_window (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, symbol TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL);
            CREATE INDEX IF NOT EXISTS paper_window_symbol ON paper_window (symbol, seq);
            CREATE TABLE IF NOT EXISTS paper_streams (
                source TEXT, type TEXT, symbol TEXT, timeframe TEXT, sequence INTEGER NOT NULL,
                PRIMARY KEY (source, type, symbol, timeframe));
        """)

    def known(self, client_order_id: str) -> bool:
        return self._conn.execute("SELECT 1 FROM paper_orders WHERE client_order_id = ?",
                                  (client_order_id,)).fetchone() is not None

    def order(self, client_order_id: str) -> Order | None:
        row = self._conn.execute("SELECT * FROM paper_orders WHERE client_order_id = ?",
                                 (client_order_id,)).fetchone()
        return None if row is None else order_from_row(row)

    def fills_after(self, count: int) -> tuple[list[Filled], int]:
        rows = self._conn.execute("SELECT * FROM paper_fills WHERE seq > ? ORDER BY seq", (count,)).fetchall()
        return [fill_from_row(row) for row in rows], rows[-1]["seq"] if rows else count

    def working_orders(self) -> list[WorkingOrder]:
        rows = self._conn.execute(
            f"SELECT o.*, w.fill_count, w.triggered, w.not_after, w.day FROM paper_orders o "
            f"JOIN paper_working w USING (client_order_id) "
            f"WHERE o.status IN ({', '.join('?' * len(_OPEN))}) ORDER BY o.created_at, o.rowid", _OPEN).fetchall()
        return [WorkingOrder(order_from_row(row), row["venue_order_id"] or "", Decimal(row["filled_quantity"]),
                             row["fill_count"], bool(row["triggered"]),
                             datetime.fromisoformat(row["not_after"]) if row["not_after"] else None,
                             date.fromisoformat(row["day"])) for row in rows]

    def window(self) -> list[WindowEvent]:
        rows = self._conn.execute("SELECT type, body FROM paper_window ORDER BY seq")
        return [decode(type_name, body) for type_name, body in rows]  # type: ignore[misc]

    def streams(self) -> list[tuple[StreamKey, int]]:
        return [((row[0], row[1], row[2], row[3]), row[4]) for row in self._conn.execute("SELECT * FROM paper_streams")]

    def save(self, changes: Sequence[Change], working_of: WorkingOf, event: WindowEvent | None) -> None:
        with transaction(self._conn):
            for order, report in changes:
                self._conn.execute(UPSERT_ORDER.format(table="paper_orders"), order_row(order))
                if isinstance(report, Filled):
                    self._conn.execute(INSERT_FILL.format(table="paper_fills"), fill_row(report))
                self._save_working(order.client_order_id, working_of(order.client_order_id))
            if event is not None:
                self._save_event(event)

    def _save_event(self, event: WindowEvent) -> None:
        self._conn.execute("INSERT INTO paper_window (symbol, type, body) VALUES (?, ?, ?)",
                           (event.symbol, event.type, encode(event).decode()))
        if event.sequence is not None:
            self._conn.execute("INSERT OR REPLACE INTO paper_streams VALUES (?, ?, ?, ?, ?)",
                               (*stream_of(event), event.sequence))
        saved = self._saved[event.symbol] = self._saved.get(event.symbol, 0) + 1
        if saved % PRUNE_EVERY == 0:
            self._conn.execute(
                "DELETE FROM paper_window WHERE symbol = ? AND seq < (SELECT seq FROM paper_window WHERE symbol = ? "
                "ORDER BY seq DESC LIMIT 1 OFFSET ?)", (event.symbol, event.symbol, self._window - 1))

    def _save_working(self, client_order_id: str, working: WorkingOrder | None) -> None:
        if working is None:
            self._conn.execute("DELETE FROM paper_working WHERE client_order_id = ?", (client_order_id,))
            return
        self._conn.execute(
            "INSERT OR REPLACE INTO paper_working VALUES (?, ?, ?, ?, ?)",
            (client_order_id, working.fill_count, int(working.triggered),
             working.not_after.isoformat() if working.not_after else None, working.day.isoformat()))

    def close(self) -> None:
        self._conn.close()
