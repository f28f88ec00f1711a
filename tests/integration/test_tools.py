"""``tradebus dlq`` and ``tradebus tail`` against the real broker, with dead letters made by the real bus."""

from __future__ import annotations

import asyncio
import queue
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pika
import pytest

from shared.contracts import Message, OrderFilled
from shared.messaging.amqp import AmqpBus
from shared.messaging.bus import Subscription
from shared.messaging.errors import InvalidMessage
from shared.messaging.metrics import NullMetrics
from shared.messaging.topology import SUITE, QueueSpec, Topology
from tests.conftest import delete_namespace
from tests.factories import fill as a_fill
from tools.cli import main
from tools.ops import options

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 15


class DeadLetterSignal(NullMetrics):
    """Metrics that set ``done`` once the bus has dead-lettered ``expected`` messages (each one confirmed)."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.count = 0
        self.done = asyncio.Event()
        self.dead_lettered = lambda *_: self

    def inc(self, *_: object) -> None:
        self.count += 1
        if self.count >= self.expected:
            self.done.set()


async def refuse(message: Message) -> None:
    raise InvalidMessage(f"refused {message.message_id}")


@dataclass
class DeadLetters:
    """A work queue whose DLQ holds the dead letters of ``fills`` (refused by the handler) and one bad body."""

    url: str
    topology: Topology
    spec: QueueSpec
    fills: list[OrderFilled]

    def cli(self, *args: str) -> list[str]:
        return [*args, "--namespace", self.topology.namespace, "--url", self.url]

    def depth(self, name: str) -> int:
        with pika.BlockingConnection(pika.URLParameters(self.url)) as connection:
            return connection.channel().queue_declare(name, passive=True).method.message_count

    def held(self, name: str, expected: int) -> int:
        """Return how many messages ``name`` holds, waiting for ``expected`` of them: a requeue is asynchronous."""
        with pika.BlockingConnection(pika.URLParameters(self.url)) as connection:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=expected)
            received = 0
            for method, _, _ in channel.consume(name, inactivity_timeout=TIMEOUT):
                received += method is not None
                if method is None or received == expected:
                    break
            return received + channel.queue_declare(name, passive=True).method.message_count


async def make_dead_letters(url: str, topology: Topology, spec: QueueSpec, fills: list[OrderFilled]) -> None:
    signal_ = DeadLetterSignal(expected=len(fills) + 1)
    bus = AmqpBus(url, topology=topology, service="test-tools", metrics=signal_)
    await bus.start()
    try:
        consumer = await bus.subscribe(Subscription(spec, {OrderFilled: refuse}))
        for fill in fills:
            await bus.publish(fill)
        exchange, routing_key = topology.address(a_fill(fill_id="bad"))
        await bus.publish_raw(exchange, routing_key, b"{not json", type_name="OrderFilled")
        await asyncio.wait_for(signal_.done.wait(), TIMEOUT)
        await consumer.cancel()
    finally:
        await bus.close()


@pytest.fixture
def dead(broker_url: str, topology: Topology) -> Iterator[DeadLetters]:
    spec = topology.service_queue("portfolio", "orders", topology.bind(OrderFilled))
    fills = [a_fill(fill_id="f-1"), a_fill(fill_id="f-2")]
    try:
        asyncio.run(make_dead_letters(broker_url, topology, spec, fills))
        yield DeadLetters(broker_url, topology, spec, fills)
    finally:
        delete_namespace(broker_url, topology, {spec.name, spec.dlq})


def get_all(url: str, name: str) -> list[tuple[pika.BasicProperties, bytes]]:
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        got = []
        while (delivery := channel.basic_get(name, auto_ack=True))[0] is not None:
            got.append(delivery[1:])
        return got


# -- dlq --------------------------------------------------------------------------------------------------------
def test_list_shows_the_dlq_of_a_service_queue_with_its_depth_and_skips_missing_ones(
        dead: DeadLetters, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(dead.cli("dlq", "list")) == 0

    lines = capsys.readouterr().out.splitlines()
    assert [line.split() for line in lines] == [[dead.spec.dlq, "3"]]


def test_list_includes_the_dlq_of_a_queue_given_with_queue(dead: DeadLetters, broker_url: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    extra = f"{dead.topology.namespace}.custom.work"
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as connection:
        channel = connection.channel()
        channel.queue_declare(f"{extra}.dlq", durable=True, arguments={"x-queue-type": "quorum"})
    try:
        assert main(dead.cli("dlq", "list", "--queue", extra)) == 0
    finally:
        delete_namespace(broker_url, dead.topology, {f"{extra}.dlq"})

    assert [line.split() for line in capsys.readouterr().out.splitlines()] == [[dead.spec.dlq, "3"],
                                                                              [f"{extra}.dlq", "0"]]


def test_show_prints_why_and_where_each_letter_died_and_leaves_them_in_place(
        dead: DeadLetters, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(dead.cli("dlq", "show", dead.spec.name)) == 0

    out = capsys.readouterr().out
    for fill in dead.fills:
        assert f"OrderFilled {fill.message_id}" in out
        assert f"InvalidMessage: refused {fill.message_id}" in out
        assert f'"fill_id":"{fill.fill_id}"' in out
    assert "OrderFilled failed validation" in out and "{not json" in out
    assert f"failed queue: {dead.spec.name}" in out
    assert f"order.filled.ORCL (exchange '{dead.topology.exchange('order')}')" in out
    assert dead.held(dead.spec.dlq, 3) == 3


def test_show_with_a_limit_prints_only_that_many(dead: DeadLetters, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(dead.cli("dlq", "show", dead.spec.dlq, "--limit", "1")) == 0

    assert "1 dead letter(s) shown" in capsys.readouterr().out
    assert dead.held(dead.spec.dlq, 3) == 3


def test_replay_returns_each_letter_to_its_queue_without_the_dead_letter_headers(
        dead: DeadLetters, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(dead.cli("dlq", "replay", dead.spec.name)) == 0

    assert "3 replayed, 0 kept" in capsys.readouterr().out
    assert dead.depth(dead.spec.dlq) == 0
    replayed = get_all(dead.url, dead.spec.name)
    assert len(replayed) == 3
    assert {props.message_id for props, _ in replayed} >= {str(fill.message_id) for fill in dead.fills}
    assert all(not any(key.startswith(("x-error", "x-failed-")) for key in props.headers or {})
               for props, _ in replayed)
    assert b"{not json" in {body for _, body in replayed}


def test_replay_keeps_letters_the_broker_cannot_route(dead: DeadLetters, broker_url: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as connection:
        connection.channel().queue_delete(dead.spec.name)  # nothing is bound to the order exchange any more

    assert main(dead.cli("dlq", "replay", dead.spec.name)) == 1

    assert "0 replayed, 3 kept" in capsys.readouterr().out
    assert dead.held(dead.spec.dlq, 3) == 3


def test_replay_to_a_deleted_exchange_keeps_the_letters(dead: DeadLetters, broker_url: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as connection:
        connection.channel().exchange_delete(dead.topology.exchange("order"))

    assert main(dead.cli("dlq", "replay", dead.spec.name)) == 1

    out = capsys.readouterr().out
    assert "the broker refused: 404" in out and "stopped early" in out
    assert dead.held(dead.spec.dlq, 3) == 3


def test_replay_to_queue_reaches_only_the_queue_the_letter_died_in(dead: DeadLetters, broker_url: str) -> None:
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as connection:
        channel = connection.channel()
        bystander = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(bystander, dead.topology.exchange("order"), "#")

        assert main(dead.cli("dlq", "replay", dead.spec.name, "--to-queue", "--limit", "2")) == 0

        assert channel.queue_declare(bystander, passive=True).method.message_count == 0
    assert dead.depth(dead.spec.name) == 2
    assert dead.depth(dead.spec.dlq) == 1


def test_replay_falls_back_to_the_brokers_x_death_record(broker_url: str, topology: Topology,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    spec = topology.service_queue("portfolio", "orders", topology.bind(OrderFilled))
    fill = a_fill(fill_id="f-9")

    async def publish_only() -> None:
        bus = AmqpBus(broker_url, topology=topology, service="test-tools")
        await bus.start()
        try:
            await bus.declare(spec)
            await bus.publish(fill)
        finally:
            await bus.close()

    try:
        asyncio.run(publish_only())
        with pika.BlockingConnection(pika.URLParameters(broker_url)) as connection:
            channel = connection.channel()
            witness = channel.queue_declare("", exclusive=True).method.queue  # sees what the DLX routes to the DLQ
            channel.queue_bind(witness, topology.dead_letter_exchange, spec.name)
            method, _, _ = channel.basic_get(spec.name)
            channel.basic_reject(method.delivery_tag, requeue=False)  # the broker dead-letters it with x-death
            for _, properties, _ in channel.consume(witness, auto_ack=True, inactivity_timeout=TIMEOUT):
                assert properties is not None, "the broker did not dead-letter the rejected message"
                assert "x-death" in properties.headers and "x-original-exchange" not in properties.headers
                break

        assert main(["dlq", "replay", spec.name, "--namespace", topology.namespace, "--url", broker_url]) == 0

        assert "routing key 'order.filled.ORCL'" in capsys.readouterr().out
        [(properties, _)] = get_all(broker_url, spec.name)
        assert properties.message_id == str(fill.message_id)
        assert "x-death" not in properties.headers
        assert properties.headers.get("x-delivery-count", 0) == 0  # the DLQ's count is not carried over
    finally:
        delete_namespace(broker_url, topology, {spec.name, spec.dlq})


def test_purge_empties_the_dlq_and_says_how_many(dead: DeadLetters, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(dead.cli("dlq", "purge", dead.spec.dlq)) == 0

    assert f"purged 3 dead letter(s) from {dead.spec.dlq}" in capsys.readouterr().out
    assert dead.depth(dead.spec.dlq) == 0


def test_a_missing_queue_is_an_error_message_and_exit_status_1(broker_url: str, topology: Topology,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    missing = f"{topology.namespace}.nothing"

    assert main(["dlq", "show", missing, "--url", broker_url]) == 1

    assert capsys.readouterr().err == f"tradebus dlq: error: queue '{missing}.dlq' does not exist\n"


# -- tail -------------------------------------------------------------------------------------------------------
class TailProcess:
    """``tradebus tail`` in a subprocess; ``ready()`` waits for it to say it is listening."""

    def __init__(self, url: str, topology: Topology, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.cli", "tail", *args, "--namespace", topology.namespace, "--url", url],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.errors: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read_errors, daemon=True)
        self._reader.start()

    def _read_errors(self) -> None:
        for line in self.process.stderr:  # type: ignore[union-attr]
            self.errors.put(line)

    def ready(self) -> str:
        return self.errors.get(timeout=TIMEOUT)

    def finish(self) -> tuple[int, list[str], str]:
        code = self.process.wait(timeout=TIMEOUT)
        self._reader.join(TIMEOUT)
        rest = "".join(self.errors.get_nowait() for _ in range(self.errors.qsize()))
        return code, self.process.stdout.read().splitlines(), rest  # type: ignore[union-attr]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(TIMEOUT)


@pytest.fixture
def exchanges(broker_url: str, topology: Topology) -> Iterator[str]:
    """Declare the namespace's exchanges and a sink queue on the order exchange, so every fill is routable."""
    async def declare() -> None:
        bus = AmqpBus(broker_url, topology=topology, service="test-tools")
        await bus.start()
        await bus.close()

    sink = f"{topology.namespace}.sink"
    asyncio.run(declare())
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as connection:
        channel = connection.channel()
        channel.queue_declare(sink)
        channel.queue_bind(sink, topology.exchange("order"), "#")
    try:
        yield broker_url
    finally:
        delete_namespace(broker_url, topology, {sink})


async def publish(url: str, topology: Topology, messages: list[Message]) -> None:
    bus = AmqpBus(url, topology=topology, service="test-tools")
    await bus.start()
    try:
        for message in messages:
            await bus.publish(message)
    finally:
        await bus.close()


def test_tail_prints_matching_events_and_exits_after_count(exchanges: str, topology: Topology) -> None:
    tail = TailProcess(exchanges, topology, "order.filled.ORCL", "--count", "2")
    try:
        assert "tailing 'order.filled.ORCL'" in tail.ready()
        symbols = ("MSFT", "ORCL", "MSFT", "ORCL")
        fills = [a_fill(fill_id=f"f-{n}", symbol=symbol) for n, symbol in enumerate(symbols, 1)]
        asyncio.run(publish(exchanges, topology, fills))

        code, lines, errors = tail.finish()
    finally:
        tail.kill()

    assert code == 0, errors
    assert len(lines) == 2
    assert all(" order.filled.ORCL  OrderFilled  " in line for line in lines)
    assert ["fill_id=f-2" in lines[0], "fill_id=f-4" in lines[1]] == [True, True]


def test_tail_json_prints_each_body_unchanged(exchanges: str, topology: Topology) -> None:
    tail = TailProcess(exchanges, topology, "--json", "--count", "1")
    try:
        tail.ready()
        fill = a_fill(fill_id="f-1")
        asyncio.run(publish(exchanges, topology, [fill]))

        code, lines, errors = tail.finish()
    finally:
        tail.kill()

    assert code == 0, errors
    assert [OrderFilled.model_validate_json(line) for line in lines] == [fill]


def test_tail_stops_cleanly_on_ctrl_c(exchanges: str, topology: Topology) -> None:
    tail = TailProcess(exchanges, topology)
    try:
        tail.ready()
        tail.process.send_signal(signal.SIGINT)

        code, lines, errors = tail.finish()
    finally:
        tail.kill()

    assert (code, lines) == (0, []), errors
    assert "Traceback" not in errors


# -- finding the namespace ---------------------------------------------------------------------------------------
@pytest.fixture
def candidates(broker_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Topology, Topology]]:
    """Point the namespace probe at two fresh namespaces (stand-ins for ``tradebus`` and ``tradebus-run``)."""
    first, second = (Topology(f"t{uuid.uuid4().hex[:8]}-probe-{n}") for n in (1, 2))
    monkeypatch.setattr(options, "KNOWN_NAMESPACES", (first.namespace, second.namespace))
    try:
        yield first, second
    finally:
        for topology in (first, second):
            delete_namespace(broker_url, topology, set(topology.durable_queue_names()))


def declare_work_queues(url: str, topology: Topology) -> None:
    async def declare() -> None:
        bus = AmqpBus(url, topology=topology, service="test-tools")
        await bus.start()
        for spec in topology.suite_queues():  # as every service does at start-up
            await bus.declare(spec)
        await bus.close()

    asyncio.run(declare())


def test_the_probe_counts_a_namespaces_work_queues_and_their_consumers(broker_url: str,
                                                                       candidates: tuple[Topology, Topology]) -> None:
    empty, suite = candidates
    declare_work_queues(broker_url, suite)
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as connection, \
            pika.BlockingConnection(pika.URLParameters(broker_url)) as consumer:
        consumer.channel().basic_consume(suite.purpose_name("portfolio", "orders"), lambda *_: None)

        assert options.probe_namespace(connection, empty.namespace) == options.NamespaceProbe(empty.namespace, 0, 0)
        probe = options.probe_namespace(connection, suite.namespace)

    assert probe.queues == sum(consumes.mode == "shared" for consumes in SUITE.values()) and probe.consumers == 1


def test_dlq_without_a_namespace_finds_the_suite_and_says_which(broker_url: str,
                                                              candidates: tuple[Topology, Topology],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    _, suite = candidates
    declare_work_queues(broker_url, suite)

    assert main(["dlq", "list", "--url", broker_url]) == 0
    listed = capsys.readouterr()
    assert main(["dlq", "show", "portfolio.orders", "--url", broker_url]) == 0
    shown = capsys.readouterr()

    assert f"tradebus dlq: namespace '{suite.namespace}': its queues exist" in listed.err
    assert re.search(rf"^{re.escape(suite.namespace)}\.portfolio\.orders\.dlq +0$", listed.out, re.MULTILINE)
    assert f"0 dead letter(s) shown from {suite.namespace}.portfolio.orders.dlq" in shown.out


def test_a_running_suite_is_preferred_to_one_that_only_left_its_queues(broker_url: str,
                                                                      candidates: tuple[Topology, Topology],
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    stale, running = candidates
    declare_work_queues(broker_url, stale)
    declare_work_queues(broker_url, running)
    with pika.BlockingConnection(pika.URLParameters(broker_url)) as consumer:
        consumer.channel().basic_consume(running.purpose_name("execution", "signals"), lambda *_: None)

        assert main(["dlq", "list", "--url", broker_url]) == 0

    assert f"namespace '{running.namespace}': a suite is running in it" in capsys.readouterr().err


def test_tail_without_a_namespace_tails_the_suite_it_finds(broker_url: str, candidates: tuple[Topology, Topology],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    _, suite = candidates
    declare_work_queues(broker_url, suite)
    codes: list[int] = []
    tail = threading.Thread(target=lambda: codes.append(main(["tail", "--count", "1", "--url", broker_url])))
    tail.start()
    fill = a_fill(fill_id="found")
    for _ in range(TIMEOUT * 5):  # the tail binds its queue a moment after it starts: publish until it has seen one
        asyncio.run(publish(broker_url, suite, [fill]))
        tail.join(0.2)
        if not tail.is_alive():
            break

    captured = capsys.readouterr()
    assert codes == [0], captured.err
    assert f"tradebus tail: namespace '{suite.namespace}'" in captured.err
    assert "fill_id=found" in captured.out
