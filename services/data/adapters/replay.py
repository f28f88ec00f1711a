"""The replay loop: publish a feed's events in order, at the pacer's speed, and resume after a restart.

Events go out through a ``PublishWindow`` (many confirms awaited at once, order kept, a failed publish sent again
with backoff, never fatal). Bars enter the history before they are published. Every ``save_every`` events the
replay records its position, the events the broker confirmed without a gap; a restarted data service skips that
many and goes on from there. What it sends again (confirmed after the last save) carries the same ids and
sequences, and consumers drop it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import AsyncIterable
from typing import Protocol
from uuid import UUID

from shared.contracts import BarClosed
from shared.messaging.bus import MessageBus
from shared.messaging.window import PublishWindow

from ..domain import BarArchive
from .archive import ReplayPosition
from .feeds import MarketMessage
from .pacing import Pacer

log = logging.getLogger(__name__)

PUBLISH_WINDOW = 64
"""Publishes of a replay awaiting the broker's confirm at once: enough that confirm round trips overlap."""
SAVE_EVERY = 256
"""Events between two saves of the replay position."""


class ReplayMismatch(Exception):
    """Raised when the data to replay is not the data the saved position was counted on."""


class PositionStore(Protocol):
    def position(self, feed: str) -> ReplayPosition: ...
    def save_position(self, feed: str, position: ReplayPosition) -> None: ...


class NoPositions:
    """A position store that keeps nothing: every replay starts from the beginning (the backtester's)."""

    def position(self, feed: str) -> ReplayPosition:
        return ReplayPosition()

    def save_position(self, feed: str, position: ReplayPosition) -> None:
        pass


class Replay:
    """Publish ``feed`` (named ``key`` in the position store) on ``bus``, keeping its bars in ``history``."""

    def __init__(self, feed: AsyncIterable[MarketMessage], key: str, bus: MessageBus, history: BarArchive,
                 positions: PositionStore, pacer: Pacer | None = None, *, window: int = PUBLISH_WINDOW,
                 save_every: int = SAVE_EVERY) -> None:
        self.feed, self.key, self.bus, self.history, self.positions = feed, key, bus, history, positions
        self.pacer = pacer or Pacer()
        self.window_size, self.save_every = window, save_every
        self._published = 0
        self._window: PublishWindow | None = None
        self.resumed_from = 0
        self.done = False

    async def publish(self, event: MarketMessage) -> None:
        """Publish one event, keeping a bar in the history first (the backtester calls this one at a time)."""
        if type(event) is BarClosed:
            self.history.append(event)
        await self.bus.publish(event)
        self._published += 1

    @property
    def published(self) -> int:
        """Return how many events this process published and the broker confirmed."""
        return self._published + (self._window.confirmed if self._window is not None else 0)

    async def run(self) -> int:
        """Publish every event after the saved position; return how many this run published (all confirmed)."""
        start = self.positions.position(self.key)
        self.resumed_from = start.position
        if start.position:
            log.info("resuming the replay %s after event %d", self.key, start.position)
        window = self._window = PublishWindow(self.bus.publish, self.window_size)
        unsaved: deque[tuple[int, UUID]] = deque()
        saved = start
        index = 0
        try:
            async for event in self.feed:
                index += 1
                if index <= start.position:
                    if index == start.position and event.message_id != start.last_id:
                        raise ReplayMismatch(
                            f"replay {self.key}: event {index} is not the one the saved position names; the data "
                            "changed since. Delete the data service's state (its state_dir) to replay it afresh")
                    continue
                await self.pacer.wait(event.ts_event)
                if type(event) is BarClosed:
                    self.history.append(event)
                await window.put(event)
                unsaved.append((index, event.message_id))
                if start.position + window.confirmed - saved.position >= self.save_every:
                    saved = self._save(saved, start.position + window.confirmed, unsaved)
            if index < start.position:
                raise ReplayMismatch(f"replay {self.key}: the data has {index} events, fewer than the "
                                     f"{start.position} already replayed; the data changed since")
            await window.flush()
        except BaseException:
            await window.cancel()
            raise
        self._save(saved, start.position + window.confirmed, unsaved)
        self.done = True
        return window.confirmed

    def _save(self, saved: ReplayPosition, confirmed: int, unsaved: deque[tuple[int, UUID]]) -> ReplayPosition:
        last_id = saved.last_id
        while unsaved and unsaved[0][0] <= confirmed:
            last_id = unsaved.popleft()[1]
        if confirmed == saved.position:
            return saved
        position = ReplayPosition(confirmed, last_id)
        self.positions.save_position(self.key, position)
        return position
