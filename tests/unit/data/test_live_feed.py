"""The live-feed template: connect, subscribe, translate, reconnect with backoff, report bad payloads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from services.data.adapters import LiveFeed, backoff_delay
from shared.contracts import TradeTicked

T0 = datetime(2024, 1, 2, tzinfo=timezone.utc)


class ScriptedFeed(LiveFeed):
    """Play a script of payloads; an exception in the script is raised by ``receive``, as a dropped link would."""

    def __init__(self, script: list[Any], **options: Any) -> None:
        self.slept: list[float] = []
        self.bad: list[tuple[Any, Exception]] = []

        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)

        super().__init__(["BTC/USD"], source="scripted", sleep=sleep,
                         on_bad_payload=lambda payload, error: self.bad.append((payload, error)), **options)
        self.script = list(script)
        self.calls: list[str] = []

    async def connect(self) -> None:
        self.calls.append("connect")

    async def subscribe(self, symbols: Sequence[str]) -> None:
        self.calls.append(f"subscribe {','.join(symbols)}")

    async def receive(self) -> Any:
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def translate(self, payload: Any) -> Iterable[TradeTicked]:
        if payload == "heartbeat":
            return []
        price, size = payload.split("@")
        return [TradeTicked(ts_event=T0, ts_init=T0, source=self.source, symbol="BTC/USD", price=Decimal(price),
                            size=Decimal(size))]

    async def disconnect(self) -> None:
        self.calls.append("disconnect")


async def take(feed: LiveFeed, n: int) -> list[Any]:
    taken = []
    async for message in feed:
        taken.append(message)
        if len(taken) == n:
            await feed.close()
    return taken


async def test_payloads_become_messages_and_heartbeats_nothing() -> None:
    feed = ScriptedFeed(["100@1", "heartbeat", "101@2"])

    trades = await take(feed, 2)

    assert [(t.price, t.size) for t in trades] == [(100, 1), (101, 2)]
    assert feed.calls[:2] == ["connect", "subscribe BTC/USD"]


async def test_a_dropped_link_reconnects_after_a_backoff_and_subscribes_again() -> None:
    feed = ScriptedFeed(["100@1", ConnectionError("gone"), TimeoutError(), "101@1"], backoff_s=(0.5, 30.0))

    trades = await take(feed, 2)

    assert [t.price for t in trades] == [100, 101]
    assert feed.slept == [0.5, 1.0] and feed.reconnects == 2
    assert feed.calls.count("subscribe BTC/USD") == 3
    assert feed.calls[:5] == ["connect", "subscribe BTC/USD", "disconnect", "connect", "subscribe BTC/USD"]


async def test_a_malformed_payload_is_reported_and_skipped() -> None:
    feed = ScriptedFeed(["garbage", "100@1"])

    trades = await take(feed, 1)

    assert len(trades) == 1 and [payload for payload, _ in feed.bad] == ["garbage"]


async def test_too_many_failed_reconnects_in_a_row_raise() -> None:
    feed = ScriptedFeed([ConnectionError("1"), ConnectionError("2"), ConnectionError("3")], max_reconnects=2)

    with pytest.raises(ConnectionError, match="3"):
        await take(feed, 1)
    assert feed.slept == [0.5, 1.0]


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff_delay(attempt, 0.5, 3.0) for attempt in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_live_feed_missing_a_required_method_cannot_be_made() -> None:
    class Incomplete(LiveFeed):
        async def connect(self) -> None: ...

    with pytest.raises(TypeError, match="abstract"):
        Incomplete(["X"], source="x")  # type: ignore[abstract]
