"""The replay: confirms overlap up to the window, publishes go out in feed order, a failed one is sent again, and a
restarted replay resumes after the position it saved."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

import pytest

from services.data.adapters import SyntheticBarFeed
from services.data.adapters.archive import DataArchive
from services.data.adapters.replay import PUBLISH_WINDOW, Replay, ReplayMismatch
from shared.contracts import Message
from shared.messaging.errors import PublishFailed
from shared.messaging.window import PublishWindow

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


def replay_of(bus: object, archive: DataArchive | None = None, count: int = BARS, *, save_every: int = 16) -> Replay:
    archive = archive or DataArchive(":memory:")
    return Replay(feed(count), "the-feed", bus, archive, archive, save_every=save_every)  # type: ignore[arg-type]


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
    replaying = asyncio.create_task(replay_of(bus).run())

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
    replay = replay_of(bus)
    replaying = asyncio.create_task(replay.run())

    await confirm_everything(bus, replaying)

    assert await replaying == BARS
    assert [m.message_id for m in bus.started] == [m.message_id for m in feed()]
    assert replay.published == BARS and replay.done and not bus.awaiting


async def test_a_failed_publish_is_sent_again_in_order_and_the_replay_goes_on() -> None:
    bus = ConfirmingBus()
    replaying = asyncio.create_task(replay_of(bus).run())
    await bus.until(lambda: len(bus.started) == PUBLISH_WINDOW)

    first = bus.awaiting[0]
    for confirm in bus.awaiting[1:]:  # a lost connection fails a suffix: every publish after the first failure
        confirm.set_exception(PublishFailed("connection lost"))
    first.set_result(None)
    await bus.until(lambda: len(bus.started) == PUBLISH_WINDOW + 1)

    resent = bus.started[PUBLISH_WINDOW]
    assert resent.message_id == bus.started[1].message_id  # the first unconfirmed one, nothing after it yet
    await confirm_everything(bus, replaying)
    assert await replaying == BARS
    confirmed = [m.message_id for m in bus.started if bus.confirms[m.message_id].exception() is None]
    assert sorted(set(confirmed)) == sorted(m.message_id for m in feed())


async def test_a_restarted_replay_resumes_after_the_position_it_saved() -> None:
    archive = DataArchive(":memory:")
    first = ConfirmingBus()
    replaying = asyncio.create_task(replay_of(first, archive, save_every=16).run())
    await first.until(lambda: len(first.started) == PUBLISH_WINDOW)
    for confirm in first.awaiting[:40]:
        confirm.set_result(None)
    await first.until(lambda: len(first.started) == PUBLISH_WINDOW + 40)
    replaying.cancel()  # killed with 40 confirmed: saved with the publish that followed them
    await asyncio.gather(replaying, return_exceptions=True)
    saved = archive.position("the-feed")
    assert saved.position == 40 and saved.last_id == bus_ids(first)[39]

    second = ConfirmingBus()
    resumed = replay_of(second, archive)
    resuming = asyncio.create_task(resumed.run())
    await confirm_everything(second, resuming)

    assert await resuming == BARS - 40 and resumed.resumed_from == 40
    assert bus_ids(second) == [m.message_id for m in feed()][40:]


async def test_a_position_saved_on_other_data_stops_the_replay_with_what_to_do() -> None:
    archive = DataArchive(":memory:")
    replay = replay_of(PublishingBus(), archive, count=20)
    await replay.run()

    changed = Replay(SyntheticBarFeed(["AAA", "CCC"], count=10), "the-feed", PublishingBus(), archive,  # type: ignore[arg-type]
                     archive)
    with pytest.raises(ReplayMismatch, match="the data changed since"):
        await changed.run()


def bus_ids(bus: ConfirmingBus) -> list[UUID]:
    return [m.message_id for m in bus.started]


class PublishingBus:
    async def publish(self, message: Message) -> None:
        pass


async def test_a_window_holds_at_least_one_publish() -> None:
    with pytest.raises(ValueError, match="at least one"):
        PublishWindow(PublishingBus().publish, 0)
