"""Run a service's composition on an in-memory bus in a test, and watch what it publishes."""

from __future__ import annotations

from shared.contracts import Message
from shared.messaging.bus import Subscription
from shared.messaging.memory import InMemoryBus
from shared.runtime.service import ServiceApp


async def start_in_memory(app: ServiceApp, bus: InMemoryBus) -> None:
    """Declare the whole suite's queues on ``bus`` and subscribe ``app``'s handlers."""
    for spec in bus.topology.suite_queues():
        await bus.declare(spec)
    for subscription in app.subscriptions:
        await bus.subscribe(subscription)


async def watch(bus: InMemoryBus, *types: type[Message]) -> list[Message]:
    """Return a list that collects every message of ``types`` published on ``bus`` from now on."""
    seen: list[Message] = []

    async def record(message: Message) -> None:
        seen.append(message)

    topo = bus.topology
    queue = topo.service_queue("test", "watch", topo.bind(*types))
    await bus.subscribe(Subscription(queue, {t: record for t in types}))
    return seen
