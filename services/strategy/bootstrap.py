"""Composition root of the strategy service."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from shared.contracts import BarHistoryProvided, OrderFilled, WorkerHeartbeatSent
from shared.messaging.bus import MessageBus, Subscription
from shared.messaging.memory import InMemoryBus
from shared.messaging.topology import QueueSpec, Topology
from shared.runtime.clock import Clock, LiveClock
from shared.runtime.service import ServiceApp, make_amqp_bus

from .adapters import HistoryClient, WorkerGroup
from .adapters.loading import prepare_strategy
from .adapters.partitions import OwnedPartition
from .adapters.worker_group import GROUP
from .domain import LoadedStrategy, StrategyEngine
from .handlers import MARKET_HANDLERS, SUBSCRIPTIONS, StrategyDeps, handle_fill
from .settings import StrategySettings


def build_specs(settings: StrategySettings) -> tuple[LoadedStrategy, ...]:
    """Return the specs of every strategy the settings name."""
    return tuple(prepare_strategy(s.id, s.name, s.params, s.symbols) for s in settings.strategies)


def build_engine(settings: StrategySettings) -> StrategyEngine:
    """Build the engine running every strategy the settings name."""
    return StrategyEngine(build_specs(settings))


def is_static(settings: StrategySettings, bus: MessageBus) -> bool:
    """Return whether this worker consumes every partition itself (see ``StrategySettings.membership``)."""
    return settings.membership == "static" or (settings.membership == "auto" and isinstance(bus, InMemoryBus))


def inbox_queue(topology: Topology, worker: str, *, dynamic: bool) -> QueueSpec:
    """Return the worker's own queue: fills, and with dynamic membership its group's heartbeats and its replies."""
    bindings = topology.bind(OrderFilled)
    if dynamic:
        bindings += topology.bind(WorkerHeartbeatSent, symbol=GROUP) + topology.bind(BarHistoryProvided, symbol=worker)
    return topology.instance_queue("strategy", "inbox", worker, bindings)


def bootstrap(settings: StrategySettings, *, bus: MessageBus | None = None, clock: Clock | None = None,
              registry: CollectorRegistry | None = None) -> ServiceApp:
    """Wire the strategy service: the market partitions it owns and its inbox into per-partition engines."""
    registry = registry or CollectorRegistry()
    bus = bus or make_amqp_bus(settings, registry)
    clock = clock or LiveClock()
    if is_static(settings, bus):
        return static_app(settings, bus, clock, registry)
    return dynamic_app(settings, bus, clock, registry)


@dataclass(frozen=True)
class SoleWorkerInbox:
    """The inbox of the only worker of a suite: fills go to its one engine; no group, no warm-ups."""

    deps: StrategyDeps

    async def fill(self, fill: OrderFilled) -> None:
        await handle_fill(fill, self.deps)

    async def heartbeat(self, beat: WorkerHeartbeatSent) -> None:
        pass  # not bound: a sole worker hears no group

    async def history(self, reply: BarHistoryProvided) -> None:
        pass  # not bound: a sole worker never warms up


@dataclass(frozen=True)
class GroupWorkerInbox:
    """The inbox of a worker sharing the partitions: fills to the owner's partition, heartbeats, history replies."""

    group: WorkerGroup
    history_client: HistoryClient

    async def fill(self, fill: OrderFilled) -> None:
        await self.group.on_fill(fill)

    async def heartbeat(self, beat: WorkerHeartbeatSent) -> None:
        await self.group.on_heartbeat(beat)

    async def history(self, reply: BarHistoryProvided) -> None:
        await self.history_client.on_reply(reply)


def static_app(settings: StrategySettings, bus: MessageBus, clock: Clock, registry: CollectorRegistry) -> ServiceApp:
    """Return a worker that consumes every partition with one engine: the only worker of its suite."""
    deps = StrategyDeps(build_engine(settings), bus, clock, f"strategy@{settings.instance_id}")
    topo = bus.topology
    market, inbox = SUBSCRIPTIONS["market"], SUBSCRIPTIONS["inbox"]
    subscriptions = [market.subscription(topo.partition_queue(p), deps, settings.prefetch)
                     for p in range(topo.partitions)]
    subscriptions.append(Subscription(inbox_queue(topo, settings.instance_id, dynamic=False),
                                      {OrderFilled: inbox.handlers[OrderFilled]}, settings.prefetch,
                                      inbox.on_unexpected, SoleWorkerInbox(deps)))
    return ServiceApp("strategy", bus, subscriptions, registry=registry, declare_suite=True, deps=deps,
                      health_details=lambda: {"membership": "static"})


def dynamic_app(settings: StrategySettings, bus: MessageBus, clock: Clock, registry: CollectorRegistry) -> ServiceApp:
    """Return a worker that shares the partitions with the namespace's other workers (see ``WorkerGroup``)."""
    worker, source, specs = settings.instance_id, f"strategy@{settings.instance_id}", build_specs(settings)
    history = HistoryClient(bus, clock, worker, count=settings.warmup_bars, timeout=settings.warmup_timeout_s)

    def new_partition(number: int) -> OwnedPartition:
        return OwnedPartition(number, lambda: StrategyDeps(StrategyEngine(specs), bus, clock, source),
                              history.bars_before, MARKET_HANDLERS, handle_fill)

    group = WorkerGroup(bus, clock, worker, new_partition, interval=settings.heartbeat_interval_s,
                        timeout=settings.member_timeout_s, prefetch=settings.prefetch)
    inbox = SUBSCRIPTIONS["inbox"].subscription(inbox_queue(bus.topology, worker, dynamic=True),
                                                GroupWorkerInbox(group, history), settings.prefetch)

    async def join() -> None:
        await group.join(inbox, settle=2 * settings.heartbeat_interval_s)  # two beats: every live member heard

    async def heartbeats() -> None:
        await group.beat_forever()

    async def rebalancing() -> None:
        await group.rebalance_forever()

    async def leave() -> None:
        history.abandon()
        await group.leave()

    def health() -> dict[str, object]:
        return {"membership": "dynamic", "worker": worker, "members": sorted(group.members()),
                "partitions": sorted(group.owned)}

    return ServiceApp("strategy", bus, (), tasks=[heartbeats, rebalancing], on_start=[join], on_stop=[leave],
                      registry=registry, declare_suite=True, deps=group, health_details=health)
