"""The replay's publish window: confirms overlap up to the window, publishes start in feed order, failures stop it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

import pytest

from services.data.adapters import Pacer, SyntheticBarFeed
from services.data.domain import BarHistory
from services.data.handlers import PUBLISH_WINDOW, DataDeps, PublishWindow, replay
from shared.contracts import Message
from shared.messaging.errors import PublishFailed
from shared.runtime.clock import LiveClock

BARS = 3 * PUBLISH_WINDOW


class ConfirmingBus:
    """A bus whose every publish waits until the test confirms or fails it."""

    def __init__(self) -> None:
        self.started: list[Message] = []
        self.confirms: dict[UUID, asyncio.Future[None]] = {}
        self.changed = asyncio.Event()

    async def publish(self, message: Message) -> None:
        confirm = asyncio.get_running_loop().create_future()
        self.started.append(message)
        self.confirms[message.message_id] = confirm
        self.changed.set()
        await confirm

    @property
    def awaiting(self) -> list[asyncio.Future[None]]:
        return [confirm for confirm in self.confirms.values() if not confirm.done()]

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(2):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


def feed(count: int = BARS) -> SyntheticBarFeed:
    return SyntheticBarFeed(["AAA", "BBB"], count=count // 2)


def deps_for(bus: ConfirmingBus) -> DataDeps:
    return DataDeps(BarHistory(BARS), feed(), bus, LiveClock(), "test")  # type: ignore[arg-type]


async def let_the_loop_run() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def confirm_everything(bus: ConfirmingBus, replaying: asyncio.Task[int]) -> None:
    """Confirm publishes newest first, as they come, until the replay ends (within 2 s)."""
    async with asyncio.timeout(2):
        while not replaying.done():
            for confirm in reversed(bus.awaiting):
                confirm.set_result(None)
            bus.changed.clear()
            changed = asyncio.ensure_future(bus.changed.wait())
            await asyncio.wait([replaying, changed], return_when=asyncio.FIRST_COMPLETED)
            changed.cancel()


async def test_a_replay_keeps_a_full_window_of_publishes_awaiting_their_confirm_and_no_more() -> None:
    bus = ConfirmingBus()
    replaying = asyncio.create_task(replay(feed(), Pacer(), deps_for(bus)))

    await bus.until(lambda: len(bus.started) == PUBLISH_WINDOW)
    await let_the_loop_run()
    assert len(bus.started) == PUBLISH_WINDOW

    bus.awaiting[0].set_result(None)
    await bus.until(lambda: len(bus.started) == PUBLISH_WINDOW + 1)
    await let_the_loop_run()
    assert len(bus.started) == PUBLISH_WINDOW + 1 and len(bus.awaiting) == PUBLISH_WINDOW
    replaying.cancel()


async def test_publishes_start_in_feed_order_and_the_replay_returns_once_every_one_is_confirmed() -> None:
    bus = ConfirmingBus()
    deps = deps_for(bus)
    replaying = asyncio.create_task(replay(feed(), Pacer(), deps))

    await confirm_everything(bus, replaying)

    assert await replaying == BARS
    assert [m.message_id for m in bus.started] == [m.message_id for m in feed()]
    assert deps.published == BARS and not bus.awaiting


async def test_the_first_failed_publish_stops_the_replay_and_is_raised() -> None:
    bus = ConfirmingBus()
    replaying = asyncio.create_task(replay(feed(), Pacer(), deps_for(bus)))
    await bus.until(lambda: len(bus.started) == PUBLISH_WINDOW)

    failure = PublishFailed("broker nacked")
    bus.awaiting[0].set_exception(failure)

    with pytest.raises(PublishFailed) as raised:
        async with asyncio.timeout(2):
            await replaying
    assert raised.value is failure
    assert len(bus.started) == PUBLISH_WINDOW and not bus.awaiting  # nothing new started, the rest canceled


async def test_with_after_each_every_event_is_confirmed_before_the_next_is_published() -> None:
    bus = ConfirmingBus()
    seen: list[tuple[int, int]] = []

    async def after_each() -> None:
        seen.append((len(bus.started), len(bus.awaiting)))

    replaying = asyncio.create_task(replay(feed(10), Pacer(), deps_for(bus), after_each))
    await confirm_everything(bus, replaying)

    assert await replaying == 10
    assert seen == [(n, 0) for n in range(1, 11)]


async def test_a_window_holds_at_least_one_publish() -> None:
    with pytest.raises(ValueError, match="at least one"):
        PublishWindow(0)
