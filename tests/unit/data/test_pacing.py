"""Replay pace, with a fake monotonic clock and a fake sleep that only moves that clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.data.adapters import Pacer, paced, replay_delay

T0 = datetime(2024, 1, 2, 9, 30, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)


class FakeTime:
    """A monotonic clock that moves only when slept on (or when told: work taking time)."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


async def test_at_speed_60_a_minute_of_data_takes_a_second(fake) -> None:
    pacer = Pacer(60, clock=fake.clock, sleep=fake.sleep)

    for i in range(4):
        await pacer.wait(T0 + i * MINUTE)

    assert fake.sleeps == pytest.approx([1.0, 1.0, 1.0])


@pytest.mark.parametrize("speed", [None, 0])
async def test_as_fast_as_possible_never_sleeps(fake, speed) -> None:
    pacer = Pacer(speed, clock=fake.clock, sleep=fake.sleep)

    for i in range(10):
        await pacer.wait(T0 + i * timedelta(days=1))

    assert fake.sleeps == [] and pacer.as_fast_as_possible


async def test_time_spent_publishing_is_taken_off_the_wait(fake) -> None:
    pacer = Pacer(1, clock=fake.clock, sleep=fake.sleep)
    await pacer.wait(T0)

    fake.now += 0.25
    await pacer.wait(T0 + timedelta(seconds=1))

    assert fake.sleeps == pytest.approx([0.75])


async def test_a_late_replay_does_not_wait_and_catches_up_without_drifting(fake) -> None:
    pacer = Pacer(2, clock=fake.clock, sleep=fake.sleep)
    await pacer.wait(T0)

    fake.now += 3.0
    await pacer.wait(T0 + timedelta(seconds=2))
    await pacer.wait(T0 + timedelta(seconds=8))

    assert fake.sleeps == pytest.approx([1.0])
    assert fake.now == pytest.approx(1_004.0)


async def test_max_wait_caps_a_gap_and_shifts_the_schedule(fake) -> None:
    pacer = Pacer(1, clock=fake.clock, sleep=fake.sleep, max_wait_s=5)
    await pacer.wait(T0)

    await pacer.wait(T0 + timedelta(hours=60))
    await pacer.wait(T0 + timedelta(hours=60, seconds=2))

    assert fake.sleeps == pytest.approx([5.0, 2.0])


async def test_reset_starts_the_schedule_afresh(fake) -> None:
    pacer = Pacer(1, clock=fake.clock, sleep=fake.sleep)
    await pacer.wait(T0)
    pacer.reset()

    await pacer.wait(T0 + timedelta(days=1))
    await pacer.wait(T0 + timedelta(days=1, seconds=3))

    assert fake.sleeps == pytest.approx([3.0])


async def test_paced_yields_every_message_in_order_after_its_wait(fake) -> None:
    class Stamped:
        def __init__(self, ts_event: datetime) -> None:
            self.ts_event = ts_event

    async def source():
        for i in range(3):
            yield Stamped(T0 + i * MINUTE)

    out = [message.ts_event async for message in paced(source(), Pacer(30, clock=fake.clock, sleep=fake.sleep))]

    assert out == [T0, T0 + MINUTE, T0 + 2 * MINUTE] and fake.sleeps == pytest.approx([2.0, 2.0])


def test_replay_delay_scales_event_time_by_the_speed() -> None:
    assert replay_delay(T0, 10.0, T0 + timedelta(hours=1), 10.0, 3600) == pytest.approx(1.0)
    assert replay_delay(T0, 10.0, T0 + timedelta(hours=1), 12.0, 3600) == pytest.approx(-1.0)


def test_a_negative_speed_is_refused() -> None:
    with pytest.raises(ValueError, match="speed"):
        Pacer(-1)
