"""Composition root of the execution service."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial

from prometheus_client import CollectorRegistry

from shared.messaging.bus import MessageBus, Subscription
from shared.messaging.errors import ErrorPolicy
from shared.runtime.clock import Clock, LiveClock
from shared.runtime.service import ServiceApp, bind_handlers, make_amqp_bus

from .adapters.broker import Broker
from .adapters.order_store import OrderStore
from .adapters.paper import PaperBroker
from .domain.book import ExecutionBook
from .domain.matching import MatcherConfig
from .domain.pricing import Commission
from .domain.risk import RiskLimits
from .domain.sizing import SizingMode, SizingPolicy
from .handlers import (
    COMMAND_HANDLERS,
    MARKET_HANDLERS,
    PORTFOLIO_HANDLERS,
    SIGNAL_HANDLERS,
    ExecutionDeps,
    recover,
)
from .settings import ExecutionSettings


def matcher_config(settings: ExecutionSettings) -> MatcherConfig:
    """Return the paper broker's fill model from the settings."""
    return MatcherConfig(
        fill_on=settings.fill_on, slippage_bps=settings.slippage_bps,
        commission=Commission(per_share=settings.commission_per_share, rate=settings.commission_rate,
                              minimum=settings.commission_minimum),
        max_volume_participation=settings.max_volume_participation, lot_size=settings.lot_size,
        timeframe=settings.timeframe, replay_window=settings.replay_window)


def bootstrap(settings: ExecutionSettings, *, bus: MessageBus | None = None, clock: Clock | None = None,
              registry: CollectorRegistry | None = None, broker: Broker | None = None,
              store: OrderStore | None = None) -> ServiceApp:
    """Wire the execution service: reconcile with the broker at start-up, then consume signals and commands."""
    registry = registry or CollectorRegistry()
    bus = bus or make_amqp_bus(settings, registry)
    clock = clock or LiveClock()
    store = store or OrderStore(settings.state_dir / "orders.sqlite")
    broker = broker or PaperBroker(matcher_config(settings), clock=clock, path=settings.state_dir / "paper.sqlite")
    sizing = SizingPolicy(SizingMode(settings.sizing), settings.quantity, settings.notional, settings.equity_fraction,
                          settings.allow_short, settings.lot_size, settings.scale_by_strength)
    limits = RiskLimits(settings.max_order_quantity, settings.max_order_notional, settings.max_position,
                        settings.max_gross_exposure, settings.max_orders_per_second)
    deps = ExecutionDeps(store, broker, ExecutionBook(), sizing, limits, bus, clock,
                         f"execution@{settings.instance_id}", timedelta(seconds=settings.lost_after_s))
    topo = bus.topology
    subscriptions = [
        # money moves on these paths: an unexpected error stops the service (crash-only recovery on restart)
        Subscription(topo.queue("execution", "market"),
                     bind_handlers(MARKET_HANDLERS, deps), settings.prefetch, ErrorPolicy.CRASH),
        Subscription(topo.queue("execution", "signals"),
                     bind_handlers(SIGNAL_HANDLERS, deps), settings.prefetch, ErrorPolicy.CRASH),
        Subscription(topo.queue("execution", "commands"),
                     bind_handlers(COMMAND_HANDLERS, deps), settings.prefetch, ErrorPolicy.CRASH),
        Subscription(topo.queue("execution", "portfolio"),
                     bind_handlers(PORTFOLIO_HANDLERS, deps), settings.prefetch),
    ]

    async def reconcile_in_flight() -> None:
        while True:
            await asyncio.sleep(settings.reconcile_interval_s)
            if store.in_flight():
                await recover(deps)

    async def close() -> None:
        await broker.close()
        store.close()

    def health() -> dict[str, object]:
        return {"working_orders": len(deps.book.working), "halted": deps.book.halted}

    return ServiceApp("execution", bus, subscriptions, tasks=[reconcile_in_flight],
                      on_start=[partial(recover, deps)], on_stop=[close], registry=registry, declare_suite=True,
                      health_details=health, deps=deps)
