"""Publish a stream of messages in order with many awaiting their confirm at once, and never give one up.

On one publishing channel the broker receives messages in the order they are sent, so a window keeps a stream's
order while the confirm round trips overlap instead of adding up. When a publish fails (a timeout, a nack, the
connection lost) the window stops sending, lets the others in flight finish, then sends the unconfirmed ones
again, one at a time and in order, with backoff, for as long as it takes. A lost connection fails a suffix of the
window (the broker received a prefix), so resending from the first failure repeats at most what consumers
already had, which they drop by sequence. ``confirmed`` counts the messages confirmed without a gap: the position
a publisher may record as done.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from shared.contracts import Message

from .errors import PublishFailed

log = logging.getLogger(__name__)


def resend_backoff(tries: int) -> float:
    """Return the pause before resending a failed publish for the ``tries``-th time: 0.1 s doubling, at most 5 s."""
    return min(0.1 * 2.0 ** (tries - 1), 5.0)


@dataclass(eq=False)
class _Sent:
    message: Message
    task: asyncio.Task[None] | None = None
    confirmed: bool = False
    error: BaseException | None = field(default=None, repr=False)


class PublishWindow:
    """Publish messages through ``publish`` in the order given, at most ``size`` awaiting their confirm."""

    def __init__(self, publish: Callable[[Message], Awaitable[None]], size: int = 64) -> None:
        if size < 1:
            raise ValueError(f"a publish window holds at least one publish, not {size}")
        self._publish = publish
        self._size = size
        self._sent: deque[_Sent] = deque()
        self._room = asyncio.Event()
        self._room.set()
        self.confirmed = 0
        """Messages confirmed so far, counted from the first one put, with none unconfirmed before them."""
        self.resent = 0
        """Messages published again after a failure."""

    async def put(self, message: Message) -> None:
        """Send ``message`` once fewer than ``size`` are unconfirmed (after recovering from any failure)."""
        while len(self._sent) >= self._size:
            self._room.clear()
            await self._room.wait()
            await self._recover_if_failed()
        await self._recover_if_failed()
        sent = _Sent(message)
        sent.task = asyncio.ensure_future(self._publish(message))
        sent.task.add_done_callback(partial(self._finished, sent))
        self._sent.append(sent)

    async def flush(self) -> None:
        """Wait until every message put so far is confirmed."""
        while self._sent:
            await asyncio.gather(*(s.task for s in self._sent if s.task is not None), return_exceptions=True)
            await self._recover_if_failed()

    async def cancel(self) -> None:
        """Stop the publishes in flight (a replay being stopped); what they sent may or may not be confirmed."""
        tasks = [s.task for s in self._sent if s.task is not None and not s.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._sent.clear()

    def _finished(self, sent: _Sent, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        sent.error = task.exception()
        sent.confirmed = sent.error is None
        self._advance()

    def _advance(self) -> None:
        while self._sent and self._sent[0].confirmed:
            self._sent.popleft()
            self.confirmed += 1
        if len(self._sent) < self._size or self._failed():
            self._room.set()

    def _failed(self) -> bool:
        return any(s.error is not None for s in self._sent)

    async def _recover_if_failed(self) -> None:
        if not self._failed():
            return
        await asyncio.gather(*(s.task for s in self._sent if s.task is not None), return_exceptions=True)
        first = next(i for i, s in enumerate(self._sent) if not s.confirmed)
        if any(s.confirmed for s in list(self._sent)[first:]):
            log.error("a publish failed while later ones were confirmed: consumers may have seen its successors "
                      "first and will drop it as older")
        for sent in list(self._sent)[first:]:
            if not sent.confirmed:
                await self._resend(sent)
        self._advance()

    async def _resend(self, sent: _Sent) -> None:
        tries = 0
        while True:
            try:
                await self._publish(sent.message)
            except PublishFailed as error:
                tries += 1
                if tries == 1 or tries % 10 == 0:
                    log.warning("publishing %s failed (try %d), retrying: %s", sent.message.type, tries, error)
                await asyncio.sleep(resend_backoff(tries))
                continue
            sent.confirmed, sent.error = True, None
            self.resent += 1
            return
