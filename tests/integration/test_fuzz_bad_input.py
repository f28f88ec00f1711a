"""Fuzzed bad input on every queue the suite consumes ends in a dead-letter queue, and every consumer goes on.

The four services run as processes on the real broker (a 200-bar ORCL replay, so the suite is idle within
seconds). Hypothesis then draws, for every consumed queue (the shared work queues, the 16 strategy market
partitions, the strategy worker's own inbox), one bad payload of each kind in ``_fuzz_payloads.CASES`` and a few
more, published raw. Each must come back on the queue's dead-letter queue byte for byte, at once, with ``x-error``
saying why and ``x-failed-queue`` naming the queue. After each batch one valid message per queue must be handled
(its service's consumed counter moves), so no consumer stopped or stalled. Stopping the suite at the end returns
whatever a consumer still held unacked to its queue: empty queues then mean nothing was left unacked.

A second test sends what the AMQP client library itself cannot read: a ``timestamp`` property in microseconds.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from uuid import uuid4

import pika
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from shared.contracts import (
    CancelOrder,
    Message,
    OrderExpired,
    RequestBarHistory,
    RequestStatus,
    TradingResumed,
    encode,
)
from shared.messaging.topology import PARTITION_HEADER, SUITE, QueueSpec, Topology, partition_of
from tests.conftest import delete_namespace
from tests.factories import T0, bar, fill, signal, tick
from tests.integration._fuzz_payloads import Payload, bad_payloads
from tests.paths import ORCL_SAMPLE
from tools.suite.processes import ServiceProcess, SuiteOptions, health, run_suite
from tools.suite.progress import settled

pytestmark = pytest.mark.integration

SAMPLE = ORCL_SAMPLE
REPLAY_ROWS = 200
EXAMPLES = 5
TIMEOUT = 30.0
CANARY = "FUZZ"


@dataclass(frozen=True)
class Target:
    """A queue the suite consumes: how to publish to it alone, what it handles, where its dead letters go."""

    service: str
    purpose: str
    queue: str
    dlq: str
    handled: tuple[type[Message], ...]
    exchange: str = ""
    headers: dict[str, Any] = field(default_factory=dict)
    exclusive: bool = False
    """A worker's own queue: only its connection may inspect it (a passive declare from ours is refused)."""

    @classmethod
    def of(cls, service: str, purpose: str, handled: tuple[type[Message], ...], spec: QueueSpec,
           **how: Any) -> Target:
        assert spec.dlq is not None, f"{spec.name} has no dead-letter queue"
        return cls(service, purpose, spec.name, spec.dlq, handled, **how)

    @property
    def routing_key(self) -> str:
        return "" if self.exchange else self.queue  # the default exchange routes by queue name


def consumed_queues(topology: Topology, worker: str) -> list[Target]:
    """Return every queue of ``SUITE``: shared ones by name, partitions through the headers exchange, the inbox."""
    targets = []
    for (service, purpose), consumes in SUITE.items():
        target = partial(Target.of, service, purpose, consumes.types)
        if consumes.mode == "shared":
            targets.append(target(topology.queue(service, purpose)))
        elif consumes.mode == "partitioned":
            targets += [target(topology.partition_queue(p), exchange=topology.partitioned_market_exchange,
                               headers={PARTITION_HEADER: p}) for p in range(topology.partitions)]
        else:
            targets.append(target(topology.instance_queue(service, purpose, worker, ()), exclusive=True))
    return targets


def symbol_in(partition: int, partitions: int) -> str:
    return next(s for i in itertools.count() if partition_of(s := f"{CANARY}{i}", partitions) == partition)


def canary(target: Target, partitions: int) -> Message:
    """Return a valid message ``target`` handles that changes nothing that trades (no order, no position)."""
    envelope: dict[str, Any] = dict(ts_event=T0, ts_init=T0, source="fuzz-canary")
    build: dict[str, Callable[[], Message]] = {
        "data/requests": lambda: RequestBarHistory(**envelope, symbol=CANARY, count=1, requester="fuzz-canary"),
        "strategy/market": lambda: bar(symbol=symbol_in(target.headers.get(PARTITION_HEADER, 0), partitions)),
        "strategy/inbox": lambda: fill(symbol=CANARY, fill_id=f"fuzz-{uuid4()}"),
        "execution/market": lambda: tick(symbol=CANARY),
        "execution/signals": lambda: signal(symbol=CANARY, direction="exit"),  # flat already: no order
        "execution/commands": lambda: CancelOrder(**envelope, client_order_id="fuzz-canary", symbol=CANARY),
        "execution/portfolio": lambda: TradingResumed(**envelope, reason="fuzz canary"),
        "portfolio/orders": lambda: OrderExpired(**envelope, client_order_id="fuzz-canary", strategy_id="sma_cross",
                                                 symbol=CANARY),
        "portfolio/market": lambda: bar(symbol=CANARY),
        "execution/control": lambda: RequestStatus(**envelope),  # answered, nothing changes
        "portfolio/control": lambda: RequestStatus(**envelope),
    }
    return build[f"{target.service}/{target.purpose}"]()


@dataclass
class Letter:
    dlq: str
    headers: dict[str, Any]
    body: bytes


def letter_problems(target: Target, payload: Payload, letter: Letter) -> list[str]:
    """Return what is wrong with the dead letter of ``payload`` published to ``target`` (empty if nothing)."""
    headers = letter.headers
    error = str(headers.get("x-error") or "")
    problems = [f"x-error {error!r} does not say {reason!r}" for reason in payload.reasons if reason not in error]
    if letter.dlq != target.dlq:
        problems.append(f"landed in {letter.dlq}, not {target.dlq}")
    if headers.get("x-failed-queue") != target.queue:
        problems.append(f"x-failed-queue is {headers.get('x-failed-queue')!r}")
    origin = (headers.get("x-original-exchange"), headers.get("x-original-routing-key"))
    if origin != (target.exchange, target.routing_key):
        problems.append(f"x-original-exchange and -routing-key are {origin}")
    if payload.error_type is not None and headers.get("x-error-type") != payload.error_type:
        problems.append(f"x-error-type is {headers.get('x-error-type')!r}, not {payload.error_type!r}")
    if headers.get("x-attempts") != 1:
        problems.append(f"x-attempts is {headers.get('x-attempts')!r}: not dead-lettered at once")
    if letter.body != payload.body:
        problems.append(f"body changed ({len(letter.body)} bytes, sent {len(payload.body)})")
    return problems


class Broker:
    """Raw access to the broker for the test: confirmed, mandatory publishes and dead-letter collection."""

    def __init__(self, url: str, context: Callable[[], str] = str) -> None:
        self.params = pika.URLParameters(url)
        self.context = context
        """What to add to a failure report (the suite's log)."""

    @contextmanager
    def session(self) -> Iterator[tuple[pika.BlockingConnection, Any]]:
        connection = pika.BlockingConnection(self.params)
        try:
            channel = connection.channel()
            channel.confirm_delivery()  # an unroutable (returned) or nacked publish raises
            yield connection, channel
        finally:
            connection.close()

    def publish(self, channel: Any, target: Target, body: bytes, type_name: str | None, message_id: str,
                headers: dict[str, Any] | None = None, **more: Any) -> None:
        properties = pika.BasicProperties(type=type_name, message_id=message_id, content_type="application/json",
                                          delivery_mode=pika.DeliveryMode.Persistent,
                                          headers={**target.headers, **(headers or {})}, **more)
        try:
            channel.basic_publish(target.exchange, target.routing_key, body, properties, mandatory=True)
        except pika.exceptions.UnroutableError:
            pytest.fail(f"{message_id} was unroutable: {target.queue} is gone (did its consumer die and come back "
                        f"under another name?)\nsuite log:\n{self.context()}", pytrace=False)

    def publish_message(self, target: Target, message: Message) -> None:
        with self.session() as (_, channel):
            self.publish(channel, target, encode(message), message.type, str(message.message_id))

    @staticmethod
    def dead_letters(connection: pika.BlockingConnection, channel: Any, dlqs: set[str], expected: set[str],
                     timeout: float) -> dict[str, Letter]:
        """Consume ``dlqs`` until every message id in ``expected`` arrived (or ``timeout``); return all, by id."""
        letters: dict[str, Letter] = {}

        def taker(dlq: str) -> Callable[..., None]:
            def take(ch: Any, method: Any, properties: pika.BasicProperties, body: bytes) -> None:
                key = properties.message_id or f"no-id-{len(letters)}"
                letters[key] = Letter(dlq, dict(properties.headers or {}), body)
                ch.basic_ack(method.delivery_tag)
            return take

        channel.basic_qos(prefetch_count=50)
        tags = [channel.basic_consume(dlq, taker(dlq)) for dlq in sorted(dlqs)]
        deadline = time.monotonic() + timeout
        while not expected <= letters.keys() and time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.2)  # returns as soon as deliveries were dispatched
        for tag in tags:
            channel.basic_cancel(tag)
        return letters

    def depths(self, queues: list[str]) -> dict[str, int]:
        with self.session() as (_, channel):
            return {q: channel.queue_declare(q, passive=True).method.message_count for q in queues}

    def drain(self, queues: list[str]) -> list[tuple[str, str | None, str | None]]:
        """Take every ready message off ``queues``; return (queue, type, message id) of each.

        By consuming: single-active-consumer quorum queues refuse ``basic.get``.
        """
        taken = []
        for queue, count in self.depths(queues).items():
            if not count:
                continue
            with self.session() as (_, channel):
                deliveries = channel.consume(queue, auto_ack=True, inactivity_timeout=TIMEOUT)
                for method, properties, _ in itertools.islice(deliveries, count):
                    assert method is not None, f"{queue} said it held {count} messages but delivered fewer"
                    taken.append((queue, properties.type, properties.message_id))
        return taken


def consumed(service: ServiceProcess, type_name: str) -> float:
    """Return how many ``type_name`` messages ``service`` consumed and acked so far (its Prometheus counter)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{service.port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "tradebus_events_consumed_total" and sample.labels.get("type") == type_name
               and sample.labels.get("outcome") == "ack")


def wait_until(check: Callable[[], bool], what: Callable[[], str], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what()}"
        time.sleep(0.05)  # /metrics and /health are polled: they have no push


def replay_csv(directory: Path) -> Path:
    """Write the first ``REPLAY_ROWS`` lines of the ORCL sample: a replay that settles in seconds."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "orcl.csv"
    with SAMPLE.open() as sample:
        path.write_text("".join(itertools.islice(sample, REPLAY_ROWS)))
    return path


class SuiteLog:
    """The suite's output, kept for failure reports (the dead-letter warnings are counted, not kept)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.dead_lettered = 0

    def __call__(self, line: str) -> None:
        if "dead-lettered" in line:
            self.dead_lettered += 1
        else:
            self.lines.append(line)

    def excerpt(self, count: int = 30) -> str:
        notable = [line for line in self.lines
                   if any(mark in line for mark in ("CRITICAL", "ERROR", "Traceback", "exited", "Error"))]
        return "\n".join(notable[-count:] or self.lines[-10:])


class Fuzzing:
    """Rounds of bad input against a running suite, each followed by one valid message per queue."""

    def __init__(self, broker: Broker, topology: Topology, processes: list[ServiceProcess], log: SuiteLog) -> None:
        self.broker, self.topology, self.log = broker, topology, log
        self.services = {p.name: p for p in processes}
        self.worker = str((health(self.services["strategy"]) or {}).get("worker"))
        self.targets = consumed_queues(topology, self.worker)
        self.inspectable = [t.queue for t in self.targets if not t.exclusive]
        self.rounds = itertools.count()

    def run(self) -> None:
        """Run ``EXAMPLES`` rounds, each on a batch hypothesis draws: bad payloads for every queue."""

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=(Phase.explicit, Phase.generate),  # no shrinking: every example is a round on the broker
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.large_base_example])
        @given(batch=st.fixed_dictionaries({t.queue: bad_payloads(t.handled) for t in self.targets}))
        def each_bad_payload_is_dead_lettered_and_every_consumer_goes_on(batch: dict[str, list[Payload]]) -> None:
            self.bad_input_is_dead_lettered(batch)
            self.every_queue_still_consumes()

        each_bad_payload_is_dead_lettered_and_every_consumer_goes_on()

    def bad_input_is_dead_lettered(self, batch: dict[str, list[Payload]]) -> None:
        number = next(self.rounds)
        sent: dict[str, tuple[Target, Payload]] = {}
        with self.broker.session() as (connection, channel):
            for target in self.targets:
                for index, payload in enumerate(batch[target.queue]):
                    message_id = f"fuzz-{number}-{target.queue.rsplit('.', 1)[-1]}-{index}"
                    self.broker.publish(channel, target, payload.body, payload.type_name, message_id,
                                        {"x-fuzz-case": payload.case})
                    sent[message_id] = (target, payload)
            letters = self.broker.dead_letters(connection, channel, {t.dlq for t in self.targets}, set(sent),
                                               TIMEOUT)
        problems = [f"{target.queue} <- {payload!r}: "
                    + ("; ".join(letter_problems(target, payload, letters[mid])) if mid in letters
                       else "not dead-lettered")
                    for mid, (target, payload) in sent.items()
                    if mid not in letters or letter_problems(target, payload, letters[mid])]
        unexpected = sorted(set(letters) - set(sent))
        assert not problems and not unexpected, (
            f"{len(problems)} of {len(sent)} bad payloads not dead-lettered as they should be (unexpected dead "
            f"letters: {unexpected}):\n" + "\n".join(problems[:20]) + f"\n{self.state()}")

    def every_queue_still_consumes(self) -> None:
        # data/requests first: the partitions' canaries warm symbols up with history requests of their own
        for target in sorted(self.targets, key=lambda t: t.service != "data"):
            self.handles_a_valid_message(target)

    def handles_a_valid_message(self, target: Target) -> None:
        message, service = canary(target, self.topology.partitions), self.services[target.service]
        before = consumed(service, message.type)
        self.broker.publish_message(target, message)
        wait_until(lambda: consumed(service, message.type) > before,
                   lambda: f"{target.queue} to handle a valid {message.type} after the bad input\n{self.state()}")

    def a_timestamp_in_microseconds_is_dead_lettered(self, service: str, purpose: str) -> None:
        """Publish a bad body whose ``timestamp`` property counts microseconds since the epoch, not seconds.

        The client library takes a value that large for milliseconds; even so its year is past 9999, which no
        ``datetime`` holds. The message must still be dead-lettered, and its queue go on.
        """
        target = next(t for t in self.targets if (t.service, t.purpose) == (service, purpose))
        body = encode(canary(target, self.topology.partitions))[:-1]  # truncated: dead-lettered however read
        stamp = int(T0.timestamp()) * 1_000_000
        with self.broker.session() as (connection, channel):
            self.broker.publish(channel, target, body, target.handled[0].__name__, "fuzz-timestamp-us",
                                timestamp=stamp)
            letters = self.broker.dead_letters(connection, channel, {target.dlq}, {"fuzz-timestamp-us"}, TIMEOUT)
        assert "fuzz-timestamp-us" in letters, (
            f"a message with timestamp {stamp} (microseconds) on {target.queue} was not dead-lettered within "
            f"{TIMEOUT}s\n{self.state()}")
        self.handles_a_valid_message(target)

    def suite_is_intact(self) -> None:
        """Assert every service still runs, healthy, never restarted, and every queue and DLQ is empty."""
        reports = {name: health(service) for name, service in self.services.items()}
        assert all((report or {}).get("status") == "ok" for report in reports.values()), reports
        assert [(s.name, s.process and s.process.returncode, s.restarts) for s in self.services.values()] == [
            (name, None, 0) for name in self.services], f"a service died:\n{self.log.excerpt()}"
        assert (reports["strategy"] or {}).get("worker") == self.worker  # so its inbox is the one fuzzed
        depths = self.broker.depths([*self.inspectable, *sorted({t.dlq for t in self.targets})])
        assert not any(depths.values()), f"messages left over: {depths}"

    def state(self) -> str:
        return f"queues: {self.broker.depths(self.inspectable)}\nsuite log:\n{self.log.excerpt()}"


async def run_against_the_suite(broker_url: str, namespace: str, tmp_path: Path,
                                rounds: Callable[[Fuzzing], None]) -> None:
    """Start the suite, let the replay settle, run ``rounds``, check the suite is intact, stop it, clean up."""
    topology = Topology(namespace)
    options = SuiteOptions(amqp_url=broker_url, namespace=namespace, state_dir=tmp_path / "state",
                           data=(replay_csv(tmp_path / "data"),), symbols=("ORCL",))
    log = SuiteLog()
    broker = Broker(broker_url, log.excerpt)

    async def fuzz(processes: list[ServiceProcess]) -> None:
        await settled(processes, broker_url, topology)
        strategy = next(p for p in processes if p.name == "strategy")
        assert (health(strategy) or {}).get("partitions") == list(range(topology.partitions))
        fuzzing = Fuzzing(broker, topology, processes, log)
        await asyncio.to_thread(rounds, fuzzing)
        await asyncio.to_thread(fuzzing.suite_is_intact)

    try:
        assert await asyncio.wait_for(run_suite(options, until=fuzz, out=log), 170) == 0, log.excerpt()
        # the suite stopped: whatever a consumer still held unacked is back on its queue now (the worker's inbox
        # is gone with the worker); the portfolio's timer may have published a last snapshot after execution
        # stopped consuming, which is no leftover
        durable = [spec.name for spec in topology.suite_queues() if spec.name != topology.journal_queue().name]
        snapshots = topology.queue("execution", "portfolio").name
        left = [(queue, type_name, message_id) for queue, type_name, message_id in broker.drain(durable)
                if (queue, type_name) != (snapshots, "PortfolioSnapshot")]
        assert not left, f"left unacked: {left}"
    finally:
        print("\n".join(log.lines), f"\n({log.dead_lettered} dead-letter warnings left out)")
        delete_namespace(broker_url, topology, set(topology.durable_queue_names()))


async def test_bad_input_on_every_consumed_queue_is_dead_lettered_and_every_consumer_keeps_consuming(
        broker_url: str, namespace: str, tmp_path: Path) -> None:
    await run_against_the_suite(broker_url, namespace, tmp_path, Fuzzing.run)


async def test_a_timestamp_property_in_microseconds_is_dead_lettered_and_stalls_no_consumer(
        broker_url: str, namespace: str, tmp_path: Path) -> None:
    await run_against_the_suite(broker_url, namespace, tmp_path,
                                lambda fuzzing: fuzzing.a_timestamp_in_microseconds_is_dead_lettered("portfolio",
                                                                                                     "market"))
