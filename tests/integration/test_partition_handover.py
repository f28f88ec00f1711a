"""A partition handed over between two workers on the real broker keeps its order and loses nothing.

Worker A has a full prefetch window when it releases the partition; worker B waits on the queue as the next
single active consumer. B must get the events A did not handle, and only those, in queue order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from services.strategy.adapters.partitions import OwnedPartition
from services.strategy.domain import LoadedStrategy, StrategyEngine
from services.strategy.handlers import MARKET_HANDLERS, StrategyDeps, handle_fill
from shared.contracts import BarClosed, Message
from shared.messaging.amqp import AmqpBus
from shared.messaging.bus import Subscription
from shared.messaging.topology import Topology, partition_of
from shared.runtime.clock import SimulatedClock
from tests.conftest import delete_namespace
from tests.factories import T0, bars
from tests.unit.strategy.sample_strategies import Recorder, RecorderParams

pytestmark = pytest.mark.integration

EVENTS = 300
HANDLED_BY_A = 40
PREFETCH = 64


class SignalCounter:
    """Stand in for the bus the handlers publish signals on: count them, hold them at a gate, wake a waiter."""

    def __init__(self, gate_after: int | None = None) -> None:
        self.count = 0
        self.gate_after = gate_after
        self.gate = asyncio.Event()
        self.reached: dict[int, asyncio.Event] = {}

    def when(self, count: int) -> asyncio.Event:
        return self.reached.setdefault(count, asyncio.Event())

    async def publish(self, message: Message) -> None:
        if self.gate_after is not None and self.count >= self.gate_after:
            await self.gate.wait()
        self.count += 1
        if self.count in self.reached:
            self.reached[self.count].set()


def worker(signals: SignalCounter) -> OwnedPartition:
    engine = StrategyEngine([LoadedStrategy("rec", Recorder, RecorderParams(long_at=0))])  # a signal per bar
    deps = StrategyDeps(engine, signals, SimulatedClock(T0), "test")  # type: ignore[arg-type]

    async def no_history(*_: object) -> list[BarClosed]:
        return []

    return OwnedPartition(partition_of("ORCL"), lambda: deps, no_history, MARKET_HANDLERS, handle_fill)


def seen(partition: OwnedPartition) -> list[Decimal]:
    return [close for _, close in partition.deps.engine.instance("rec", "ORCL").seen]


@pytest.fixture
async def buses(broker_url: str, topology: Topology) -> AsyncIterator[tuple[AmqpBus, AmqpBus]]:
    first, second = (AmqpBus(broker_url, topology=topology, service=name) for name in ("a", "b"))
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.abort()
        await second.abort()
        delete_namespace(broker_url, topology, first.declared_queues | second.declared_queues)


async def test_a_released_partition_goes_on_at_the_next_worker_in_order_with_nothing_handled_twice(buses):
    bus_a, bus_b = buses
    queue = bus_a.topology.partition_queue(partition_of("ORCL"))
    await bus_a.declare(queue)
    replay = [bar.model_copy(update={"close": Decimal(n + 1), "high": Decimal(n + 1), "low": Decimal(n + 1),
                                     "open": Decimal(n + 1)}) for n, bar in enumerate(bars(EVENTS, "ORCL"))]
    for bar in replay:
        await bus_a.publish(bar)
    a_signals, b_signals = SignalCounter(gate_after=HANDLED_BY_A), SignalCounter()
    a, b = worker(a_signals), worker(b_signals)
    a.consumer = await bus_a.subscribe(Subscription(queue, a.handlers(), PREFETCH))
    await asyncio.wait_for(a_signals.when(HANDLED_BY_A).wait(), 10)  # A holds event 41 and 63 more prefetched
    b.consumer = await bus_b.subscribe(Subscription(queue, b.handlers(), PREFETCH))

    releasing = asyncio.create_task(a.release())
    a_signals.gate.set()
    await asyncio.wait_for(releasing, 10)
    await asyncio.wait_for(b_signals.when(EVENTS - HANDLED_BY_A - 1).wait(), 20)

    assert seen(a) == [Decimal(n) for n in range(1, HANDLED_BY_A + 2)]
    assert seen(b) == [Decimal(n) for n in range(HANDLED_BY_A + 2, EVENTS + 1)]
