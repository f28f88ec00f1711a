"""The worker group: heartbeats in and out, a share of the partitions that follows the membership, goodbyes."""

from __future__ import annotations

import asyncio

import pytest

from services.strategy.adapters import HistoryClient, WorkerGroup
from services.strategy.adapters.partitions import OwnedPartition
from services.strategy.domain import LoadedStrategy, StrategyEngine
from services.strategy.domain.membership import owned_partitions
from services.strategy.handlers import MARKET_HANDLERS, StrategyDeps, handle_fill
from shared.contracts import BarHistoryProvided, BarView, Message, RequestBarHistory, WorkerHeartbeatSent
from shared.messaging.bus import Subscription
from shared.messaging.errors import TransientError
from shared.messaging.topology import Topology, partition_of
from shared.runtime.clock import SimulatedClock

from .factories import START, day, make_bars, make_fill
from .sample_strategies import Recorder, RecorderParams


class FakeConsumer:
    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.killed = False
        self.cancelled = False

    async def cancel(self) -> None:
        self.cancelled = True

    async def kill(self) -> None:
        self.killed = True


class FakeBus:
    """Record publishes and subscriptions; subscribing returns a consumer that records how it was stopped."""

    def __init__(self) -> None:
        self.topology = Topology("ns")
        self.published: list[Message] = []
        self.consumers: dict[str, FakeConsumer] = {}
        self.sent = asyncio.Event()
        self.is_connected = True

    async def publish(self, message: Message) -> None:
        self.published.append(message)
        self.sent.set()

    async def subscribe(self, subscription: Subscription) -> FakeConsumer:
        consumer = self.consumers[subscription.queue.name] = FakeConsumer(subscription.queue.name)
        return consumer

    def heartbeats(self) -> list[WorkerHeartbeatSent]:
        return [m for m in self.published if isinstance(m, WorkerHeartbeatSent)]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def beat(worker: str, *, leaving: bool = False, group: str = "strategy") -> WorkerHeartbeatSent:
    return WorkerHeartbeatSent(ts_event=START, ts_init=START, source=worker, group=group, worker=worker, sequence=0,
                           leaving=leaving)


def group(bus: FakeBus, clock: Clock, worker: str = "me") -> WorkerGroup:
    engine_spec = LoadedStrategy("rec", Recorder, RecorderParams())

    def new_partition(number: int) -> OwnedPartition:
        def new_state() -> StrategyDeps:
            return StrategyDeps(StrategyEngine([engine_spec]), bus, SimulatedClock(START), worker)  # type: ignore[arg-type]

        return OwnedPartition(number, new_state, lambda *_: asyncio.sleep(0, result=[]), MARKET_HANDLERS,
                              handle_fill)

    return WorkerGroup(bus, SimulatedClock(START), worker, new_partition,  # type: ignore[arg-type]
                       interval=0.5, timeout=2.0, prefetch=8, monotonic=clock)


def inbox() -> Subscription:
    return Subscription(Topology("ns").instance_queue("strategy", "inbox", "me", ()), {})


async def test_a_lone_worker_announces_itself_and_owns_every_partition():
    bus, clock = FakeBus(), Clock()
    workers = group(bus, clock)

    await workers.join(inbox(), settle=0)

    assert sorted(workers.owned) == list(range(16))
    assert "ns.strategy.inbox.me" in bus.consumers
    assert bus.heartbeats()[0].worker == "me" and not bus.heartbeats()[0].leaving


async def test_a_worker_joining_takes_its_share_and_the_lost_partitions_are_killed_not_cancelled():
    bus, clock = FakeBus(), Clock()
    workers = group(bus, clock)
    await workers.join(inbox(), settle=0)

    await workers.on_heartbeat(beat("other"))
    await workers.rebalance()

    mine = owned_partitions("me", {"me", "other"}, 16)
    assert set(workers.owned) == mine and len(mine) == 8
    lost = [bus.consumers[bus.topology.partition_queue(p).name] for p in set(range(16)) - mine]
    assert all(c.killed and not c.cancelled for c in lost)


async def test_a_silent_worker_is_dropped_after_the_timeout_and_its_partitions_come_back():
    bus, clock = FakeBus(), Clock()
    workers = group(bus, clock)
    await workers.on_heartbeat(beat("other"))
    await workers.join(inbox(), settle=0)
    assert len(workers.owned) == 8

    clock.now += 1.9
    await workers.rebalance()
    assert len(workers.owned) == 8
    clock.now += 0.2
    await workers.rebalance()

    assert len(workers.owned) == 16


async def test_a_leaving_heartbeat_hands_the_partitions_back_at_once():
    bus, clock = FakeBus(), Clock()
    workers = group(bus, clock)
    await workers.on_heartbeat(beat("other"))
    await workers.join(inbox(), settle=0)

    await workers.on_heartbeat(beat("other", leaving=True))
    await workers.rebalance()

    assert len(workers.owned) == 16


async def test_heartbeats_of_another_group_and_our_own_change_nothing():
    bus, clock = FakeBus(), Clock()
    workers = group(bus, clock)

    await workers.on_heartbeat(beat("me"))
    await workers.on_heartbeat(beat("elsewhere", group="pricing"))

    assert workers.members() == {"me"}


async def test_heartbeats_say_which_partitions_the_worker_consumes():
    bus, clock = FakeBus(), Clock()
    workers = group(bus, clock)
    await workers.on_heartbeat(beat("other"))
    await workers.join(inbox(), settle=0)

    await workers.beat()

    assert list(bus.heartbeats()[-1].partitions) == sorted(owned_partitions("me", {"me", "other"}, 16))
    assert [b.sequence for b in bus.heartbeats()] == list(range(len(bus.heartbeats())))


async def test_leaving_says_goodbye_then_gives_every_partition_back_and_stops_rebalancing():
    bus, clock = FakeBus(), Clock()
    workers = group(bus, clock)
    await workers.join(inbox(), settle=0)
    partitions = [bus.consumers[bus.topology.partition_queue(p).name] for p in range(16)]

    await workers.leave()
    await workers.rebalance()

    assert bus.heartbeats()[-1].leaving
    assert all(c.killed for c in partitions) and workers.owned == {}
    assert bus.consumers["ns.strategy.inbox.me"].cancelled


async def test_a_fill_goes_to_the_partition_of_its_symbol_when_owned_here():
    bus, clock = FakeBus(), Clock()
    workers = group(bus, clock)
    await workers.join(inbox(), settle=0)
    owned = workers.owned[partition_of("ORCL", 16)]
    await owned.handlers()[type(make_bars([1])[0])](make_bars([1])[0])

    await workers.on_fill(make_fill("rec"))

    assert [kind for kind, _ in owned.deps.engine.instance("rec", "ORCL").seen] == ["bar", "fill"]


async def test_a_lost_connection_drops_every_partitions_state_so_symbols_warm_up_again():
    bus, clock = FakeBus(), Clock()
    workers = group(bus, clock)
    await workers.join(inbox(), settle=0)
    bar = make_bars([1])[0]
    owned = workers.owned[partition_of("ORCL", 16)]
    await owned.handlers()[type(bar)](bar)
    before = owned.deps.engine

    bus.is_connected = False
    ticking = asyncio.create_task(workers.rebalance_forever())
    await asyncio.sleep(0)
    ticking.cancel()

    assert owned.warm == set() and owned.deps.engine is not before
    assert owned.deps.engine.specs == before.specs


# -- history requests ----------------------------------------------------------------------------------------------

def reply_to(request: RequestBarHistory, closes: list[int], page: int = 0, pages: int = 1,
             first_day: int = 0) -> BarHistoryProvided:
    bars = make_bars(closes)[first_day:] if first_day else make_bars(closes)
    return BarHistoryProvided.caused_by(
        request, ts_event=START, ts_init=START, source="data@test", symbol=request.symbol, timeframe="1d",
        requester=request.requester, page=page, pages=pages,
        bars=tuple(BarView(ts=b.ts_event, open=b.open, high=b.high, low=b.low, close=b.close, volume=b.volume)
                   for b in bars))


async def test_a_history_request_asks_for_bars_before_the_event_and_returns_the_reply_as_bars():
    bus = FakeBus()
    client = HistoryClient(bus, SimulatedClock(START), "worker-1", count=500, timeout=1)  # type: ignore[arg-type]

    fetching = asyncio.create_task(client.bars_before("ORCL", day(3), "1d"))
    await asyncio.wait_for(bus.sent.wait(), 1)
    request = bus.published[0]
    await client.on_reply(reply_to(request, [10, 11, 12]))  # type: ignore[arg-type]
    bars = await fetching

    assert isinstance(request, RequestBarHistory)
    assert (request.symbol, request.before, request.count, request.requester, request.timeframe) == (
        "ORCL", day(3), 500, "worker-1", "1d")
    assert [(b.symbol, b.ts_event, b.close) for b in bars] == [("ORCL", day(i), c) for i, c in enumerate([10, 11, 12])]


async def test_a_history_in_pages_is_returned_once_every_page_arrived_in_page_order():
    bus = FakeBus()
    client = HistoryClient(bus, SimulatedClock(START), "worker-1", count=500, timeout=1)  # type: ignore[arg-type]
    closes = [10, 11, 12, 13, 14]

    fetching = asyncio.create_task(client.bars_before("ORCL", day(5), "1d"))
    await asyncio.wait_for(bus.sent.wait(), 1)
    request = bus.published[0]
    second = reply_to(request, closes, page=1, pages=2, first_day=3)  # type: ignore[arg-type]
    first = reply_to(request, closes[:3], page=0, pages=2)  # type: ignore[arg-type]
    await client.on_reply(second)
    await asyncio.sleep(0)
    assert not fetching.done()
    await client.on_reply(first)

    assert [b.close for b in await fetching] == closes


async def test_a_history_request_without_a_reply_in_time_is_a_transient_error():
    bus = FakeBus()
    client = HistoryClient(bus, SimulatedClock(START), "worker-1", count=5, timeout=0.01)  # type: ignore[arg-type]

    with pytest.raises(TransientError):
        await client.bars_before("ORCL", day(3))


async def test_abandoning_fails_the_requests_in_flight_at_once():
    bus = FakeBus()
    client = HistoryClient(bus, SimulatedClock(START), "worker-1", count=5, timeout=60)  # type: ignore[arg-type]
    fetching = asyncio.create_task(client.bars_before("ORCL", day(3)))
    await asyncio.wait_for(bus.sent.wait(), 1)

    client.abandon()

    with pytest.raises(TransientError):
        await fetching


async def test_a_reply_nobody_waits_for_is_ignored():
    client = HistoryClient(FakeBus(), SimulatedClock(START), "worker-1", count=5, timeout=1)  # type: ignore[arg-type]
    request = RequestBarHistory(ts_event=START, ts_init=START, source="x", symbol="ORCL", count=5, requester="w")

    await client.on_reply(reply_to(request, [1]))
