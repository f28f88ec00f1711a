"""An owned partition: warm a symbol up from history before its first event, and hand over without reordering."""

from __future__ import annotations

import asyncio
from datetime import datetime

from services.strategy.adapters.partitions import OwnedPartition
from services.strategy.domain import LoadedStrategy, StrategyEngine
from services.strategy.handlers import MARKET_HANDLERS, StrategyDeps, handle_fill
from shared.contracts import BarClosed, Message, SignalGenerated
from shared.runtime.clock import SimulatedClock

from .factories import START, make_bars, make_fill, make_tick, sma_cross_engine
from .sample_strategies import Recorder, RecorderParams

CLOSES = [10, 11, 12, 11, 10, 9, 10, 12, 13, 12, 11, 10, 9, 8, 9, 11, 13, 14, 12, 10]


class RecordingBus:
    """Keep what is published; ``gate`` (when set) holds every publish until it opens."""

    def __init__(self) -> None:
        self.published: list[Message] = []
        self.gate: asyncio.Event | None = None

    async def publish(self, message: Message) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.published.append(message)


class History:
    """Answer history requests from a list of bars, recording each request."""

    def __init__(self, bars: list[BarClosed]) -> None:
        self.bars = bars
        self.requests: list[tuple[str, datetime, str | None]] = []
        self.gate: asyncio.Event | None = None

    async def fetch(self, symbol: str, before: datetime, timeframe: str | None) -> list[BarClosed]:
        self.requests.append((symbol, before, timeframe))
        if self.gate is not None:
            await self.gate.wait()
        return [b for b in self.bars if b.symbol == symbol and b.ts_event < before]


class FakeConsumer:
    def __init__(self) -> None:
        self.killed = asyncio.Event()

    async def cancel(self) -> None:
        raise AssertionError("a partition is never handed over with cancel: it would reorder the queue")

    async def kill(self) -> None:
        self.killed.set()


def partition(engine: StrategyEngine, history: History, bus: RecordingBus | None = None) -> OwnedPartition:
    deps = StrategyDeps(engine, bus or RecordingBus(), SimulatedClock(START), "strategy@test")  # type: ignore[arg-type]
    owned = OwnedPartition(3, lambda: deps, history.fetch, MARKET_HANDLERS, handle_fill)
    owned.consumer = FakeConsumer()  # type: ignore[assignment]
    return owned


async def let_others_run() -> None:
    """Give every ready task a few turns of the event loop (nothing here waits for time to pass)."""
    for _ in range(5):
        await asyncio.sleep(0)


def recorder_engine() -> StrategyEngine:
    return StrategyEngine([LoadedStrategy("rec", Recorder, RecorderParams())])


async def test_the_first_event_of_a_symbol_is_handled_after_the_bars_before_it_were_replayed():
    bars = make_bars(CLOSES)
    history = History(bars)
    engine = recorder_engine()
    owned = partition(engine, history)

    await owned.handlers()[BarClosed](bars[5])

    assert history.requests == [("ORCL", bars[5].ts_event, "1d")]
    assert [close for _, close in engine.instance("rec", "ORCL").seen] == [*CLOSES[:5], CLOSES[5]]


async def test_a_symbol_is_warmed_up_once_and_each_symbol_on_its_own():
    orcl, msft = make_bars(CLOSES), make_bars(CLOSES, symbol="MSFT")
    history = History(orcl + msft)
    owned = partition(recorder_engine(), history)
    handle = owned.handlers()[BarClosed]

    for bar in (orcl[3], orcl[4], msft[7], orcl[5], msft[8]):
        await handle(bar)

    assert [(symbol, before) for symbol, before, _ in history.requests] == [("ORCL", orcl[3].ts_event),
                                                                             ("MSFT", msft[7].ts_event)]


async def test_a_tick_warms_its_symbol_up_from_bars_of_any_timeframe():
    history = History(make_bars(CLOSES))
    owned = partition(recorder_engine(), history)

    await owned.handlers()[type(make_tick())](make_tick(index=4))

    assert history.requests == [("ORCL", make_tick(index=4).ts_event, None)]


async def test_a_partition_taken_over_mid_stream_emits_the_signals_an_uninterrupted_run_emits():
    bars = make_bars(CLOSES)
    alone, first, second = RecordingBus(), RecordingBus(), RecordingBus()
    whole = partition(sma_cross_engine(fast=2, slow=4), History(bars), alone)
    before = partition(sma_cross_engine(fast=2, slow=4), History(bars), first)
    after = partition(sma_cross_engine(fast=2, slow=4), History(bars), second)

    for bar in bars:
        await whole.handlers()[BarClosed](bar)
    for bar in bars[:9]:
        await before.handlers()[BarClosed](bar)
    for bar in bars[9:]:
        await after.handlers()[BarClosed](bar)

    def signals(bus: RecordingBus) -> list[tuple[object, ...]]:
        return [(s.message_id, s.ts_event, s.direction) for s in bus.published if isinstance(s, SignalGenerated)]

    assert len(signals(alone)) >= 4
    assert signals(first) + signals(second) == signals(alone)


async def test_release_lets_the_event_in_hand_publish_its_signals_before_the_consumer_goes():
    bars = make_bars(CLOSES)
    bus = RecordingBus()
    engine = StrategyEngine([LoadedStrategy("rec", Recorder, RecorderParams(long_at=0))])
    owned = partition(engine, History(bars), bus)
    await owned.handlers()[BarClosed](bars[0])
    bus.gate = asyncio.Event()
    in_hand = asyncio.create_task(owned.handlers()[BarClosed](bars[1]))
    await let_others_run()  # it reaches its publish and waits there

    release = asyncio.create_task(owned.release())
    await let_others_run()
    assert not owned.consumer.killed.is_set()  # type: ignore[union-attr]
    bus.gate.set()
    await asyncio.wait_for(release, 1)

    await in_hand
    assert owned.consumer.killed.is_set()  # type: ignore[union-attr]
    assert [s.ts_event for s in bus.published] == [bars[0].ts_event, bars[1].ts_event]


async def test_a_delivery_after_release_began_waits_to_be_cancelled_and_handles_nothing():
    bars = make_bars(CLOSES)
    history = History(bars)
    bus = RecordingBus()
    owned = partition(recorder_engine(), history, bus)
    await owned.release()

    parked = asyncio.create_task(owned.handlers()[BarClosed](bars[2]))
    await let_others_run()
    assert not parked.done()
    parked.cancel()

    assert history.requests == [] and bus.published == []


async def test_release_during_a_warm_up_does_not_wait_for_the_history():
    bars = make_bars(CLOSES)
    history = History(bars)
    history.gate = asyncio.Event()
    engine = recorder_engine()
    owned = partition(engine, history)
    warming = asyncio.create_task(owned.handlers()[BarClosed](bars[6]))
    await let_others_run()

    await asyncio.wait_for(owned.release(), 1)
    history.gate.set()
    await let_others_run()

    assert owned.consumer.killed.is_set()  # type: ignore[union-attr]
    assert not warming.done() and engine.instance("rec", "ORCL").seen == []
    warming.cancel()


async def test_a_fill_reaches_the_strategy_only_once_its_symbol_is_warm_here():
    bars = make_bars(CLOSES)
    engine = recorder_engine()
    owned = partition(engine, History(bars))

    await owned.on_fill(make_fill("rec"))
    await owned.handlers()[BarClosed](bars[0])
    await owned.on_fill(make_fill("rec"))

    assert [kind for kind, _ in engine.instance("rec", "ORCL").seen] == ["bar", "fill"]
