"""The transactional outbox: messages owed by a state change, stored with it, published from there.

A service that changes its state and must announce it (execution's order events, portfolio's position changes)
writes the messages into an outbox table in the same transaction as the change, then publishes what the outbox
holds and deletes each entry once the broker confirmed it. A crash between the commit and the publish loses
nothing (the next flush, at the latest on start-up, sends it); a crash between the confirm and the delete sends
it twice, with the same message id, which consumers recognise.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from shared.contracts import Message, decode, encode

from .bus import MessageBus

OUTBOX_TABLE = "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, " \
               "body TEXT NOT NULL)"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message owed and not yet published, under its outbox sequence number."""

    seq: int
    message: Message


class Outbox(Protocol):
    """Where owed messages wait: oldest first, each removed once published."""

    def unpublished(self) -> list[Outgoing]: ...
    def mark_published(self, seq: int) -> None: ...


class OutboxPublisher:
    """Publish an outbox's messages in order; one flush at a time (several consumers may flush the same outbox)."""

    def __init__(self, outbox: Outbox, bus: MessageBus,
                 on_published: Callable[[Message], None] | None = None) -> None:
        self.outbox = outbox
        self.bus = bus
        self.on_published = on_published
        self._lock = asyncio.Lock()

    async def flush(self) -> int:
        """Publish every owed message, oldest first, marking each once confirmed; return how many were sent."""
        async with self._lock:  # two flushes at once would both publish an entry neither has marked yet
            sent = 0
            for outgoing in self.outbox.unpublished():
                await self.bus.publish(outgoing.message)
                self.outbox.mark_published(outgoing.seq)
                if self.on_published is not None:
                    self.on_published(outgoing.message)
                sent += 1
            return sent


class MemoryOutbox:
    """An outbox in memory, for stores that keep nothing beyond the process (the backtester's)."""

    def __init__(self) -> None:
        self._entries: dict[int, Message] = {}
        self._seq = 0

    def enqueue(self, messages: Iterable[Message]) -> None:
        """Add ``messages``, in order."""
        for message in messages:
            self._seq += 1
            self._entries[self._seq] = message

    def unpublished(self) -> list[Outgoing]:
        return [Outgoing(seq, message) for seq, message in self._entries.items()]

    def mark_published(self, seq: int) -> None:
        self._entries.pop(seq, None)

    def __len__(self) -> int:
        return len(self._entries)


class SqliteOutbox:
    """An outbox in the ``outbox`` table of a SQLite store, written in the store's own transactions."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        conn.execute(OUTBOX_TABLE)

    def enqueue(self, messages: Iterable[Message], conn: sqlite3.Connection | None = None) -> None:
        """Add ``messages`` through ``conn`` (the connection whose transaction is open; the store's by default)."""
        (conn or self._conn).executemany("INSERT INTO outbox (type, body) VALUES (?, ?)",
                                         [(message.type, encode(message).decode()) for message in messages])

    def unpublished(self) -> list[Outgoing]:
        rows = self._conn.execute("SELECT seq, type, body FROM outbox ORDER BY seq").fetchall()
        return [Outgoing(seq, decode(type_name, body)) for seq, type_name, body in rows]

    def mark_published(self, seq: int) -> None:
        self._conn.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
