"""The ledger's durable store: SQLite in WAL mode, event-sourced from fills.

The fills table *is* the ledger's state: a fill row is written in the same transaction that applies it, keyed
by ``fill_id``, so a redelivered fill finds its row and is not applied twice; start-up replays the rows in order
(crash-only recovery: start-up and recovery are one path). Beside it: the last price per symbol, and the risk
state (peak equity, halted flag) that cannot be derived from fills.

``synchronous=FULL``: with WAL, ``NORMAL`` may lose the last commits on power loss. A lost fill row after its
message was acked is a fill the broker will never redeliver, so the ledger would be wrong for good; an fsync per
fill is cheap at fill rates. Marks and the risk state share the connection and its setting (peak equity feeds
the kill switch, so it deserves the same care).

For a backtest the store is unnecessary: a bare ``Ledger`` is faster (no JSON, no SQL per fill);
``path=":memory:"`` works when a test wants the store's code path without a file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from shared.contracts.orders import OrderFilled

from ..domain.ledger import Ledger
from ..domain.positions import PositionUpdate

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    fill_id TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS marks (symbol TEXT PRIMARY KEY, price TEXT NOT NULL);
"""


class LedgerStoreError(Exception):
    """Raise when the stored ledger does not match what is asked of it (schema, starting cash)."""


@dataclass(frozen=True, slots=True)
class RiskState:
    """Risk state that fills cannot rebuild: the peak equity and whether (and why) trading is halted."""

    peak_equity: Decimal | None = None
    halted: bool = False
    halt_reason: str | None = None


class LedgerStore:
    """Persist a ledger's fills, marks and risk state in one SQLite file; rebuild the ledger from it."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        """Open (creating it and its directory if needed) the store at ``path``; ``":memory:"`` keeps it in RAM."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None)  # autocommit; transactions are explicit
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        with self._transaction():
            self._create_schema()

    def _create_schema(self) -> None:
        for statement in filter(str.strip, _SCHEMA.split(";")):
            self._db.execute(statement)
        stored = self._meta("schema_version")
        if stored is None:
            self._set_meta("schema_version", SCHEMA_VERSION)
        elif stored != SCHEMA_VERSION:
            raise LedgerStoreError(f"ledger store schema {stored}, this code reads {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- ledger ------------------------------------------------------------------------------------------------

    def load(self, starting_cash: Decimal) -> Ledger:
        """Return the ledger rebuilt from the stored fills and marks; a new store records ``starting_cash``.

        Raise ``LedgerStoreError`` if the store was started with a different starting cash.
        """
        with self._transaction():
            stored = self._meta("starting_cash")
            if stored is None:
                self._set_meta("starting_cash", str(starting_cash))
            elif Decimal(stored) != starting_cash:
                raise LedgerStoreError(f"ledger store was started with cash {stored}, not {starting_cash}")
        ledger = Ledger(starting_cash)
        for (payload,) in self._db.execute("SELECT payload FROM fills ORDER BY seq"):
            ledger.apply_fill(OrderFilled.model_validate_json(payload))
        for symbol, price in self._db.execute("SELECT symbol, price FROM marks"):
            ledger.mark(symbol, Decimal(price))
        return ledger

    def apply_fill(self, ledger: Ledger, fill: OrderFilled) -> PositionUpdate | None:
        """Store ``fill`` and apply it to ``ledger`` in one transaction; return ``None`` if it was stored before.

        If anything raises, nothing is stored; the in-memory ledger may then be ahead of or behind the store, so
        the caller must treat it as lost (crash, and reload on restart).
        """
        with self._transaction():
            inserted = self._db.execute(
                "INSERT INTO fills (fill_id, payload) VALUES (?, ?) ON CONFLICT (fill_id) DO NOTHING",
                (fill.fill_id, fill.model_dump_json()),
            ).rowcount
            if not inserted:
                return None
            update = ledger.apply_fill(fill)
            if update is None:
                raise LedgerStoreError(f"fill {fill.fill_id} is in the ledger but was not in the store")
            return update

    def has_fill(self, fill_id: str) -> bool:
        """Return whether a fill with this id is stored."""
        return self._db.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill_id,)).fetchone() is not None

    def fill_count(self) -> int:
        """Return how many fills are stored."""
        return self._db.execute("SELECT count(*) FROM fills").fetchone()[0]

    def save_marks(self, marks: Mapping[str, Decimal]) -> None:
        """Store the last price of each symbol in ``marks`` (one transaction)."""
        with self._transaction():
            self._db.executemany(
                "INSERT INTO marks (symbol, price) VALUES (?, ?) "
                "ON CONFLICT (symbol) DO UPDATE SET price = excluded.price",
                [(symbol, str(price)) for symbol, price in marks.items()],
            )

    # -- risk state --------------------------------------------------------------------------------------------

    def load_risk_state(self) -> RiskState:
        """Return the stored peak equity and halt state (defaults for a new store)."""
        peak, halted, reason = (self._meta(k) for k in ("peak_equity", "halted", "halt_reason"))
        return RiskState(Decimal(peak) if peak is not None else None, halted == "1", reason or None)

    def save_risk_state(self, state: RiskState) -> None:
        """Store peak equity and halt state (one transaction)."""
        with self._transaction():
            if state.peak_equity is not None:
                self._set_meta("peak_equity", str(state.peak_equity))
            self._set_meta("halted", "1" if state.halted else "0")
            self._set_meta("halt_reason", state.halt_reason or "")

    # -- helpers -----------------------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
