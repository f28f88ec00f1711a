"""Publish what a live feed yields: bars into the history first, then everything through a ``PublishWindow``.

Unlike a replay there is no position to save: a live feed never yields an event twice in one process, and a bar
it republishes after a restart is refused by the feed itself (the history's newest bar is the last published).
A bar enters the history before it is published, so a strategy warming up finds every bar it was sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterable

from shared.contracts import BarClosed
from shared.messaging.bus import MessageBus
from shared.messaging.window import PublishWindow

from ..domain import BarArchive
from .feeds import MarketMessage

PUBLISH_WINDOW = 64
"""Live publishes awaiting the broker's confirm at once."""


class LivePublisher:
    """Publish ``feed`` on ``bus`` for as long as it runs, keeping its bars in ``history``."""

    def __init__(self, feed: AsyncIterable[MarketMessage], bus: MessageBus, history: BarArchive, *,
                 window: int = PUBLISH_WINDOW) -> None:
        self.feed, self.bus, self.history, self.window_size = feed, bus, history, window
        self._window: PublishWindow | None = None
        self.bars = 0

    @property
    def published(self) -> int:
        """Return how many events the broker confirmed so far."""
        return self._window.confirmed if self._window is not None else 0

    async def run(self) -> int:
        """Publish until the feed ends (it is closed); return how many events were published, all confirmed."""
        window = self._window = PublishWindow(self.bus.publish, self.window_size)
        try:
            async for event in self.feed:
                if type(event) is BarClosed:
                    self.history.append(event)
                    self.bars += 1
                await window.put(event)
            await window.flush()
        except BaseException:
            await window.cancel()
            raise
        return window.confirmed
