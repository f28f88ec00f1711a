"""The ledger's durable store: SQLite in WAL mode, event-sourced from fills, with an outbox.

The fills table *is* the ledger's state: a fill row is written in the same transaction that applies it, keyed
by ``fill_id``, so a redelivered fill finds its row and is not applied twice; start-up replays the rows in order
(crash-only recovery: start-up and recovery are one path). The events a fill owes (its ``PositionChanged`` and
the snapshot after it) enter the outbox in that same transaction and are published from there, so a crash
between the commit and the publish loses neither. Beside it, per bar: the last price of each symbol, the last
sequence of each market-data stream (a repeated bar is recognised after a restart), the equity curve point and
the kill switch's state; and the orders and halts a bar's risk check owes, in the outbox of the same write.

Two connections to one file: fills commit with ``synchronous=FULL`` (a lost fill row after its message was
acked is a fill the broker never redelivers); the per-bar state with ``NORMAL`` (it survives a crash of the
process, and after a crash of the machine the next bars rebuild it).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from shared.contracts import BarClosed, Message, stream_of
from shared.contracts.orders import OrderFilled
from shared.messaging.outbox import SqliteOutbox
from shared.runtime.sqlite import MEMORY, connect, transaction

from ..domain import CurvePoint, KillSwitchState, Ledger, PositionUpdate
from .store import Announce, StoredState

SCHEMA_VERSION = "2"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (seq INTEGER PRIMARY KEY AUTOINCREMENT, fill_id TEXT NOT NULL UNIQUE,
                                  payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS marks (symbol TEXT PRIMARY KEY, price TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS streams (source TEXT, type TEXT, symbol TEXT, timeframe TEXT, sequence INTEGER NOT NULL,
                                    PRIMARY KEY (source, type, symbol, timeframe));
CREATE TABLE IF NOT EXISTS curve (ts INTEGER PRIMARY KEY, equity REAL NOT NULL, in_market INTEGER NOT NULL);
"""


class LedgerStoreError(Exception):
    """Raise when the stored ledger does not match what is asked of it (schema, starting cash)."""


class LedgerStore:
    """Persist a ledger's fills, per-bar state and outbox in one SQLite file; rebuild the ledger from it."""

    def __init__(self, path: str | Path = MEMORY) -> None:
        """Open (creating it and its directory if needed) the store at ``path``; ``":memory:"`` keeps it in RAM."""
        self._db = connect(path, "FULL")
        with transaction(self._db):
            self._create_schema()
        self.outbox = SqliteOutbox(self._db)
        # the per-bar state: a second connection to the same file (one, in memory, where there is no file)
        self._bars = self._db if str(path) == MEMORY else connect(path, "NORMAL")

    def _create_schema(self) -> None:
        for statement in filter(str.strip, _SCHEMA.split(";")):
            self._db.execute(statement)
        stored = self._meta("schema_version")
        if stored is None:
            self._set_meta(self._db, "schema_version", SCHEMA_VERSION)
        elif stored != SCHEMA_VERSION:
            raise LedgerStoreError(f"ledger store schema {stored}, this code reads {SCHEMA_VERSION}: move the old "
                                   "state directory away to start a new ledger")

    def close(self) -> None:
        """Close the connections."""
        if self._bars is not self._db:
            self._bars.close()
        self._db.close()

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- the ledger --------------------------------------------------------------------------------------------
    def load(self, starting_cash: Decimal) -> Ledger:
        """Return the ledger rebuilt from the stored fills and marks; a new store records ``starting_cash``.

        Raise ``LedgerStoreError`` if the store was started with a different starting cash.
        """
        with transaction(self._db):
            stored = self._meta("starting_cash")
            if stored is None:
                self._set_meta(self._db, "starting_cash", str(starting_cash))
            elif Decimal(stored) != starting_cash:
                raise LedgerStoreError(f"ledger store was started with cash {stored}, not {starting_cash}: move "
                                       "the old state directory away to start a new ledger")
        ledger = Ledger(starting_cash)
        for (payload,) in self._db.execute("SELECT payload FROM fills ORDER BY seq"):
            ledger.apply_fill(stored_fill(payload))
        for symbol, price in self._db.execute("SELECT symbol, price FROM marks"):
            ledger.mark(symbol, Decimal(price))
        return ledger

    def state(self) -> StoredState:
        """Return what the store keeps beside the ledger: kill switch, stream positions, equity curve."""
        peak, halted, reason, flattens = (self._meta(k) for k in ("peak_equity", "halted", "halt_reason",
                                                                  "halt_flattens"))
        kill_switch = KillSwitchState(Decimal(peak) if peak is not None else None, halted == "1", reason or None,
                                      flattens != "0")
        streams = [((row[0], row[1], row[2], row[3]), row[4]) for row in self._db.execute("SELECT * FROM streams")]
        curve = [CurvePoint(ts, equity, bool(in_market))
                 for ts, equity, in_market in self._db.execute("SELECT ts, equity, in_market FROM curve ORDER BY ts")]
        stored_baseline = json.loads(self._meta("balance_baseline") or "{}")
        baseline = {asset: Decimal(amount) for asset, amount in stored_baseline.items()}
        return StoredState(kill_switch, streams, curve, baseline)

    def apply_fill(self, ledger: Ledger, fill: OrderFilled, announce: Announce | None = None) -> PositionUpdate | None:
        """Store ``fill``, apply it to ``ledger`` and put what it owes in the outbox, in one transaction.

        Return ``None`` if the fill was stored before. If anything raises, nothing is stored; the in-memory
        ledger may then be ahead of the store, so the caller must treat it as lost (crash, reload on restart).
        """
        with transaction(self._db):
            inserted = self._db.execute(
                "INSERT INTO fills (fill_id, payload) VALUES (?, ?) ON CONFLICT (fill_id) DO NOTHING",
                (fill.fill_id, fill.model_dump_json())).rowcount
            if not inserted:
                return None
            update = ledger.apply_fill(fill)
            if update is None:
                raise LedgerStoreError(f"fill {fill.fill_id} is in the ledger but was not in the store")
            if announce is not None:
                self.outbox.enqueue(announce(update))
            return update

    def record_bar(self, bar: BarClosed, point: CurvePoint, kill_switch: KillSwitchState | None,
                   owed: Sequence[Message] = ()) -> None:
        """Store what one new bar changed: its mark and stream position, the curve, the kill switch, what it owes."""
        with transaction(self._bars):
            self._bars.execute("INSERT INTO marks VALUES (?, ?) ON CONFLICT (symbol) DO UPDATE SET "
                               "price = excluded.price", (bar.symbol, str(bar.close)))
            if bar.sequence is not None:
                self._bars.execute("INSERT OR REPLACE INTO streams VALUES (?, ?, ?, ?, ?)",
                                   (*stream_of(bar), bar.sequence))
            self._bars.execute("INSERT OR REPLACE INTO curve VALUES (?, ?, ?)",
                               (point.micros, point.equity, int(point.in_market)))
            if kill_switch is not None:
                self._save_kill_switch(self._bars, kill_switch)
            self.outbox.enqueue(owed, self._bars)

    def save_kill_switch(self, state: KillSwitchState, owed: Sequence[Message] = ()) -> None:
        """Store the peak equity, the halt, and what the change owes (one transaction)."""
        with transaction(self._db):
            self._save_kill_switch(self._db, state)
            self.outbox.enqueue(owed, self._db)

    def save_balance_baseline(self, baseline: Mapping[str, Decimal], owed: Sequence[Message] = ()) -> None:
        """Store the balance baseline and what the comparison owes (one transaction)."""
        with transaction(self._db):
            self._set_meta(self._db, "balance_baseline",
                           json.dumps({asset: str(amount) for asset, amount in baseline.items()}))
            self.outbox.enqueue(owed, self._db)

    def _save_kill_switch(self, db: sqlite3.Connection, state: KillSwitchState) -> None:
        if state.peak_equity is not None:
            self._set_meta(db, "peak_equity", str(state.peak_equity))
        self._set_meta(db, "halted", "1" if state.halted else "0")
        self._set_meta(db, "halt_reason", state.halt_reason or "")
        self._set_meta(db, "halt_flattens", "1" if state.flattening else "0")

    def has_fill(self, fill_id: str) -> bool:
        """Return whether a fill with this id is stored."""
        return self._db.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill_id,)).fetchone() is not None

    def fill_count(self) -> int:
        """Return how many fills are stored."""
        return int(self._db.execute("SELECT count(*) FROM fills").fetchone()[0])

    # -- helpers -----------------------------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                   (key, value))


def stored_fill(payload: str) -> OrderFilled:
    """Return a fill the store kept, in the current schema (v1 fills lack ``commission_currency``: the account's)."""
    data = json.loads(payload)
    if data.get("schema_version") == 1:
        data["schema_version"] = 2
    return OrderFilled.model_validate(data)
