"""Open websockets of the emulated venue and what each one listens to: market streams and user-data streams."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, web


@dataclass(eq=False)
class Connection:
    """One client socket: ``market`` (``/ws``, ``/stream``) or ``user`` (WS-API subscription or listenKey)."""

    ws: web.WebSocketResponse
    kind: str
    combined: bool = False  # /stream wraps each event as {"stream": name, "data": event}
    streams: set[str] = field(default_factory=set)
    subscription_id: int | None = None  # WS-API user-data subscription; None for a raw listenKey socket
    user: bool = False


class StreamHub:
    """Fan events out to the sockets subscribed to them, and let tests wait until a subscription exists."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self._changed = asyncio.Condition()

    def add(self, connection: Connection) -> Connection:
        self.connections.add(connection)
        return connection

    async def changed(self) -> None:
        """Wake whoever waits on a subscription; call after a subscription or a connection changes."""
        async with self._changed:
            self._changed.notify_all()

    async def remove(self, connection: Connection) -> None:
        self.connections.discard(connection)
        await self.changed()

    def market_streams(self) -> set[str]:
        return {name for conn in self.connections if conn.kind == "market" for name in conn.streams}

    def has_user_stream(self) -> bool:
        return any(conn.user for conn in self.connections)

    async def wait_until(self, condition: Callable[[], bool], timeout: float) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(condition), timeout)

    async def publish(self, names: list[str], event: Any) -> None:
        """Send ``event`` to every market socket subscribed to one of ``names`` (aliases of one stream)."""
        for conn in list(self.connections):
            if conn.kind != "market":
                continue
            for name in names:
                if name in conn.streams:
                    await _send(conn, {"stream": name, "data": event} if conn.combined else event)
                    break

    async def publish_user(self, event: dict[str, Any]) -> None:
        """Send a user-data event to every user stream, wrapped as the WS-API does for its subscriptions."""
        for conn in list(self.connections):
            if conn.user:
                wrapped = event if conn.subscription_id is None else {"subscriptionId": conn.subscription_id,
                                                                      "event": event}
                await _send(conn, wrapped)

    async def disconnect(self, kind: str = "all") -> None:
        """Close the sockets of ``kind`` (market, user or all) as a network drop would."""
        for conn in list(self.connections):
            if kind == "all" or (kind == "user" and (conn.user or conn.kind == "user")) or \
                    (kind == "market" and conn.kind == "market"):
                with contextlib.suppress(Exception):
                    await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"emulator dropped the connection")
                self.connections.discard(conn)
        await self.changed()


async def _send(conn: Connection, payload: Any) -> None:
    if conn.ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await conn.ws.send_str(json.dumps(payload))
