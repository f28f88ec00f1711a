"""What the data service keeps on disk: the bars it published (history for warm-ups) and each replay's position.

One SQLite file in the service's state directory. Bars are written before they are published, so the history
always holds every bar before any event a consumer has received, however far the replay runs ahead; a restarted
data service still has them. Each stream keeps its last ``retention`` bars. A replay's position is the number of
its events the broker confirmed without a gap, with the id of the last one, so a restart resumes after it (and
notices when the replayed data is not the data the position was counted on).

``synchronous=NORMAL``: both survive a crash of the process; after a crash of the machine a replay may resume a
little earlier (consumers drop what they already had) and the newest bars may be missing from the history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from shared.contracts import BarClosed
from shared.runtime.sqlite import connect, transaction

from ..domain import AmbiguousTimeframe, new_bar

_SCHEMA = """
CREATE TABLE IF NOT EXISTS bars (
    symbol TEXT NOT NULL, timeframe TEXT NOT NULL, ts INTEGER NOT NULL, message_id TEXT NOT NULL,
    source TEXT NOT NULL, sequence INTEGER, open TEXT NOT NULL, high TEXT NOT NULL, low TEXT NOT NULL,
    close TEXT NOT NULL, volume TEXT NOT NULL, PRIMARY KEY (symbol, timeframe, ts)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replay_positions (feed TEXT PRIMARY KEY, position INTEGER NOT NULL, last_id TEXT);
"""
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
PRUNE_EVERY = 1_000
"""Bars appended to a stream between two trims of it to ``retention``."""


def _micros(ts: datetime) -> int:
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _time(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True, slots=True)
class ReplayPosition:
    """How far a replay got: ``position`` events confirmed, the last of them ``last_id`` (``None``: none yet)."""

    position: int = 0
    last_id: UUID | None = None


class DataArchive:
    """The bar history (a ``BarArchive``) and the replay positions, in one SQLite file at ``path``."""

    def __init__(self, path: str | Path, retention: int = 100_000) -> None:
        if retention < 1:
            raise ValueError(f"retention must be at least 1 bar, not {retention}")
        self.retention = retention
        self._conn = connect(path, "NORMAL")
        self._conn.executescript(_SCHEMA)
        self._appended: dict[tuple[str, str], int] = {}

    def close(self) -> None:
        """Close the database."""
        self._conn.close()

    # -- history -----------------------------------------------------------------------------------------------
    def append(self, bar: BarClosed) -> None:
        """Keep ``bar`` (a bar already kept, republished after a restart, changes nothing)."""
        self._conn.execute(
            "INSERT OR IGNORE INTO bars VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (bar.symbol, bar.timeframe, _micros(bar.ts_event), str(bar.message_id), bar.source, bar.sequence,
             str(bar.open), str(bar.high), str(bar.low), str(bar.close), str(bar.volume)))
        key = (bar.symbol, bar.timeframe)
        count = self._appended[key] = self._appended.get(key, 0) + 1
        if count % PRUNE_EVERY == 0:
            self._prune(*key)

    def _prune(self, symbol: str, timeframe: str) -> None:
        self._conn.execute(
            "DELETE FROM bars WHERE symbol = ? AND timeframe = ? AND ts < (SELECT ts FROM bars WHERE symbol = ? "
            "AND timeframe = ? ORDER BY ts DESC LIMIT 1 OFFSET ?)", (symbol, timeframe, symbol, timeframe,
                                                                    self.retention - 1))

    def bars_before(self, symbol: str, count: int, timeframe: str | None = None,
                    before: datetime | None = None) -> list[BarClosed]:
        """Return up to ``count`` most recent bars of ``symbol`` older than ``before``, oldest first."""
        if count <= 0:
            return []
        timeframe = timeframe or self._only_timeframe(symbol)
        limit = _micros(before) if before is not None else 1 << 62
        rows = self._conn.execute(
            "SELECT * FROM bars WHERE symbol = ? AND timeframe = ? AND ts < ? ORDER BY ts DESC LIMIT ?",
            (symbol, timeframe, limit, count)).fetchall()
        return [new_bar(UUID(row["message_id"]), _time(row["ts"]), row["source"], symbol, row["sequence"],
                        timeframe, Decimal(row["open"]), Decimal(row["high"]), Decimal(row["low"]),
                        Decimal(row["close"]), Decimal(row["volume"])) for row in reversed(rows)]

    def timeframes(self, symbol: str) -> list[str]:
        """Return the timeframes ``symbol`` has bars of, sorted."""
        rows = self._conn.execute("SELECT DISTINCT timeframe FROM bars WHERE symbol = ? ORDER BY timeframe",
                                  (symbol,))
        return [row["timeframe"] for row in rows]

    def _only_timeframe(self, symbol: str) -> str:
        timeframes = self.timeframes(symbol)
        if len(timeframes) > 1:
            raise AmbiguousTimeframe(f"{symbol} has bars of timeframes {timeframes}; name one")
        return timeframes[0] if timeframes else ""

    # -- replay positions --------------------------------------------------------------------------------------
    def position(self, feed: str) -> ReplayPosition:
        """Return how far the replay ``feed`` got (nothing confirmed yet for a new one)."""
        row = self._conn.execute("SELECT position, last_id FROM replay_positions WHERE feed = ?", (feed,)).fetchone()
        if row is None:
            return ReplayPosition()
        return ReplayPosition(row["position"], UUID(row["last_id"]) if row["last_id"] else None)

    def save_position(self, feed: str, position: ReplayPosition) -> None:
        """Record how far the replay ``feed`` got."""
        with transaction(self._conn):
            self._conn.execute("INSERT OR REPLACE INTO replay_positions VALUES (?, ?, ?)",
                               (feed, position.position, str(position.last_id) if position.last_id else None))

    def positions(self) -> Iterable[tuple[str, ReplayPosition]]:
        """Return every replay's position (for health and tests)."""
        rows = self._conn.execute("SELECT feed FROM replay_positions ORDER BY feed").fetchall()
        return [(row["feed"], self.position(row["feed"])) for row in rows]
