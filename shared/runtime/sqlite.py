"""SQLite plumbing every service's store shares: a connection in WAL mode, and one write transaction at a time.

``synchronous``: ``FULL`` flushes every commit to disk (it survives a crash of the machine: orders, fills);
``NORMAL`` leaves the flush to the WAL checkpoint (a commit survives a crash of the process, the failure every
test here injects, but may be lost with the machine: data that can be rebuilt, such as market-data windows).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]
MEMORY = ":memory:"


def connect(path: str | Path, synchronous: Synchronous = "FULL") -> sqlite3.Connection:
    """Open ``path`` (``":memory:"`` for a throwaway database) in autocommit mode, WAL when on disk."""
    if str(path) != MEMORY:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.row_factory = sqlite3.Row
    if str(path) != MEMORY:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in one write transaction: committed if it returns, rolled back if it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
