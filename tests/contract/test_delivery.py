"""Contract: order per publisher, persistence while no consumer runs, ack only after the handler's effect."""

from __future__ import annotations

import asyncio

from shared.contracts import BarClosed, Message, TradeTicked
from shared.messaging.bus import Subscription
from shared.messaging.topology import QueueSpec

from .harness import TIMEOUT, BusHarness, Recorder, bar, service_queue, trade

SYMBOLS = ("ORCL", "MSFT")


def bars_queue(harness: BusHarness) -> QueueSpec:
    return service_queue(harness.topology, "bars", *harness.topology.bind(BarClosed, TradeTicked))


async def test_messages_from_one_publisher_arrive_in_publish_order(harness: BusHarness) -> None:
    recorder = Recorder()
    await harness.bus.subscribe(Subscription(bars_queue(harness), {BarClosed: recorder, TradeTicked: recorder},
                                             prefetch=8))
    published = [trade(SYMBOLS[seq % 2], seq) if seq % 3 == 0 else bar(SYMBOLS[seq % 2], seq) for seq in range(40)]

    for message in published:
        await harness.bus.publish(message)

    assert await recorder.wait_for(len(published)) == published


async def test_messages_published_before_the_first_consumer_wait_in_the_declared_queue(harness: BusHarness) -> None:
    spec = bars_queue(harness)
    await harness.bus.declare(spec)
    published = [bar(seq=seq) for seq in range(3)]
    for message in published:
        await harness.bus.publish(message)

    recorder = Recorder()
    await harness.bus.subscribe(Subscription(spec, {BarClosed: recorder}))

    assert await recorder.wait_for(3) == published


async def test_messages_published_while_the_consumer_is_down_reach_the_restarted_one(harness: BusHarness) -> None:
    spec = bars_queue(harness)
    before, after = [bar(seq=seq) for seq in range(3)], [bar(seq=seq) for seq in range(3, 6)]
    first = Recorder()
    consumer = await harness.bus.subscribe(Subscription(spec, {BarClosed: first}))
    for message in before:
        await harness.bus.publish(message)
    await first.wait_for(3)

    await consumer.cancel()
    for message in after:
        await harness.bus.publish(message)
    restarted = Recorder()
    await (await harness.another_bus()).subscribe(Subscription(spec, {BarClosed: restarted}))

    assert await restarted.wait_for(3) == after
    assert first.messages == before


async def test_message_whose_handler_was_killed_midway_is_redelivered(harness: BusHarness) -> None:
    spec = bars_queue(harness)
    started, finished = asyncio.Event(), []

    async def stuck(message: Message) -> None:
        started.set()
        await asyncio.Event().wait()  # the effect is never stored
        finished.append(message)

    consumer = await harness.bus.subscribe(Subscription(spec, {BarClosed: stuck}))
    message = bar()
    await harness.bus.publish(message)
    await asyncio.wait_for(started.wait(), TIMEOUT)

    await consumer.kill()
    restarted = Recorder()
    await (await harness.another_bus()).subscribe(Subscription(spec, {BarClosed: restarted}))

    assert await restarted.wait_for(1) == [message]
    assert finished == []


async def test_cancel_finishes_the_message_in_hand_and_leaves_the_rest_queued(harness: BusHarness) -> None:
    spec = bars_queue(harness)
    in_hand, release = asyncio.Event(), asyncio.Event()

    async def slow(message: Message) -> None:
        in_hand.set()
        await release.wait()

    first = Recorder(slow)
    consumer = await harness.bus.subscribe(Subscription(spec, {BarClosed: first}, prefetch=10))
    published = [bar(seq=seq) for seq in range(4)]
    for message in published:
        await harness.bus.publish(message)
    await asyncio.wait_for(in_hand.wait(), TIMEOUT)

    cancelling = asyncio.create_task(consumer.cancel())  # runs before the handler resumes: tasks run FIFO
    release.set()
    await asyncio.wait_for(cancelling, TIMEOUT)
    restarted = Recorder()
    await (await harness.another_bus()).subscribe(Subscription(spec, {BarClosed: restarted}))

    assert first.messages == published[:1]
    assert await restarted.wait_for(3) == published[1:]
