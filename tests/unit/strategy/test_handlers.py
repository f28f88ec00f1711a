"""The strategy's handlers decide once per event and publish until confirmed: a retried handler sends the very
same signals, a repeated or older event moves no strategy state."""

from __future__ import annotations

import pytest

from services.strategy.domain import LoadedStrategy, StrategyEngine
from services.strategy.handlers import StrategyDeps, handle_fill, on_bar
from shared.contracts import Direction, Message, SignalGenerated
from shared.messaging.errors import PublishFailed
from shared.runtime.clock import SimulatedClock

from .factories import START, make_bar, make_fill, sma_cross_engine
from .sample_strategies import Recorder, RecorderParams

CLOSES = [10, 10, 10, 9, 8, 9, 11, 12, 13, 12, 10, 9, 8, 7, 8, 10, 12]
"""A down-move, an up-cross (bar 6), a down-cross (bar 11), an up-cross again (bar 15) for SMA(2)/SMA(3)."""


class FlakyBus:
    """Keep what is published; fail the publishes whose numbers are in ``failing`` (1 is the first)."""

    def __init__(self, *failing: int) -> None:
        self.published: list[Message] = []
        self.failing = set(failing)
        self.calls = 0

    async def publish(self, message: Message) -> None:
        self.calls += 1
        if self.calls in self.failing:
            raise PublishFailed("no confirm within 10s")
        self.published.append(message)


def sequenced_bars(closes: list[int]) -> list:
    return [make_bar(close, index=i, sequence=i + 1) for i, close in enumerate(closes)]


async def run(bars: list, bus: FlakyBus) -> list[SignalGenerated]:
    deps = StrategyDeps(sma_cross_engine(fast=2, slow=3), bus, SimulatedClock(START), "strategy@test")  # type: ignore[arg-type]
    for bar in bars:
        while True:  # the bus retries a handler whose publish failed (PublishFailed is transient)
            try:
                await on_bar(bar, deps)
                break
            except PublishFailed:
                continue
    return bus.published  # type: ignore[return-value]


async def test_a_handler_retried_after_a_failed_publish_sends_the_very_same_signals() -> None:
    bars = sequenced_bars(CLOSES)
    reference = await run(bars, FlakyBus())

    retried = await run(bars, FlakyBus(1, 2))  # the first signal's publish fails twice

    assert len(reference) == 3
    assert [s.message_id for s in retried] == [s.message_id for s in reference]


async def test_a_repeated_or_older_bar_moves_no_strategy_state() -> None:
    bars = sequenced_bars(CLOSES)
    replayed = bars[:8] + bars[2:8] + bars[8:]  # a replay resumed from an older position repeats bars 2 to 7

    assert [s.message_id for s in await run(replayed, FlakyBus())] == \
        [s.message_id for s in await run(bars, FlakyBus())]


async def test_without_sequences_a_retry_still_publishes_what_was_decided() -> None:
    bars = [make_bar(close, index=i) for i, close in enumerate(CLOSES)]  # no sequence: nothing is deduplicated

    retried = await run(bars, FlakyBus(1))

    assert [s.message_id for s in retried] == [s.message_id for s in await run(bars, FlakyBus())]


@pytest.mark.parametrize("failing", [(), (1,)])
async def test_nothing_is_left_owed_once_every_signal_is_confirmed(failing: tuple[int, ...]) -> None:
    deps = StrategyDeps(sma_cross_engine(fast=2, slow=3), FlakyBus(*failing), SimulatedClock(START), "s@t")  # type: ignore[arg-type]
    for bar in sequenced_bars(CLOSES):
        try:
            await on_bar(bar, deps)
        except PublishFailed:
            await on_bar(bar, deps)

    assert deps.unconfirmed == {}


async def test_a_signal_a_strategy_answers_its_fill_with_is_published_once_even_after_a_failed_publish() -> None:
    bus = FlakyBus(1)
    deps = StrategyDeps(StrategyEngine([LoadedStrategy("rec", Recorder, RecorderParams())]), bus,  # type: ignore[arg-type]
                        SimulatedClock(START), "strategy@test")
    fill = make_fill("rec")

    with pytest.raises(PublishFailed):
        await handle_fill(fill, deps)
    await handle_fill(fill, deps)  # the retry
    await handle_fill(fill, deps)  # a redelivery

    (signal,) = bus.published
    assert isinstance(signal, SignalGenerated) and signal.direction is Direction.EXIT
    assert signal.causation_id == fill.message_id
