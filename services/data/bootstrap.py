"""Composition root of the data service."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from shared.messaging.bus import MessageBus
from shared.messaging.subscriptions import shared_subscriptions
from shared.runtime.clock import Clock, LiveClock
from shared.runtime.service import ServiceApp, finite, make_amqp_bus
from shared.venues import open_exchange, venue_summary

from .adapters import CsvBarFeed, MergedFeed, Pacer, ReplayFeed, SyntheticBarFeed
from .adapters.archive import DataArchive
from .adapters.live_publisher import LivePublisher
from .adapters.replay import PositionStore, Replay
from .domain import BadRow, BarArchive, ColumnMapping
from .domain.bars import timeframe_ms
from .handlers import SUBSCRIPTIONS, DataDeps
from .settings import DataSettings

log = logging.getLogger(__name__)


def build_feed(settings: DataSettings, on_bad_row=None) -> MergedFeed:  # type: ignore[no-untyped-def]
    """Return the merged, time-ordered replay of every CSV file and synthetic symbol the settings name."""
    if len(settings.symbols) != len(settings.csv_paths):
        raise ValueError(f"csv_paths has {len(settings.csv_paths)} files but symbols names {len(settings.symbols)}")
    mapping = ColumnMapping(**settings.columns) if settings.columns else None
    feeds: list[ReplayFeed] = [
        CsvBarFeed(path, symbol, settings.timeframe, mapping=mapping, policy=settings.bad_rows,
                   on_bad_row=on_bad_row, tz=settings.tz, source=f"data:{path.name}")
        for path, symbol in zip(settings.csv_paths, settings.symbols)]
    if settings.synthetic_symbols:
        feeds.append(SyntheticBarFeed(settings.synthetic_symbols, settings.seed, count=settings.synthetic_bars,
                                      source="data:synthetic"))
    return MergedFeed(feeds)


def feed_key(settings: DataSettings) -> str:
    """Return the name a replay's position is kept under: where it replays to, and what decides which events it
    replays, in order."""
    return json.dumps({"namespace": settings.namespace, "csv": [str(path.resolve()) for path in settings.csv_paths],
                       "symbols": settings.symbols,
                       "timeframe": settings.timeframe, "synthetic": settings.synthetic_symbols,
                       "bars": settings.synthetic_bars, "seed": settings.seed}, sort_keys=True)


def check_mode(settings: DataSettings) -> None:
    """Raise ``ValueError`` (one line) when the settings mix the live and the replay mode, or half-set live."""
    if settings.venue.exchange is None:
        return
    if settings.csv_paths or settings.synthetic_symbols:
        raise ValueError("the data service streams venue.exchange live or replays csv_paths/synthetic_symbols, "
                         "not both: unset one of them")
    if not settings.live_symbols:
        raise ValueError("venue.exchange is set but live_symbols is empty: name the ccxt symbols to stream")
    timeframe_ms(settings.timeframe)


def bootstrap(settings: DataSettings, *, bus: MessageBus | None = None, clock: Clock | None = None,
              registry: CollectorRegistry | None = None, history: BarArchive | None = None,
              positions: PositionStore | None = None, exchange: Any = None) -> ServiceApp:
    """Wire the data service: replay its feeds (or stream its venue live) into the market exchange, answer history
    requests.

    Without ``history`` and ``positions`` the service keeps both in a ``DataArchive`` in ``state_dir``; the
    backtester passes its own (in memory). With ``venue.exchange`` set the service streams that venue through a
    ccxt client from ``open_exchange`` (public data only), or through ``exchange`` when a test passes one.
    """
    check_mode(settings)
    registry = registry or CollectorRegistry()
    bus = bus or make_amqp_bus(settings, registry)
    if settings.venue.exchange is not None:
        return _live(settings, bus, clock or LiveClock(), registry, history, exchange)
    bad_rows = Counter("tradebus_data_bad_rows_total", "Rows of input data refused, by kind.",
                       ["service", "kind"], registry=registry)

    def report_bad_row(row: BadRow) -> None:
        log.warning("bad row %s:%d: %s", row.file, row.line, row.reason)
        bad_rows.labels(settings.service_name, row.kind).inc()

    feed = build_feed(settings, report_bad_row)
    archive = None
    if history is None or positions is None:
        archive = DataArchive(settings.state_dir / "data.sqlite", retention=settings.history_bars)
    history, positions = history or archive, positions or archive  # type: ignore[assignment]
    assert history is not None and positions is not None
    deps = DataDeps(history, bus, clock or LiveClock(), f"data@{settings.instance_id}")
    replay = Replay(feed, feed_key(settings), bus, history, positions,
                    Pacer(settings.speed or None, max_wait_s=settings.max_wait_s))

    @finite
    async def replay_feed() -> None:
        await asyncio.sleep(settings.start_delay_s)
        count = await replay.run()
        log.info("replay finished: %d market events published (resumed after %d)", count, replay.resumed_from)

    async def close() -> None:
        await feed.close()
        if archive is not None:
            archive.close()

    return ServiceApp("data", bus, shared_subscriptions(bus.topology, "data", SUBSCRIPTIONS, deps, settings.prefetch),
                      tasks=[replay_feed], on_stop=[close], registry=registry, declare_suite=True,
                      health_details=lambda: {"published": replay.published, "replay_done": replay.done,
                                              "resumed_from": replay.resumed_from,
                                              "position": replay.resumed_from + replay.published}, deps=replay)


def _live(settings: DataSettings, bus: MessageBus, clock: Clock, registry: CollectorRegistry,
          history: BarArchive | None, exchange: Any) -> ServiceApp:
    archive = DataArchive(settings.state_dir / "data.sqlite", retention=settings.history_bars) if history is None \
        else None
    history = history or archive
    assert history is not None
    from .adapters.ccxt_feed import CcxtFeed  # ccxt loads slowly: only a live data service pays for it

    client = exchange if exchange is not None else open_exchange(settings.venue)
    summary = venue_summary(settings.venue)
    log.info("data service streaming %s live: %s, bars from %s (%s)", summary["exchange"],
             ", ".join(settings.live_symbols), settings.bars, settings.timeframe, extra={"venue": summary})
    feed = CcxtFeed(client, settings.live_symbols, history=history, timeframe=settings.timeframe, bars=settings.bars,
                    late_trade_grace=timedelta(seconds=settings.late_trade_grace_s),
                    stale_after_s=settings.stale_after_s, order_book=settings.order_book,
                    book_depth=settings.book_depth, backfill_bars=settings.backfill_bars, clock=clock,
                    registry=registry, service=settings.service_name)
    publisher = LivePublisher(feed, bus, history)
    deps = DataDeps(history, bus, clock, f"data@{settings.instance_id}")

    async def live_feed() -> None:
        await asyncio.sleep(settings.start_delay_s)
        await publisher.run()

    async def close() -> None:
        await feed.close()
        if exchange is None:
            await client.close()
        if archive is not None:
            archive.close()

    return ServiceApp("data", bus, shared_subscriptions(bus.topology, "data", SUBSCRIPTIONS, deps, settings.prefetch),
                      tasks=[live_feed], on_stop=[close], registry=registry, declare_suite=True,
                      health_details=lambda: {"venue": summary, "published": publisher.published,
                                              **feed.health()}, deps=publisher)
