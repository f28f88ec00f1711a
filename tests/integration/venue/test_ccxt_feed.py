"""The live ccxt feed against the local Binance emulator (real ccxt, real websockets, an injected clock).

Times are driven by one ``SimulatedClock`` shared by the feed and the emulator; trades carry explicit venue times.
A reconnect is held by the feed's injected backoff ``sleep`` until the test opens it, so what happens "while down"
is deterministic.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from services.data.adapters.archive import DataArchive
from services.data.adapters.ccxt_feed import CcxtFeed
from services.data.adapters.live_publisher import LivePublisher
from services.data.bootstrap import bootstrap
from services.data.domain.bars import to_ms
from services.data.settings import DataSettings
from shared.contracts import BarClosed, Message, OrderBookUpdated, QuoteTicked, TradeTicked
from shared.messaging.memory import InMemoryBus
from shared.messaging.topology import Topology
from shared.runtime.clock import SimulatedClock
from shared.runtime.service import ServiceRunner
from shared.venues import VenueSettings
from tests.emulators.binance import BinanceEmulator, binance_client
from tests.wiring import watch

BTC = "BTC/USDT"
M0 = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)
GRACE = timedelta(seconds=2)


def at(minute: int, seconds: float = 0) -> int:
    """Return the venue time (ms) ``minute`` minutes and ``seconds`` seconds after M0."""
    return to_ms(M0 + minute * MINUTE + timedelta(seconds=seconds))


class Recorder:
    """A bus that keeps what is published; ``until`` waits (on a signal) for what a test expects."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._changed = asyncio.Condition()

    async def publish(self, message: Message) -> None:
        async with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    def of(self, kind: type[Message]) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]

    async def until(self, found: Callable[[Recorder], bool], timeout: float = 3) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found(self)), timeout)


class HeldReconnect:
    """The feed's backoff sleep: it waits until the test opens it, and tells when the feed began waiting."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()
        self.opened = asyncio.Event()
        self.opened.set()

    def hold(self) -> None:
        self.opened.clear()

    async def __call__(self, seconds: float) -> None:
        self.waiting.set()
        await self.opened.wait()


async def eventually(condition: Callable[[], bool], timeout: float = 3) -> None:
    """Wait until ``condition`` holds (for state with no signal of its own: a gauge)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(M0 - timedelta(seconds=1))


@pytest.fixture
async def venue(clock: SimulatedClock) -> AsyncIterator[BinanceEmulator]:
    async with BinanceEmulator(clock=lambda: to_ms(clock.now())) as emulator:
        yield emulator


@pytest.fixture
def archive(tmp_path: Path) -> DataArchive:
    return DataArchive(tmp_path / "data.sqlite")


class Running:
    """A feed over a fresh ccxt client, published by a ``LivePublisher`` into a ``Recorder``."""

    def __init__(self, venue: BinanceEmulator, archive: DataArchive, clock: SimulatedClock, **options: Any) -> None:
        self.client = binance_client(venue, timeout=1000)
        self.registry = CollectorRegistry()
        self.sleep = HeldReconnect()
        self.feed = CcxtFeed(self.client, [BTC], history=archive, clock=clock, registry=self.registry,
                             late_trade_grace=GRACE, timer_s=0.01, sleep=self.sleep,
                             **{"backfill_bars": 0, **options})
        self.bus = Recorder()
        self.task = asyncio.create_task(LivePublisher(self.feed, self.bus, archive, window=8).run())  # type: ignore[arg-type]

    def metric(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, {"service": "data", **labels})

    async def stop(self) -> None:
        await self.feed.close()
        await asyncio.wait_for(self.task, 2)
        await self.client.close()


@pytest.fixture
async def running(venue: BinanceEmulator, archive: DataArchive,
                  clock: SimulatedClock) -> AsyncIterator[Callable[..., Running]]:
    started: list[Running] = []

    def start(**options: Any) -> Running:
        started.append(Running(venue, archive, clock, **options))
        return started[-1]

    yield start
    for feed in started:
        if not feed.task.done():
            await feed.stop()
        else:
            await feed.client.close()


def ohlcv(bar: BarClosed) -> tuple[datetime, Decimal, Decimal, Decimal, Decimal, Decimal]:
    return bar.ts_event, bar.open, bar.high, bar.low, bar.close, bar.volume


def sequences(bars: list[BarClosed]) -> list[int]:
    return [bar.sequence for bar in bars]  # type: ignore[misc]


async def test_venue_trades_become_trade_ticks_with_the_venue_ids_as_sequence(venue, running) -> None:
    feed = running()
    await venue.wait_subscribed("btcusdt@trade")

    await venue.trade(BTC, "100.5", "0.25", side="sell", ts=at(0, 1))
    await venue.trade(BTC, "100.7", "0.5", side="buy", ts=at(0, 2))
    await feed.bus.until(lambda bus: len(bus.of(TradeTicked)) == 2)

    first, second = feed.bus.of(TradeTicked)
    assert (first.price, first.size, first.aggressor, first.symbol) == (Decimal("100.5"), Decimal("0.25"), "sell", BTC)
    assert first.sequence == int(first.trade_id) and second.sequence == first.sequence + 1
    assert first.ts_event == M0 + timedelta(seconds=1) and first.source == "data:binance"


async def test_best_bid_and_ask_become_quotes_sequenced_by_the_venue_update_id(venue, running) -> None:
    feed = running()
    await venue.wait_subscribed("btcusdt@bookTicker")

    await venue.quote(BTC, "99.5", "100.5", "2", "3")
    await venue.quote(BTC, "99.6", "100.4", "1", "1")
    await feed.bus.until(lambda bus: len(bus.of(QuoteTicked)) == 2)

    first, second = feed.bus.of(QuoteTicked)
    assert (first.bid, first.ask, first.bid_size, first.ask_size) == (99.5, 100.5, 2, 3)
    assert first.sequence is not None and second.sequence == first.sequence + 1


async def test_with_order_book_on_the_book_is_published_as_snapshots_of_the_best_levels(venue, running) -> None:
    feed = running(order_book=True, book_depth=2)
    await venue.wait_subscribed("btcusdt@depth")

    await venue.set_book(BTC, bids=[("99", "1"), ("98", "2"), ("97", "3")], asks=[("101", "1"), ("102", "2")])
    await feed.bus.until(lambda bus: any(book.bids for book in bus.of(OrderBookUpdated)))

    book = next(book for book in feed.bus.of(OrderBookUpdated) if book.bids)
    assert book.is_snapshot and [(level.price, level.size) for level in book.bids] == [(99, 1), (98, 2)]
    assert [level.price for level in book.asks] == [101, 102]


async def test_a_bar_built_from_trades_closes_on_time_without_a_further_trade(venue, running, clock, archive) -> None:
    feed = running()
    await venue.wait_subscribed("btcusdt@trade")
    for seconds, price, qty in [(5, "100", "1"), (20, "104", "2"), (40, "99", "1"), (55, "101", "1")]:
        await venue.trade(BTC, price, qty, ts=at(0, seconds))
    await feed.bus.until(lambda bus: len(bus.of(TradeTicked)) == 4)
    clock.set(M0 + MINUTE + GRACE - timedelta(milliseconds=1))
    await asyncio.sleep(0.05)  # several timer ticks: the grace is not over, nothing may close
    assert feed.bus.of(BarClosed) == []

    clock.set(M0 + MINUTE + GRACE)
    await feed.bus.until(lambda bus: len(bus.of(BarClosed)) == 1)

    [bar] = feed.bus.of(BarClosed)
    assert ohlcv(bar) == (M0, 100, 104, 99, 101, 5)
    assert bar.sequence == at(0) // 60_000 and bar.timeframe == "1m"
    assert archive.bars_before(BTC, 5, "1m") == [bar]


async def test_a_late_trade_is_counted_and_left_out(venue, running, clock) -> None:
    feed = running()
    await venue.wait_subscribed("btcusdt@trade")
    await venue.trade(BTC, "100", "1", ts=at(0, 5))
    await venue.trade(BTC, "101", "1", ts=at(1, 3))  # after the grace: closes the first bar
    await feed.bus.until(lambda bus: len(bus.of(BarClosed)) == 1)

    await venue.trade(BTC, "500", "1", ts=at(0, 59))
    await feed.bus.until(lambda bus: len(bus.of(TradeTicked)) == 3)

    assert feed.metric("tradebus_data_late_trades_total", symbol=BTC) == 1
    assert ohlcv(feed.bus.of(BarClosed)[0]) == (M0, 100, 100, 100, 100, 1)


async def test_klines_mode_publishes_closed_klines_only(venue, running, clock) -> None:
    feed = running(bars="klines")
    await venue.wait_subscribed("btcusdt@kline_1m")
    await venue.trade(BTC, "100", "1", ts=at(0, 5))
    await venue.trade(BTC, "103", "1", ts=at(0, 30))
    await feed.bus.until(lambda bus: len(bus.of(TradeTicked)) == 2)
    await asyncio.sleep(0.05)
    assert feed.bus.of(BarClosed) == []  # the kline in progress is not a bar

    await venue.trade(BTC, "102", "2", ts=at(1, 1))  # the next kline starts: the first one closed
    await feed.bus.until(lambda bus: len(bus.of(BarClosed)) == 1)
    clock.set(M0 + 2 * MINUTE + GRACE)  # the second one ends with no further trade: closed by time, from REST
    await feed.bus.until(lambda bus: len(bus.of(BarClosed)) == 2)

    first, second = feed.bus.of(BarClosed)
    assert ohlcv(first) == (M0, 100, 103, 100, 103, 2)
    assert ohlcv(second) == (M0 + MINUTE, 102, 102, 102, 102, 2)
    assert second.sequence == first.sequence + 1


async def test_bars_missed_while_the_socket_was_down_are_backfilled_with_no_gap_and_no_duplicate(
        venue, running, clock) -> None:
    feed = running()
    await venue.wait_subscribed("btcusdt@trade")
    await venue.trade(BTC, "100", "1", ts=at(0, 5))
    await feed.bus.until(lambda bus: len(bus.of(TradeTicked)) == 1)
    clock.set(M0 + MINUTE + GRACE)
    await feed.bus.until(lambda bus: len(bus.of(BarClosed)) == 1)
    await venue.trade(BTC, "101", "1", ts=at(1, 10))
    await feed.bus.until(lambda bus: len(bus.of(TradeTicked)) == 2)

    feed.sleep.hold()
    await venue.disconnect_websockets("market")
    await asyncio.wait_for(feed.sleep.waiting.wait(), 3)
    for price, ts in [("102", at(1, 30)), ("103", at(2, 10)), ("104", at(3, 5))]:
        await venue.trade(BTC, price, "1", ts=ts)  # nobody hears these
    clock.set(M0 + 3 * MINUTE + timedelta(seconds=20))
    feed.sleep.opened.set()
    await feed.bus.until(lambda bus: len(bus.of(BarClosed)) == 3)  # the two closed while down, from REST
    await venue.wait_subscribed("btcusdt@trade")
    await venue.trade(BTC, "105", "1", ts=at(3, 40))
    await feed.bus.until(lambda bus: len(bus.of(TradeTicked)) == 3)
    clock.set(M0 + 4 * MINUTE + GRACE)
    await feed.bus.until(lambda bus: len(bus.of(BarClosed)) == 4)

    bars = feed.bus.of(BarClosed)
    assert sequences(bars) == list(range(bars[0].sequence, bars[0].sequence + 4))
    assert [ohlcv(bar)[1:5] for bar in bars] == [(100, 100, 100, 100), (101, 102, 101, 102), (103, 103, 103, 103),
                                                 (104, 105, 104, 105)]  # the last one had missed a trade: REST's
    assert feed.metric("tradebus_data_reconnects_total") == 1
    assert feed.metric("tradebus_data_backfilled_bars_total") == 3


async def test_a_restarted_feed_does_not_publish_the_last_bar_again(venue, running, clock, archive) -> None:
    first = running()
    await venue.wait_subscribed("btcusdt@trade")
    await venue.trade(BTC, "100", "1", ts=at(0, 5))
    await first.bus.until(lambda bus: len(bus.of(TradeTicked)) == 1)
    clock.set(M0 + MINUTE + GRACE)
    await first.bus.until(lambda bus: len(bus.of(BarClosed)) == 1)
    await first.stop()
    await venue.trade(BTC, "101", "1", ts=at(1, 10))
    await venue.trade(BTC, "102", "1", ts=at(2, 1))
    clock.set(M0 + 2 * MINUTE + timedelta(seconds=5))

    second = running(backfill_bars=500)
    await second.bus.until(lambda bus: len(bus.of(BarClosed)) == 1)
    await asyncio.sleep(0.05)

    [bar] = second.bus.of(BarClosed)
    assert ohlcv(bar) == (M0 + MINUTE, 101, 101, 101, 101, 1)
    assert sequences(archive.bars_before(BTC, 10, "1m")) == [bar.sequence - 1, bar.sequence]


async def test_a_symbol_without_data_for_stale_after_s_raises_the_stale_alarm_once(venue, running, clock,
                                                                                   caplog) -> None:
    feed = running(stale_after_s=30)
    await venue.wait_subscribed("btcusdt@trade")
    caplog.set_level(logging.WARNING, "tradebus.data.ccxt")

    clock.advance(timedelta(seconds=31))
    await eventually(lambda: feed.metric("tradebus_data_feed_stale", symbol=BTC) == 1)
    await asyncio.sleep(0.05)
    assert sum("no market data" in r.getMessage() for r in caplog.records) == 1
    assert feed.feed.health()["stale"] == [BTC]

    await venue.trade(BTC, "100", "1", ts=at(0, 31))
    await eventually(lambda: feed.metric("tradebus_data_feed_stale", symbol=BTC) == 0)
    assert feed.feed.health()["stale"] == []


async def test_the_data_service_streams_the_venue_into_the_bus(venue, clock, tmp_path) -> None:
    settings = DataSettings.isolated(namespace="live", state_dir=tmp_path, live_symbols=(BTC,), timeframe="1m",
                                     backfill_bars=0, stale_after_s=600, venue=VenueSettings(exchange="binance",
                                                                          endpoint=venue.rest_url, timeout_ms=1000))
    bus = InMemoryBus(Topology("live"))
    app = bootstrap(settings, bus=bus, clock=clock)
    runner = ServiceRunner(app)
    published = await watch(bus, BarClosed, TradeTicked)
    await runner.start()
    try:
        await venue.wait_subscribed("btcusdt@trade")
        await venue.trade(BTC, "100", "1", ts=at(0, 5))
        await eventually(lambda: len(published) == 1)
        clock.set(M0 + MINUTE + GRACE)
        await eventually(lambda: any(isinstance(m, BarClosed) for m in published))

        details = app.health_details()
        assert details["venue"]["exchange"] == "binance" and details["venue"]["keys"] == "none"
        assert set(details["last_event_age_s"]) == {BTC} and details["stale"] == []
    finally:
        await runner.stop()
    [bar] = [m for m in published if isinstance(m, BarClosed)]
    assert (bar.symbol, bar.ts_event, bar.close) == (BTC, M0, 100)


def test_a_venue_and_csv_files_together_are_refused_in_one_line(tmp_path) -> None:
    settings = DataSettings.isolated(csv_paths=(tmp_path / "a.csv",), symbols=("A",), live_symbols=(BTC,),
                                     venue=VenueSettings(exchange="binance"))

    with pytest.raises(ValueError, match="not both") as refused:
        bootstrap(settings, bus=InMemoryBus())
    assert "\n" not in str(refused.value)
