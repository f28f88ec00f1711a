"""Composition root of the strategy service."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from shared.messaging.bus import MessageBus, Subscription
from shared.runtime.clock import Clock, LiveClock
from shared.runtime.service import ServiceApp, bind_handlers, make_amqp_bus

from .domain import StrategyEngine, build_spec
from .handlers import FILL_HANDLERS, MARKET_HANDLERS, StrategyDeps
from .settings import StrategySettings


def build_engine(settings: StrategySettings) -> StrategyEngine:
    """Build the engine running every strategy the settings name."""
    return StrategyEngine([build_spec(s.id, s.name, s.params, s.symbols) for s in settings.strategies])


def bootstrap(settings: StrategySettings, *, bus: MessageBus | None = None, clock: Clock | None = None,
              registry: CollectorRegistry | None = None) -> ServiceApp:
    """Wire the strategy service: every market partition queue and the fills queue into the engine."""
    registry = registry or CollectorRegistry()
    bus = bus or make_amqp_bus(settings, registry)
    deps = StrategyDeps(build_engine(settings), bus, clock or LiveClock(), f"strategy@{settings.instance_id}")
    topo = bus.topology
    market = bind_handlers(MARKET_HANDLERS, deps)
    subscriptions = [Subscription(topo.partition_queue(p), market, settings.prefetch) for p in range(topo.partitions)]
    subscriptions.append(Subscription(topo.queue("strategy", "fills"), bind_handlers(FILL_HANDLERS, deps),
                                      settings.prefetch))
    return ServiceApp("strategy", bus, subscriptions, registry=registry, declare_suite=True)
