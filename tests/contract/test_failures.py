"""Contract: what a failed message becomes: dead-lettered with the reason, retried, or the service stopped."""

from __future__ import annotations

import asyncio
import json

import pytest

from shared.contracts import BarClosed, Message, TradeTicked, encode
from shared.messaging.bus import Subscription
from shared.messaging.errors import ErrorPolicy, FatalError, InvalidMessage, TransientError
from shared.messaging.topology import PARTITION_HEADER, QueueSpec, partition_of

from .harness import TIMEOUT, BusHarness, Recorder, bar, service_queue, trade


def bars_queue(harness: BusHarness) -> QueueSpec:
    return service_queue(harness.topology, "bars", *harness.topology.bind(BarClosed, TradeTicked))


class Failing(Recorder):
    """A handler that raises ``error`` on its first ``times`` calls and records the messages it then handles."""

    def __init__(self, error: BaseException, times: int = 1_000) -> None:
        super().__init__(self._fail)
        self.calls: list[Message] = []
        self._error = error
        self._times = times

    def _fail(self, message: Message) -> None:
        self.calls.append(message)
        if len(self.calls) <= self._times:
            raise self._error


def schema_invalid_bar() -> bytes:
    body = json.loads(encode(bar()))
    body["high"], body["low"] = "90", "110"
    return json.dumps(body).encode()


BAD_PAYLOADS = {
    "invalid_json": (b'{"type": "BarClosed", "symbol": ', "BarClosed", "Invalid JSON"),
    "schema_invalid": (schema_invalid_bar(), "BarClosed", "BarClosed failed validation"),
    "unknown_type": (encode(bar()), "BarOpened", "unknown message type 'BarOpened'"),
    "no_type": (encode(bar()), None, "message has no 'type' property"),
}


@pytest.mark.parametrize("payload", BAD_PAYLOADS.values(), ids=list(BAD_PAYLOADS))
async def test_undecodable_message_is_dead_lettered_with_the_reason_and_consuming_goes_on(
        harness: BusHarness, payload: tuple[bytes, str | None, str]) -> None:
    body, type_name, reason = payload
    spec = bars_queue(harness)
    recorder = Recorder()
    await harness.bus.subscribe(Subscription(spec, {BarClosed: recorder}))
    exchange, routing_key = harness.topology.address_of("BarClosed", "ORCL")
    good = bar(seq=1)

    await harness.bus.publish_raw(exchange, routing_key, body, type_name=type_name)
    await harness.bus.publish(good)

    assert await recorder.wait_for(1) == [good]
    [letter] = await harness.dead_letters(spec, 1)
    assert letter.body == body
    assert reason in letter.headers["x-error"]
    assert letter.headers["x-error-type"] == "InvalidMessage"
    assert letter.headers["x-failed-queue"] == spec.name
    assert letter.headers["x-original-routing-key"] == routing_key


async def test_handler_raising_invalid_message_is_dead_lettered_at_once(harness: BusHarness) -> None:
    spec = bars_queue(harness)
    handler = Failing(InvalidMessage("bar is from the future"))
    await harness.bus.subscribe(Subscription(spec, {BarClosed: handler}))
    message = bar()

    await harness.bus.publish(message)

    [letter] = await harness.dead_letters(spec, 1)
    assert letter.message_id == message.message_id
    assert "bar is from the future" in letter.headers["x-error"]
    assert letter.headers["x-attempts"] == 1
    assert handler.calls == [message]


async def test_message_of_a_type_without_handler_is_dead_lettered(harness: BusHarness) -> None:
    spec = bars_queue(harness)
    recorder = Recorder()
    await harness.bus.subscribe(Subscription(spec, {BarClosed: recorder}))
    orphan, good = trade(), bar()

    await harness.bus.publish(orphan)
    await harness.bus.publish(good)

    assert await recorder.wait_for(1) == [good]
    [letter] = await harness.dead_letters(spec, 1)
    assert letter.message_id == orphan.message_id
    assert "no handler for TradeTicked" in letter.headers["x-error"]


async def test_transient_failure_is_retried_until_the_delivery_limit_then_dead_lettered(harness: BusHarness) -> None:
    spec = bars_queue(harness)
    handler = Failing(TransientError("quote service down"))
    await harness.bus.subscribe(Subscription(spec, {BarClosed: handler, TradeTicked: handler}))
    doomed = bar()

    await harness.bus.publish(doomed)

    [letter] = await harness.dead_letters(spec, 1)
    assert letter.message_id == doomed.message_id
    assert handler.calls == [doomed] * spec.delivery_limit
    assert letter.headers["x-attempts"] == spec.delivery_limit
    assert f"delivery limit {spec.delivery_limit} reached" in letter.headers["x-error"]
    assert "quote service down" in letter.headers["x-error"]
    assert letter.headers["x-error-type"] == "TransientError"


async def test_deliveries_lost_to_killed_consumers_count_towards_the_delivery_limit(harness: BusHarness) -> None:
    spec = bars_queue(harness)
    await harness.bus.declare(spec)
    message = bar()
    await harness.bus.publish(message)
    for _ in range(spec.delivery_limit - 1):
        started = asyncio.Event()

        async def stuck(_: Message, started: asyncio.Event = started) -> None:
            started.set()
            await asyncio.Event().wait()

        consumer = await (await harness.another_bus()).subscribe(Subscription(spec, {BarClosed: stuck}))
        await asyncio.wait_for(started.wait(), TIMEOUT)
        await consumer.kill()

    last = Failing(TransientError("still down"))
    await (await harness.another_bus()).subscribe(Subscription(spec, {BarClosed: last}))

    [letter] = await harness.dead_letters(spec, 1)
    assert last.calls == [message]
    assert letter.headers["x-attempts"] == spec.delivery_limit


async def test_transient_failure_that_clears_is_acked_and_not_dead_lettered(harness: BusHarness) -> None:
    spec = bars_queue(harness)
    handler = Failing(TransientError("timeout"), times=spec.delivery_limit - 1)
    await harness.bus.subscribe(Subscription(spec, {BarClosed: handler}))
    message, after = bar(seq=0), bar(seq=1)

    await harness.bus.publish(message)
    await harness.bus.publish(after)

    assert await handler.wait_for(2) == [message, after]
    assert handler.calls == [message] * spec.delivery_limit + [after]
    assert await harness.no_dead_letters(spec)


async def test_unexpected_error_is_retried_under_the_retry_policy(harness: BusHarness) -> None:
    spec = bars_queue(harness)
    handler = Failing(KeyError("cache miss"), times=1)
    await harness.bus.subscribe(Subscription(spec, {BarClosed: handler}, on_unexpected=ErrorPolicy.RETRY))
    message = bar()

    await harness.bus.publish(message)

    assert await handler.wait_for(1) == [message]
    assert handler.calls == [message, message]


@pytest.mark.parametrize(("error", "policy"), [(RuntimeError("ledger mismatch"), ErrorPolicy.CRASH),
                                                (FatalError("ledger mismatch"), ErrorPolicy.RETRY)],
                         ids=["unexpected_error_on_the_order_path", "fatal_error"])
async def test_crash_stops_consuming_and_leaves_the_message_for_the_restarted_service(
        harness: BusHarness, error: BaseException, policy: ErrorPolicy) -> None:
    spec = bars_queue(harness)
    handler = Failing(error)
    await harness.bus.subscribe(Subscription(spec, {BarClosed: handler}, on_unexpected=policy))
    published = [bar(seq=0), bar(seq=1)]

    for message in published:
        await harness.bus.publish(message)

    with pytest.raises(type(error), match="ledger mismatch"):
        await asyncio.wait_for(harness.bus.fatal, TIMEOUT)
    assert handler.calls == published[:1]
    left = await harness.after_crash(spec, 2)
    assert [letter.message_id for letter in left] == [m.message_id for m in published]


QUEUE_KINDS = ("shared", "single_active", "per_instance")


def queue_of(harness: BusHarness, kind: str) -> tuple[QueueSpec, dict[str, int]]:
    """Return a queue of ``kind`` receiving ORCL bars, and the headers a raw publish needs to reach it."""
    topo = harness.topology
    if kind == "shared":
        return bars_queue(harness), {}
    if kind == "single_active":
        partition = partition_of("ORCL", topo.partitions)
        return topo.partition_queue(partition), {PARTITION_HEADER: partition}
    return topo.instance_queue("contract", "inbox", "w1", topo.bind(BarClosed)), {}


@pytest.mark.parametrize("kind", QUEUE_KINDS)
async def test_poison_is_dead_lettered_with_its_reason_on_every_kind_of_queue_and_consuming_goes_on(
        harness: BusHarness, kind: str) -> None:
    spec, headers = queue_of(harness, kind)
    doomed, good = bar(seq=0), bar(seq=1)
    handler = Failing(TransientError("quote service down"), times=1)  # fails on the first message it sees only
    always = Failing(TransientError("still down"))
    handled = Recorder()

    async def route(message: Message) -> None:
        target = always if message.message_id == doomed.message_id else handler
        await target(message)
        if target is handler:
            await handled(message)

    await harness.bus.subscribe(Subscription(spec, {BarClosed: route}))
    exchange, routing_key = harness.topology.address_of("BarClosed", "ORCL")
    await harness.bus.publish_raw(exchange, routing_key, b'{"type": "BarClosed", "symbol": ', type_name="BarClosed",
                                  headers=headers)
    await harness.bus.publish(doomed)
    await harness.bus.publish(good)

    assert await handled.wait_for(1) == [good]
    undecodable, exhausted = await harness.dead_letters(spec, 2)
    assert "Invalid JSON" in undecodable.headers["x-error"]
    assert exhausted.message_id == doomed.message_id
    assert f"delivery limit {spec.delivery_limit} reached" in exhausted.headers["x-error"]
    assert {undecodable.headers["x-failed-queue"], exhausted.headers["x-failed-queue"]} == {spec.name}
    assert always.calls == [doomed] * spec.delivery_limit


async def test_a_failing_message_is_retried_with_a_growing_pause_not_at_once(harness: BusHarness) -> None:
    if harness.kind == "memory":
        pytest.skip("the in-memory bus retries in place at once: it has no clock to wait on and no broker to spin")
    spec = bars_queue(harness)
    stamps: list[float] = []

    async def failing(message: Message) -> None:
        stamps.append(asyncio.get_running_loop().time())
        raise TransientError("down")

    await harness.bus.subscribe(Subscription(spec, {BarClosed: failing}))
    await harness.bus.publish(bar())
    await harness.dead_letters(spec, 1)

    pauses = [later - earlier for earlier, later in zip(stamps, stamps[1:])]
    assert len(pauses) == spec.delivery_limit - 1
    assert all(pause >= 0.04 for pause in pauses) and pauses[-1] > pauses[0], pauses


async def test_a_consumer_whose_worker_dies_stops_the_service_instead_of_stalling_its_queue(
        harness: BusHarness) -> None:
    if harness.kind == "memory":
        pytest.skip("the in-memory bus runs handlers in its caller's task: an escaping error reaches the caller")
    spec = bars_queue(harness)

    class WorkerKiller(BaseException):
        """Not an ``Exception``: no verdict is made of it, it ends the task that runs the handler."""

    async def escapes(_: Message) -> None:
        raise WorkerKiller("a handler that kills its worker task")

    await harness.bus.subscribe(Subscription(spec, {BarClosed: escapes}))
    await harness.bus.publish(bar())

    with pytest.raises(WorkerKiller, match="kills its worker"):
        await asyncio.wait_for(harness.bus.fatal, TIMEOUT)
