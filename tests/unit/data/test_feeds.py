"""The feed interface: async iteration of replay feeds, closing, returning to the event loop."""

from __future__ import annotations

import asyncio

from services.data.adapters import CsvBarFeed, MergedFeed, SyntheticBarFeed, SyntheticBookFeed
from tests.paths import ORCL_SAMPLE, fixture_file


async def test_async_iteration_yields_what_sync_iteration_yields() -> None:
    feed = MergedFeed([CsvBarFeed(fixture_file("goog-2004-2013.csv"), "GOOG"), SyntheticBookFeed(["BOOK"], count=50)])

    assert [message async for message in feed] == list(feed)


async def test_closing_a_feed_ends_the_pass_in_progress_and_closes_its_file() -> None:
    feed = CsvBarFeed(ORCL_SAMPLE, "ORCL")
    passing = feed.iter_messages()
    next(passing)
    file = passing.gi_frame.f_locals["file"]

    await feed.close()

    assert file.closed
    assert list(passing) == [] and list(feed) == []


async def test_a_feed_used_as_a_context_manager_is_closed_on_exit() -> None:
    async with CsvBarFeed(fixture_file("goog-2004-2013.csv"), "GOOG") as feed:
        first = [bar async for bar in feed][:1]

    assert len(first) == 1 and [bar async for bar in feed] == []


async def test_closing_a_merged_feed_closes_the_feeds_in_it() -> None:
    inner = SyntheticBarFeed(["AAA"], count=10)

    await MergedFeed([inner]).close()

    assert list(inner) == []


async def test_a_long_replay_lets_other_tasks_run() -> None:
    feed = SyntheticBarFeed(["AAA"], count=5_000)
    ticks: list[int] = []

    async def other_task() -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0)

    other = asyncio.create_task(other_task())
    await asyncio.sleep(0)
    started = len(ticks)
    count = sum([1 async for _ in feed])
    other.cancel()

    assert count == 5_000
    assert len(ticks) - started >= 5_000 // feed.yield_every - 1
