"""The template of a live exchange feed (websocket or REST polling); exchange adapters subclass it later.

A subclass fills in the methods marked REQUIRED; the loop here connects, subscribes, receives, translates, and
reconnects with exponential backoff when the link drops. ``translate`` is pure, so an adapter is tested with
recorded payloads and no network.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from .feeds import Feed, MarketMessage

log = logging.getLogger("tradebus.data.live")

BadPayloadReport = Callable[[Any, Exception], None]


def backoff_delay(attempt: int, base_s: float, cap_s: float) -> float:
    """Return the wait before reconnect ``attempt`` (1, 2, ...): ``base_s`` doubled each time, at most ``cap_s``."""
    return min(cap_s, base_s * 2 ** (attempt - 1))


def log_bad_payload(payload: Any, error: Exception) -> None:
    """Report a payload ``translate`` refused, as a warning log line."""
    log.warning("bad payload skipped: %s | %.200r", error, payload)


class LiveFeed(Feed):
    """Stream market messages from a venue, reconnecting and resubscribing when the connection drops.

    Errors of the types in ``reconnect_on`` trigger a reconnect (after ``backoff_delay``); after
    ``max_reconnects`` failures with no payload received between them, the error propagates. A payload
    ``translate`` refuses with ``ValueError`` goes to ``on_bad_payload`` and is skipped. ``sleep`` is injected so
    tests need no time.
    """

    reconnect_on: tuple[type[BaseException], ...] = (OSError,)
    """Errors meaning the link dropped (``ConnectionError``, ``TimeoutError``); adapters add their library's."""

    def __init__(self, symbols: Sequence[str], *, source: str, on_bad_payload: BadPayloadReport | None = None,
                 backoff_s: tuple[float, float] = (0.5, 30.0), max_reconnects: int | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.symbols, self.source = tuple(symbols), source
        self.on_bad_payload = on_bad_payload or log_bad_payload
        self.backoff_s, self.max_reconnects, self.sleep = backoff_s, max_reconnects, sleep
        self.reconnects = 0
        self._closed = False

    @abc.abstractmethod
    async def connect(self) -> None:
        """REQUIRED: open the connection (websocket, HTTP session)."""

    @abc.abstractmethod
    async def subscribe(self, symbols: Sequence[str]) -> None:
        """REQUIRED: ask the venue for the data of ``symbols`` (called again after every reconnect)."""

    @abc.abstractmethod
    async def receive(self) -> Any:
        """REQUIRED: return the next raw payload; raise a ``reconnect_on`` error when the link drops."""

    @abc.abstractmethod
    def translate(self, payload: Any) -> Iterable[MarketMessage]:
        """REQUIRED: turn one payload into messages (none for heartbeats); raise ``ValueError`` if malformed."""

    @abc.abstractmethod
    async def disconnect(self) -> None:
        """REQUIRED: close the connection; must not fail when it is already closed."""

    async def __aiter__(self) -> AsyncIterator[MarketMessage]:
        failures = 0
        while not self._closed:
            try:
                await self.connect()
                await self.subscribe(self.symbols)
                while not self._closed:
                    payload = await self.receive()
                    failures = 0
                    for message in self._translated(payload):
                        yield message
            except self.reconnect_on:
                if self._closed:
                    return
                failures += 1
                if self.max_reconnects is not None and failures > self.max_reconnects:
                    raise
                self.reconnects += 1
                log.warning("%s: connection lost, reconnect %d", self.source, failures)
                await self.sleep(backoff_delay(failures, *self.backoff_s))
            finally:
                await self.disconnect()

    async def close(self) -> None:
        """Stop streaming and close the connection."""
        self._closed = True
        await self.disconnect()

    def _translated(self, payload: Any) -> Iterable[MarketMessage]:
        try:
            return list(self.translate(payload))
        except ValueError as error:
            self.on_bad_payload(payload, error)
            return ()
