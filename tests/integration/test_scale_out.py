"""Strategy workers scale out: N workers emit exactly the signals one worker emits, while workers die and join.

Each run replays 20 synthetic symbols x 2,000 bars through a data service and strategy workers (processes on the
real broker) and compares every signal with what one strategy engine emits on the same bars: the same set of
signal ids, and per symbol the same sequence once repeated ids (redeliveries after a kill) are dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from shared.messaging.topology import Topology, partition_of
from tests.conftest import delete_namespace

from ._scaled_suite import ScaledSuite, SignalCollector, SignalSeen, expected_signals, per_symbol, probe_symbols

pytestmark = pytest.mark.integration

BARS = 2_000
MEMBER_TIMEOUT_S = 2.0  # the workers' default


def spread_symbols(count: int, partitions: int) -> tuple[str, ...]:
    """Return ``count`` symbols covering every partition before any partition gets a second one."""
    chosen: list[str] = []
    load = [0] * partitions
    index = 0
    while len(chosen) < count:
        name = f"SYM{index:03d}"
        partition = partition_of(name, partitions)
        if load[partition] < (1 if len(chosen) < partitions else 2):
            chosen.append(name)
            load[partition] += 1
        index += 1
    return tuple(chosen)


SYMBOLS = spread_symbols(20, Topology().partitions)


@pytest.fixture(scope="module")
def expected() -> list[SignalSeen]:
    return expected_signals(SYMBOLS, BARS)


@asynccontextmanager
async def running(broker_url: str, topology: Topology, symbols: tuple[str, ...], bars: int,
                  logs: Path) -> AsyncIterator[tuple[ScaledSuite, SignalCollector]]:
    """Yield a suite replaying ``bars`` bars of ``symbols`` and a collector of its signals; clean up after."""
    suite = ScaledSuite(broker_url, topology, symbols, bars, logs)
    collector = SignalCollector(broker_url, topology)
    await collector.start()
    try:
        yield suite, collector
    finally:
        await collector.close()
        await suite.stop()
        delete_namespace(broker_url, topology, set(topology.durable_queue_names()) | {collector.queue_name})


@pytest.fixture
async def scaled(broker_url: str, topology: Topology,
                 tmp_path: Path) -> AsyncIterator[tuple[ScaledSuite, SignalCollector]]:
    async with running(broker_url, topology, SYMBOLS, BARS, tmp_path) as suite_and_collector:
        yield suite_and_collector


async def replay_to_the_end(suite: ScaledSuite, collector: SignalCollector, expected: list[SignalSeen],
                            halfway=None) -> list[SignalSeen]:  # type: ignore[no-untyped-def]
    """Replay every bar (running ``halfway`` once half the signals arrived), stop the suite, return the signals."""
    wanted = {s.message_id for s in expected}
    await suite.start_data()
    if halfway is not None:
        await collector.until(lambda: len(collector.ids & wanted) >= len(wanted) // 2)
        await halfway()
    await collector.until(lambda: wanted <= collector.ids)
    await suite.drain(collector)
    await suite.stop()
    signals = await collector.finish()
    assert set(await asyncio.to_thread(suite.leftovers)) <= set(probe_symbols(suite.topology.partitions))
    return signals


def assert_same_signals(signals: list[SignalSeen], expected: list[SignalSeen]) -> None:
    assert {s.message_id for s in signals} == {s.message_id for s in expected}
    assert per_symbol(signals) == per_symbol(expected)


def symbols_by_worker(signals: list[SignalSeen]) -> dict[str, set[str]]:
    owners: dict[str, set[str]] = {}
    for s in signals:
        owners.setdefault(s.source, set()).add(s.symbol)
    return owners


async def test_one_worker_emits_what_the_strategy_engine_emits_on_the_same_bars(scaled, expected):
    suite, collector = scaled
    await suite.add_worker()

    signals = await replay_to_the_end(suite, collector, expected)

    assert_same_signals(signals, expected)
    assert len(signals) == len(expected)  # nothing failed, so nothing was handled twice


async def test_three_workers_split_the_partitions_and_emit_the_same_signals_as_one(scaled, expected):
    suite, collector = scaled
    workers = await asyncio.gather(*(suite.add_worker() for _ in range(3)))
    owned = await suite.settled_ownership(workers)

    signals = await replay_to_the_end(suite, collector, expected)

    assert sorted(len(partitions) for partitions in owned.values()) == [5, 5, 6]
    assert_same_signals(signals, expected)
    assert len(signals) == len(expected)
    symbols = symbols_by_worker(signals)
    assert len(symbols) == 3 and all(4 <= len(s) <= 10 for s in symbols.values()), symbols
    assert set.union(*symbols.values()) == set(SYMBOLS) and sum(map(len, symbols.values())) == len(SYMBOLS)


async def test_a_worker_killed_halfway_hands_its_symbols_to_the_survivors_and_nothing_changes(scaled, expected):
    suite, collector = scaled
    workers = await asyncio.gather(*(suite.add_worker() for _ in range(3)))
    await suite.settled_ownership(workers)
    takeover: list[float] = []

    async def kill_one() -> None:
        suite.kill(workers[1])
        killed = time.monotonic()
        await suite.settled_ownership([workers[0], workers[2]])
        takeover.append(time.monotonic() - killed)

    signals = await replay_to_the_end(suite, collector, expected, halfway=kill_one)

    assert_same_signals(signals, expected)
    assert takeover[0] < MEMBER_TIMEOUT_S + 3, f"survivors took {takeover[0]:.1f}s to own every partition"


async def test_a_worker_added_halfway_takes_a_share_and_nothing_changes(scaled, expected):
    suite, collector = scaled
    workers = list(await asyncio.gather(*(suite.add_worker() for _ in range(2))))
    await suite.settled_ownership(workers)

    async def add_one() -> None:
        workers.append(await suite.add_worker())
        owned = await suite.settled_ownership(workers)
        assert sorted(len(partitions) for partitions in owned.values()) == [5, 5, 6]

    signals = await replay_to_the_end(suite, collector, expected, halfway=add_one)

    assert_same_signals(signals, expected)
    assert len(signals) == len(expected)  # a graceful hand-over handles nothing twice
    assert len(symbols_by_worker(signals)) == 3  # the newcomer did emit signals


LONG_SYMBOLS = ("LONG",)
LONG_BARS = 12_000
"""One symbol with more bars than the data service used to keep in memory (5,000): the replay runs far ahead of a
worker that is killed and replaced, and the replacement must still warm up from the bars before its first event."""


@pytest.fixture
async def long_replay(broker_url: str, topology: Topology,
                      tmp_path: Path) -> AsyncIterator[tuple[ScaledSuite, SignalCollector]]:
    async with running(broker_url, topology, LONG_SYMBOLS, LONG_BARS, tmp_path) as suite_and_collector:
        yield suite_and_collector


async def test_a_worker_killed_again_and_again_mid_replay_loses_no_signal(long_replay):
    suite, collector = long_replay
    expected = expected_signals(LONG_SYMBOLS, LONG_BARS)
    wanted = {s.message_id for s in expected}
    worker = await suite.add_worker()
    await suite.start_data()
    for share in (0.1, 0.3, 0.5, 0.7):
        await collector.until(lambda share=share: len(collector.ids & wanted) >= share * len(wanted))
        suite.kill(worker)  # with every signal it emitted so far published, and whatever bars it held unacked
        worker = await suite.add_worker()
    await collector.until(lambda: wanted <= collector.ids)
    await suite.drain(collector)
    await suite.stop()
    signals = await collector.finish()

    assert_same_signals(signals, expected)
