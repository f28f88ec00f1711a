"""The feed interface every market-data source implements, replay feeds, and their time-ordered merge.

A ``Feed`` is an async iterator of market messages plus ``close()``; the data service publishes what it yields.
A ``ReplayFeed`` (CSV files, synthetic data) is finite and can also be iterated synchronously: the backtester
drives the bus itself and skips the cost of an ``await`` per bar.
"""

from __future__ import annotations

import abc
import asyncio
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from types import TracebackType
from typing import Self, TypeAlias

from shared.contracts import BarClosed, OrderBookUpdated, QuoteTicked, TradeTicked

from ..domain.merge import merge_in_time_order

MarketMessage: TypeAlias = BarClosed | TradeTicked | QuoteTicked | OrderBookUpdated
"""What a feed yields."""


class Feed(abc.ABC):
    """A source of market messages: iterate it with ``async for``, then ``close()`` it."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[MarketMessage]:
        """Return an iterator over the feed's messages, in the order they happened."""

    async def close(self) -> None:
        """Release what the feed holds (files, connections); iterations in progress end."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


class ReplayFeed(Feed):
    """A finite feed of recorded or generated data in time order; each iteration is a fresh pass from the start."""

    yield_every = 1_000
    """Messages between two returns to the event loop during async iteration (which otherwise never waits)."""

    def __init__(self) -> None:
        self._closed = False
        self._passes: weakref.WeakSet[Iterator[MarketMessage]] = weakref.WeakSet()

    @abc.abstractmethod
    def _messages(self) -> Iterator[MarketMessage]:
        """Yield one pass over the feed's messages, in time order."""

    def iter_messages(self) -> Iterator[MarketMessage]:
        """Return a synchronous iterator over one fresh pass of the feed (empty once the feed is closed)."""
        if self._closed:
            return iter(())
        messages = self._messages()
        self._passes.add(messages)
        return messages

    def __iter__(self) -> Iterator[MarketMessage]:
        return self.iter_messages()

    async def __aiter__(self) -> AsyncIterator[MarketMessage]:
        messages = self.iter_messages()
        try:
            for count, message in enumerate(messages, 1):
                yield message
                if count % self.yield_every == 0:
                    await asyncio.sleep(0)
        finally:
            getattr(messages, "close", lambda: None)()

    async def close(self) -> None:
        """End every pass in progress (closing its file) and make later passes empty."""
        self._closed = True
        for messages in list(self._passes):
            messages.close()  # type: ignore[attr-defined]


class MessagesFeed(ReplayFeed):
    """A replay of messages already read: every pass yields the same objects, in order."""

    def __init__(self, messages: Sequence[MarketMessage]) -> None:
        super().__init__()
        self.messages = messages

    def _messages(self) -> Iterator[MarketMessage]:
        yield from self.messages


class MergedFeed(ReplayFeed):
    """Replay several feeds as one, in time order; ties go by symbol, then by the feeds' order."""

    def __init__(self, feeds: Sequence[ReplayFeed]) -> None:
        super().__init__()
        self.feeds = tuple(feeds)

    def _messages(self) -> Iterator[MarketMessage]:
        yield from merge_in_time_order(feed.iter_messages() for feed in self.feeds)

    async def close(self) -> None:
        """Close the merged feeds too."""
        await super().close()
        for feed in self.feeds:
            await feed.close()
