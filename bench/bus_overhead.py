"""Measure what the tradebus bus costs over raw aio-pika, in one run against the same broker.

Both sides publish persistent messages with publisher confirms and ``mandatory`` (at most ``--window``
unconfirmed at a time), consume them on a quorum queue with the same prefetch, and ack each one after its
handler. The raw side sends a JSON dict; tradebus sends a typed ``BarClosed`` through ``AmqpBus`` (validation,
encoding, Prometheus metrics on a fresh registry). Each side uses one connection with a confirm channel for
publishing and one channel for its consumer, as ``AmqpBus`` does.

Rounds alternate between the sides, each on a fresh namespace declared by the production code
(``AmqpBus.declare``) and deleted afterwards. A round has a throughput phase (``--messages`` as fast as the
window allows, timed from the first publish until every message is confirmed and handled) and a latency phase
(``--latency-messages`` at ``--latency-rate`` msg/s, latency = publish start to handler entry, from a timestamp
the message carries). Every message is counted; a lost one makes the run exit 1.

Reported per side: median msg/s, client CPU per message (this process only, not the broker), p50/p99
latency; then the ratio tradebus/raw, the median of the per-round ratios (both sides of a round run back to
back, so background load on a shared machine cancels out better than in the ratio of the two medians).

Usage::

    python -m bench.bus_overhead                  # 5 rounds of 5,000 messages per side
    python -m bench.bus_overhead --quick          # smoke run: a few hundred messages, one round
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from prometheus_client import CollectorRegistry

from shared.contracts import BarClosed, encode
from shared.messaging.amqp import AmqpBus
from shared.messaging.bus import Subscription
from shared.messaging.topology import QueueSpec, Topology
from shared.runtime.metrics import PrometheusBusMetrics

from .raw_publisher import CONFIRM_TIMEOUT, confirm_channel, publish_json

LOCAL_BROKER = "amqp://guest:guest@localhost:5672/"
CONNECT_TIMEOUT = 10.0
GOAL = 0.90
BAR_OPEN = datetime(2024, 3, 1, 14, 30, tzinfo=timezone.utc)
PRICES = {"open": Decimal("125.31"), "high": Decimal("125.88"), "low": Decimal("125.02"), "close": Decimal("125.64")}


def make_bar() -> BarClosed:
    """Build the message both sides send: a one-minute bar stamped now (``ts_init`` is the send time)."""
    return BarClosed(symbol="ORCL", timeframe="1m", **PRICES, volume=Decimal("18250"), ts_event=BAR_OPEN,
                     ts_init=datetime.now(timezone.utc), source="bench")


@dataclass(frozen=True)
class Config:
    """What one run measures: message counts, the rate of the latency phase, and the flow-control limits."""

    url: str = LOCAL_BROKER
    messages: int = 5000
    rounds: int = 5
    warmup: int = 500
    latency_messages: int = 1000
    latency_rate: float = 500.0
    prefetch: int = 256
    window: int = 256
    timeout: float = 60.0


@dataclass
class Tally:
    """Count distinct deliveries and their one-hop latencies; set ``done`` when all ``expected`` arrived."""

    expected: int
    seen: set[Any] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    duplicates: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)
    finished_at: float = 0.0

    def record(self, key: Any, sent_at: float) -> None:
        received_at = time.time()
        if key in self.seen:
            self.duplicates += 1
            return
        self.seen.add(key)
        self.latencies.append(received_at - sent_at)
        if len(self.seen) == self.expected:
            self.finished_at = time.perf_counter()
            self.done.set()


class RawSide:
    """A plain aio-pika publisher and consumer doing the same wire work as ``AmqpBus``, minus its layers."""

    name = "raw"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.tally = Tally(0)
        self.template = json.loads(encode(make_bar()))

    async def open(self, topology: Topology, spec: QueueSpec) -> None:
        self.connection = await aio_pika.connect_robust(self.config.url, timeout=CONNECT_TIMEOUT)
        publishing = await confirm_channel(self.connection)
        self.exchange = await publishing.get_exchange(topology.exchange("market"), ensure=False)
        self.routing_key = topology.address(make_bar())[1]
        self.consuming = await self.connection.channel(publisher_confirms=False)
        await self.consuming.set_qos(prefetch_count=self.config.prefetch)
        self.queue = await self.consuming.get_queue(spec.name, ensure=False)
        self.tag = await self.queue.consume(self._on_message, no_ack=False)

    async def publish(self) -> None:
        payload = {**self.template, "message_id": str(uuid.uuid4()), "ts_init": time.time()}
        await publish_json(self.exchange, self.routing_key, payload)

    async def _on_message(self, incoming: AbstractIncomingMessage) -> None:
        payload = json.loads(incoming.body)
        self.tally.record(payload["message_id"], payload["ts_init"])
        await incoming.ack()

    async def close(self) -> None:
        # cancel and close the channel first, as AmqpBus does: both go through the write queue behind the
        # last acks, whereas closing the connection drops frames still queued
        await self.queue.cancel(self.tag)
        await self.consuming.close()
        await self.connection.close()


class TradebusSide:
    """``AmqpBus`` publishing and subscribing typed ``BarClosed`` messages, metrics on."""

    name = "tradebus"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.tally = Tally(0)

    async def open(self, topology: Topology, spec: QueueSpec) -> None:
        metrics = PrometheusBusMetrics(CollectorRegistry(), "bench")
        self.bus = AmqpBus(self.config.url, topology=topology, service="bench", metrics=metrics,
                           confirm_timeout=CONFIRM_TIMEOUT)
        await self.bus.start()
        await self.bus.subscribe(Subscription(spec, {BarClosed: self._on_bar}, prefetch=self.config.prefetch))

    async def publish(self) -> None:
        await self.bus.publish(make_bar())

    async def _on_bar(self, bar: BarClosed) -> None:
        self.tally.record(bar.message_id, bar.ts_init.timestamp())

    async def close(self) -> None:
        await self.bus.close()


Side = RawSide | TradebusSide


@dataclass(frozen=True)
class Throughput:
    messages: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    @property
    def cpu_us_per_message(self) -> float:
        return self.cpu_seconds / self.messages * 1e6


@dataclass(frozen=True)
class RoundResult:
    side: str
    throughput: Throughput
    latencies: list[float]
    duplicates: int


class BenchFailed(Exception):
    """Raised when a round lost messages, left some behind in a queue, or the broker stopped answering."""


async def publish_all(publish: Callable[[], Awaitable[None]], count: int, window: int,
                      rate: float | None = None) -> None:
    """Publish ``count`` messages, at most ``window`` unconfirmed at once, paced at ``rate`` msg/s if given."""
    slots = asyncio.Semaphore(window)
    tasks: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []

    async def one() -> None:
        try:
            await publish()
        except Exception as error:  # noqa: BLE001 - collected and raised below
            failures.append(error)
        finally:
            slots.release()

    started = time.perf_counter()
    for seq in range(count):
        if rate is not None:
            await asyncio.sleep(max(0.0, started + seq / rate - time.perf_counter()))  # pacing, not waiting
        await slots.acquire()
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    if failures:
        raise BenchFailed(f"{len(failures)} publishes failed, first: {failures[0]!r}")


async def run_phase(side: Side, count: int, config: Config, rate: float | None = None) -> tuple[Tally, Throughput]:
    """Publish ``count`` messages through ``side`` and wait until its consumer has handled every one."""
    side.tally = tally = Tally(count)
    cpu_started, started = time.process_time(), time.perf_counter()
    await publish_all(side.publish, count, config.window, rate)
    published_at = time.perf_counter()
    try:
        await asyncio.wait_for(tally.done.wait(), config.timeout)
    except TimeoutError:
        raise BenchFailed(f"{side.name}: {count - len(tally.seen)} of {count} messages never arrived") from None
    seconds = max(published_at, tally.finished_at) - started
    return tally, Throughput(count, seconds, time.process_time() - cpu_started)


async def declare_namespace(config: Config, topology: Topology, spec: QueueSpec) -> None:
    """Declare the namespace with the production code, so both sides get identical exchanges and queues."""
    connection = await aio_pika.connect(config.url, timeout=CONNECT_TIMEOUT)
    async with connection:
        declarer = AmqpBus(config.url, topology=topology)
        channel = await connection.channel()
        await declarer.declare_exchanges(channel)
        await declarer.declare(spec, channel)


async def drop_namespace(config: Config, topology: Topology, spec: QueueSpec) -> None:
    """Check that no message was left in the queue or its DLQ, then delete every queue and exchange."""
    connection = await aio_pika.connect(config.url, timeout=CONNECT_TIMEOUT)
    async with connection:
        channel = await connection.channel()
        leftovers = {}
        for name in (spec.name, spec.dlq):
            queue = await channel.declare_queue(name, passive=True)
            leftovers[name] = queue.declaration_result.message_count
            await channel.queue_delete(name)
        for exchange in (*topology.topic_exchanges(), topology.partitioned_market_exchange,
                         topology.dead_letter_exchange):
            await channel.exchange_delete(exchange)
    if any(leftovers.values()):
        raise BenchFailed(f"messages left behind (unacked or dead-lettered): {leftovers}")


@contextlib.asynccontextmanager
async def deadline(seconds: float, what: str) -> AsyncIterator[None]:
    """Turn a broker that stops answering for ``seconds`` into ``BenchFailed`` instead of a hung run."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        raise BenchFailed(f"{what}: the broker stopped answering (nothing for {seconds:g} s)") from None


async def run_round(side: Side, config: Config, messages: int, latency_messages: int) -> RoundResult:
    """Measure ``side`` on a fresh namespace: a throughput phase, then a paced latency phase."""
    topology = Topology(f"bench{uuid.uuid4().hex[:8]}")
    spec = topology.service_queue("bench", "bars", topology.bind(BarClosed))
    async with deadline(config.timeout, "declaring the namespace"):
        await declare_namespace(config, topology, spec)
    try:
        async with deadline(3 * config.timeout, side.name):
            await side.open(topology, spec)
            try:
                flood, throughput = await run_phase(side, messages, config)
                paced = Tally(0)
                if latency_messages:
                    paced, _ = await run_phase(side, latency_messages, config, config.latency_rate)
            finally:
                await side.close()
    finally:
        async with deadline(config.timeout, "deleting the namespace"):
            await drop_namespace(config, topology, spec)
    return RoundResult(side.name, throughput, paced.latencies, flood.duplicates + paced.duplicates)


async def run(config: Config) -> list[dict[str, RoundResult]]:
    """Run a warm-up, then ``config.rounds`` rounds of both sides, swapping which side goes first each round."""
    sides: list[Side] = [RawSide(config), TradebusSide(config)]
    if config.warmup:
        for side in sides:
            await run_round(side, config, config.warmup, 0)
    print(f"{'round':<6} {'side':<9} {'msgs':>7} {'seconds':>8} {'msg/s':>8} {'CPU us/msg':>11}")
    rounds = []
    for number in range(1, config.rounds + 1):
        results = {}
        for side in sides if number % 2 else reversed(sides):
            results[side.name] = result = await run_round(side, config, config.messages, config.latency_messages)
            flow = result.throughput
            print(f"{number:<6} {side.name:<9} {flow.messages:>7,} {flow.seconds:>8.2f} {flow.rate:>8,.0f} "
                  f"{flow.cpu_us_per_message:>11.0f}", flush=True)
        print(f"{number:<6} ratio tradebus/raw: throughput {paired(results, 'rate'):.2f}, "
              f"CPU per message {paired(results, 'cpu_us_per_message'):.2f}", flush=True)
        rounds.append(results)
    return rounds


def paired(results: dict[str, RoundResult], measure: str) -> float:
    return getattr(results["tradebus"].throughput, measure) / getattr(results["raw"].throughput, measure)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summarise(rounds: list[dict[str, RoundResult]], config: Config) -> float:
    """Print the medians per side and return the median per-round throughput ratio tradebus/raw."""
    print(f"\n{'side':<9} {'median msg/s':>13} {'CPU us/msg':>11} {'p50 ms':>8} {'p99 ms':>8} {'dup':>4}")
    rates, cpus = {}, {}
    for side in ("raw", "tradebus"):
        mine = [results[side] for results in rounds]
        rates[side] = statistics.median(r.throughput.rate for r in mine)
        cpus[side] = statistics.median(r.throughput.cpu_us_per_message for r in mine)
        latencies = [x * 1000 for r in mine for x in r.latencies]
        p50, p99 = (percentile(latencies, 0.50), percentile(latencies, 0.99)) if latencies else (0.0, 0.0)
        print(f"{side:<9} {rates[side]:>13,.0f} {cpus[side]:>11.0f} {p50:>8.2f} {p99:>8.2f} "
              f"{sum(r.duplicates for r in mine):>4}")
    print(f"({config.rounds} rounds x {config.messages:,} messages per side; latency over "
          f"{config.rounds * config.latency_messages:,} messages per side at {config.latency_rate:g} msg/s; "
          f"prefetch {config.prefetch}, confirm window {config.window}; body {len(encode(make_bar()))} bytes)")
    # each round runs both sides back to back, so the median of the per-round ratios cancels load drift that
    # the ratio of the two medians (the sides' slow rounds need not coincide) does not
    print(f"ratio of the median msg/s: {rates['tradebus'] / rates['raw']:.2f}; client CPU per message "
          f"tradebus/raw: {statistics.median(paired(r, 'cpu_us_per_message') for r in rounds):.2f}; "
          f"the ratio below is the median of the per-round throughput ratios")
    return statistics.median(paired(r, "rate") for r in rounds)


def parse_args(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("AMQP_URL", LOCAL_BROKER))
    parser.add_argument("--messages", type=int, default=Config.messages, help="messages per throughput round")
    parser.add_argument("--rounds", type=int, default=Config.rounds, help="rounds per side")
    parser.add_argument("--warmup", type=int, default=Config.warmup, help="messages per side before round 1")
    parser.add_argument("--latency-messages", type=int, default=Config.latency_messages)
    parser.add_argument("--latency-rate", type=float, default=Config.latency_rate, help="msg/s")
    parser.add_argument("--prefetch", type=int, default=Config.prefetch)
    parser.add_argument("--window", type=int, default=Config.window, help="unconfirmed publishes in flight")
    parser.add_argument("--timeout", type=float, default=Config.timeout, help="seconds to wait for a phase's messages")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 messages, 1 round, no warm-up")
    args = parser.parse_args(argv)
    if args.quick:
        args.messages, args.rounds, args.warmup, args.latency_messages = 300, 1, 0, 100
    return Config(args.url, args.messages, args.rounds, args.warmup, args.latency_messages, args.latency_rate,
                  args.prefetch, args.window, args.timeout)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and the ratio; return 1 if any message was lost."""
    config = parse_args(argv)
    try:
        rounds = asyncio.run(run(config))
    except BenchFailed as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    ratio = summarise(rounds, config)
    print(f"ratio tradebus/raw throughput: {ratio:.2f} (goal >= {GOAL:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
