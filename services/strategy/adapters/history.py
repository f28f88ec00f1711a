"""Ask the data service for a symbol's bars and wait for the reply on this worker's own queue."""

from __future__ import annotations

import asyncio
from datetime import datetime
from uuid import UUID

from shared.contracts import BarClosed, BarHistoryProvided, RequestBarHistory
from shared.messaging.bus import MessageBus
from shared.messaging.errors import TransientError
from shared.runtime.clock import Clock


class _Pages:
    """The pages of one reply received so far; done once all of them are in."""

    def __init__(self, future: asyncio.Future[list[BarClosed]]) -> None:
        self.future = future
        self.pages: dict[int, BarHistoryProvided] = {}

    def add(self, reply: BarHistoryProvided) -> None:
        self.pages[reply.page] = reply
        if len(self.pages) == reply.pages and not self.future.done():
            self.future.set_result([bar for page in sorted(self.pages) for bar in bars_of(self.pages[page])])


class HistoryClient:
    """Request bar history as ``requester`` and match replies to requests by their causation id.

    The replies arrive through ``on_reply``, the handler of ``BarHistoryProvided`` on the worker's inbox, whose
    binding carries only the replies addressed to ``requester``; a long history comes in several pages.
    """

    def __init__(self, bus: MessageBus, clock: Clock, requester: str, *, count: int, timeout: float) -> None:
        self.bus = bus
        self.clock = clock
        self.requester = requester
        self.count = count
        self.timeout = timeout
        self._waiting: dict[UUID, _Pages] = {}

    async def bars_before(self, symbol: str, before: datetime, timeframe: str | None = None) -> list[BarClosed]:
        """Return up to ``count`` bars of ``symbol`` older than ``before``, oldest first.

        Raise ``TransientError`` when no reply came within ``timeout`` (the data service is down or slow): the
        event that needed the history is retried.
        """
        request = RequestBarHistory(ts_event=self.clock.now(), ts_init=self.clock.now(), source=self.requester,
                                    symbol=symbol, timeframe=timeframe, count=self.count, requester=self.requester,
                                    before=before)
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[list[BarClosed]] = loop.create_future()
        self._waiting[request.message_id] = _Pages(reply)
        # a timer rather than ``wait_for``, which on Python 3.11 can swallow the cancellation of a hand-over
        expiry = loop.call_later(self.timeout, _fail, reply, TransientError(
            f"no history of {symbol} before {before.isoformat()} within {self.timeout}s"))
        try:
            await self.bus.publish(request)
            return await reply
        finally:
            expiry.cancel()
            self._waiting.pop(request.message_id, None)

    async def on_reply(self, reply: BarHistoryProvided) -> None:
        """Hand ``reply`` to the request waiting for it; ignore a reply nobody waits for any more."""
        waiting = self._waiting.get(reply.causation_id) if reply.causation_id is not None else None
        if waiting is not None:
            waiting.add(reply)

    def abandon(self) -> None:
        """Fail every request still waiting (the worker is stopping): their events return to the queue."""
        for waiting in self._waiting.values():
            _fail(waiting.future, TransientError("the worker is stopping"))


def _fail(waiting: asyncio.Future[list[BarClosed]], error: Exception) -> None:
    if not waiting.done():
        waiting.set_exception(error)


def bars_of(reply: BarHistoryProvided) -> list[BarClosed]:
    """Return the bars of a history reply as ``BarClosed`` events, oldest first, for a strategy to warm up on.

    They are built without validation (the reply was validated on arrival) and share the reply's ids: they
    are fed to strategies and never published.
    """
    construct = BarClosed.model_construct
    common = {"message_id": reply.message_id, "correlation_id": reply.correlation_id, "source": reply.source,
              "symbol": reply.symbol, "timeframe": reply.timeframe}
    return [construct(ts_event=view.ts, ts_init=view.ts, open=view.open, high=view.high, low=view.low,
                      close=view.close, volume=view.volume, **common) for view in reply.bars]
