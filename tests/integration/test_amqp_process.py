"""Process-level guarantees on the real broker: a killed consumer loses nothing, SIGTERM stops cleanly, a crash
exits 70 and its message goes to the restarted service."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import aio_pika
import pytest

from shared.contracts import BarClosed, Message
from shared.messaging.amqp import AmqpBus
from shared.messaging.bus import Subscription
from shared.messaging.topology import QueueSpec, Topology
from shared.runtime.service import EXIT_FATAL, EXIT_OK

from ._consumer_process import DELIVERY_LIMIT

pytestmark = pytest.mark.integration

HELPER = Path(__file__).with_name("_consumer_process.py")
ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
TIMEOUT = 15.0

Spawn = Callable[[str], Awaitable["ConsumerProcess"]]


def bar(seq: int) -> BarClosed:
    opened = datetime(2024, 1, 2, 14, 30, tzinfo=timezone.utc) + timedelta(minutes=seq)
    price = Decimal(100 + seq)
    return BarClosed(symbol="ORCL", timeframe="1m", open=price, high=price + 1, low=price - 1, close=price,
                     volume=Decimal(500), ts_event=opened, ts_init=opened + timedelta(minutes=1), source="test")


def bars_queue(topology: Topology) -> QueueSpec:
    return topology.service_queue("contract", "bars", topology.bind(BarClosed))  # as the helper declares it


class ConsumerProcess:
    """A running ``_consumer_process.py``: read its report lines, feed its stdin, signal it."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.logs: list[str] = []
        self._logged = asyncio.Condition()
        self._log_reader = asyncio.create_task(self._read_logs())

    @classmethod
    async def start(cls, url: str, namespace: str, mode: str, state_dir: Path) -> ConsumerProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(HELPER), url, namespace, mode, str(state_dir), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        return cls(process)

    async def _read_logs(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            async with self._logged:
                self.logs.append(line.decode().rstrip())
                self._logged.notify_all()

    async def report(self) -> str:
        """Return the next line the process printed; fail if none comes in time."""
        assert self.process.stdout is not None
        line = await self._within(self.process.stdout.readline(), "a report line")
        assert line, f"process ended without reporting; its log:\n{self.log_text}"
        return line.decode().rstrip()

    async def rest_of_reports(self) -> list[str]:
        assert self.process.stdout is not None
        return (await self._within(self.process.stdout.read(), "the end of its output")).decode().splitlines()

    async def logged(self, text: str) -> None:
        """Wait until a log line contains ``text``."""
        async with self._logged:
            await self._within(self._logged.wait_for(lambda: any(text in line for line in self.logs)), repr(text))

    def release(self) -> None:
        """Let a ``gate`` handler finish."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    async def exit_code(self) -> int:
        code = await self._within(self.process.wait(), "the process to exit")
        await self._log_reader
        return code

    @property
    def log_text(self) -> str:
        return "\n".join(self.logs)

    async def _within(self, awaitable, what: str):  # noqa: ANN001, ANN202
        try:
            return await asyncio.wait_for(awaitable, TIMEOUT)
        except TimeoutError:
            raise AssertionError(f"waited {TIMEOUT}s for {what}; the process log:\n{self.log_text}") from None

    async def ensure_stopped(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._log_reader.cancel()
        await asyncio.gather(self._log_reader, return_exceptions=True)


@pytest.fixture
async def broker(broker_url: str, topology: Topology, pytestconfig: pytest.Config) -> AsyncIterator[AmqpBus]:
    """Yield a started bus with the helper's queue declared; delete the namespace afterwards."""
    bus = AmqpBus(broker_url, topology=topology, service="process-test")
    await bus.start()
    await bus.declare(bars_queue(topology))
    try:
        yield bus
    finally:
        await bus.close()
        delete_namespace: Callable[..., None] = pytestconfig.pluginmanager.get_plugin(
            str(ROOT_CONFTEST)).delete_namespace
        delete_namespace(broker_url, topology, bus.declared_queues)


@pytest.fixture
async def spawn(broker_url: str, namespace: str, tmp_path: Path) -> AsyncIterator[Spawn]:
    """Start helper processes in a mode (one service restarted: the same state directory); kill any still running
    at the end of the test."""
    started: list[ConsumerProcess] = []

    async def start(mode: str) -> ConsumerProcess:
        process = await ConsumerProcess.start(broker_url, namespace, mode, tmp_path / "state")
        started.append(process)
        return process

    yield start
    for process in started:
        await process.ensure_stopped()


async def left_in_queue(bus: AmqpBus, topology: Topology) -> list[Message]:
    """Consume the queue up to a fresh sentinel and return what came before it (returned messages come first)."""
    arrived: asyncio.Queue[Message] = asyncio.Queue()
    consumer = await bus.subscribe(Subscription(bars_queue(topology), {BarClosed: arrived.put}))
    sentinel = bar(99)
    await bus.publish(sentinel)
    before: list[Message] = []
    while (message := await asyncio.wait_for(arrived.get(), TIMEOUT)) != sentinel:
        before.append(message)
    await consumer.cancel()
    return before


async def test_message_of_a_killed_consumer_is_redelivered_to_the_next_and_acked(
        broker: AmqpBus, topology: Topology, spawn: Spawn) -> None:
    message = bar(0)
    await broker.publish(message)
    first = await spawn("block")
    assert await first.report() == f"started {message.message_id}"

    first.signal(signal.SIGKILL)
    assert await first.exit_code() == -signal.SIGKILL
    second = await spawn("record")
    assert await second.report() == f"handled {message.message_id}"
    second.signal(signal.SIGTERM)

    assert await second.exit_code() == EXIT_OK, second.log_text
    assert await left_in_queue(broker, topology) == []


async def test_sigterm_finishes_the_message_in_hand_and_leaves_the_rest_for_the_next_consumer(
        broker: AmqpBus, topology: Topology, spawn: Spawn) -> None:
    published = [bar(seq) for seq in range(3)]
    for message in published:
        await broker.publish(message)
    first = await spawn("gate")
    assert await first.report() == f"started {published[0].message_id}"

    first.signal(signal.SIGTERM)
    await first.logged("signal received")
    first.release()

    assert await first.report() == f"handled {published[0].message_id}"
    assert await first.exit_code() == EXIT_OK, first.log_text
    assert await first.rest_of_reports() == []
    assert await left_in_queue(broker, topology) == published[1:]


async def test_unexpected_error_on_the_order_path_exits_70_and_the_restarted_service_gets_the_message(
        broker: AmqpBus, topology: Topology, spawn: Spawn) -> None:
    message, after = bar(0), bar(1)
    await broker.publish(message)
    await broker.publish(after)
    crashed = await spawn("crash")
    assert await crashed.report() == f"started {message.message_id}"

    assert await crashed.exit_code() == EXIT_FATAL, crashed.log_text
    assert await crashed.rest_of_reports() == []
    restarted = await spawn("record")

    assert [await restarted.report() for _ in range(2)] == [f"handled {message.message_id}",
                                                            f"handled {after.message_id}"]
    restarted.signal(signal.SIGTERM)
    assert await restarted.exit_code() == EXIT_OK, restarted.log_text


async def test_a_message_that_crashes_the_service_every_time_is_dead_lettered_with_the_reason_after_the_limit(
        broker: AmqpBus, topology: Topology, spawn: Spawn, broker_url: str) -> None:
    poison, after = bar(0), bar(1)
    await broker.publish(poison)
    await broker.publish(after)

    for _ in range(DELIVERY_LIMIT):
        crashed = await spawn("crash")
        assert await crashed.report() == f"started {poison.message_id}"
        assert await crashed.exit_code() == EXIT_FATAL, crashed.log_text
    restarted = await spawn("record")

    assert await restarted.report() == f"handled {after.message_id}"
    restarted.signal(signal.SIGTERM)
    assert await restarted.exit_code() == EXIT_OK, restarted.log_text
    [letter] = await dead_letters(broker_url, bars_queue(topology).dlq, 1)
    assert json.loads(letter.body)["message_id"] == str(poison.message_id)
    assert f"crashed the service on each of {DELIVERY_LIMIT} attempts" in letter.headers["x-error"]
    assert "unexpected error handling" in letter.headers["x-error"]
    assert letter.headers["x-attempts"] == DELIVERY_LIMIT


async def dead_letters(url: str, queue: str, count: int) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        dlq = await channel.get_queue(queue, ensure=False)
        letters = []
        async with asyncio.timeout(TIMEOUT):
            while len(letters) < count:
                letter = await dlq.get(no_ack=True, fail=False)
                if letter is None:
                    await asyncio.sleep(0.05)
                    continue
                letters.append(letter)
        return letters
    finally:
        await connection.close()
