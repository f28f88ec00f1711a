"""Composition root of the data service."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CollectorRegistry, Counter

from shared.messaging.bus import MessageBus, Subscription
from shared.runtime.clock import Clock, LiveClock
from shared.runtime.service import ServiceApp, bind_handlers, make_amqp_bus

from .adapters import CsvBarFeed, MergedFeed, Pacer, ReplayFeed, SyntheticBarFeed
from .domain import BadRow, BarHistory, ColumnMapping
from .handlers import HANDLERS, DataDeps, replay
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


def bootstrap(settings: DataSettings, *, bus: MessageBus | None = None, clock: Clock | None = None,
              registry: CollectorRegistry | None = None) -> ServiceApp:
    """Wire the data service: replay its feeds into the market exchange, answer history requests."""
    registry = registry or CollectorRegistry()
    bus = bus or make_amqp_bus(settings, registry)
    bad_rows = Counter("tradebus_data_bad_rows_total", "Rows of input data refused, by kind.",
                       ["service", "kind"], registry=registry)

    def report_bad_row(row: BadRow) -> None:
        log.warning("bad row %s:%d: %s", row.file, row.line, row.reason)
        bad_rows.labels(settings.service_name, row.kind).inc()

    feed = build_feed(settings, report_bad_row)
    deps = DataDeps(BarHistory(settings.history_bars), feed, bus, clock or LiveClock(), f"data@{settings.instance_id}")

    async def replay_feed() -> None:
        await asyncio.sleep(settings.start_delay_s)
        count = await replay(deps.feed, Pacer(settings.speed or None, max_wait_s=settings.max_wait_s), deps)
        deps.replay_done = True
        log.info("replay finished: %d market events published", count)

    requests = bus.topology.queue("data", "requests")
    return ServiceApp("data", bus, [Subscription(requests, bind_handlers(HANDLERS, deps), settings.prefetch)],
                      tasks=[replay_feed], on_stop=[feed.close], registry=registry, declare_suite=True,
                      health_details=lambda: {"published": deps.published, "replay_done": deps.replay_done}, deps=deps)
