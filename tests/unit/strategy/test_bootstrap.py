"""The strategy service wires one worker owning every partition, or a member of a worker group."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.strategy.adapters import WorkerGroup
from services.strategy.bootstrap import bootstrap, inbox_queue
from services.strategy.settings import StrategySettings
from shared.contracts import BarHistoryProvided, WorkerHeartbeatSent
from shared.messaging.amqp import AmqpBus
from shared.messaging.errors import PublishFailed
from shared.messaging.memory import InMemoryBus
from shared.messaging.topology import Topology

from .factories import START, make_fill


def settings(**values) -> StrategySettings:  # type: ignore[no-untyped-def]
    return StrategySettings.isolated(instance_id="w1", namespace="ns", **values)


def test_on_the_in_memory_bus_one_worker_consumes_every_partition_and_its_fills():
    app = bootstrap(settings(), bus=InMemoryBus(Topology("ns")))

    queues = [s.queue.name for s in app.subscriptions]

    assert queues == [*(f"ns.strategy.market.p{p:02d}" for p in range(16)), "ns.strategy.inbox.w1"]
    assert app.tasks == () and app.health_details() == {"membership": "static"}


def test_over_rabbitmq_a_worker_joins_the_group_and_subscribes_nothing_before_it_knows_its_share():
    app = bootstrap(settings(), bus=AmqpBus("amqp://nowhere/", topology=Topology("ns")))

    assert app.subscriptions == () and len(app.on_start) == 1 and len(app.tasks) == 2
    assert isinstance(app.deps, WorkerGroup)
    assert app.health_details()["members"] == ["w1"]


def test_static_membership_can_be_asked_for_over_rabbitmq():
    app = bootstrap(settings(membership="static"), bus=AmqpBus("amqp://nowhere/", topology=Topology("ns")))

    assert len(app.subscriptions) == 17


def test_a_group_member_inbox_gets_its_groups_heartbeats_its_own_replies_and_every_fill():
    topology = Topology("ns")

    inbox = inbox_queue(topology, "w1", dynamic=True)

    patterns = {(b.exchange, b.pattern) for b in inbox.bindings}
    assert patterns == {("ns.order", "order.filled.*"), ("ns.control", "control.heartbeat.strategy"),
                        ("ns.control", "control.history.w1")}
    assert inbox.mode == "per_instance"


def test_the_heartbeat_must_be_heard_at_least_twice_before_a_worker_counts_as_gone():
    with pytest.raises(ValidationError):
        settings(heartbeat_interval_s=1.0, member_timeout_s=1.5)


async def test_an_inbox_receives_heartbeats_of_its_group_replies_to_its_worker_and_fills():
    topology = Topology("ns")
    bus = InMemoryBus(topology)
    for worker in ("w1", "w2"):
        await bus.declare(inbox_queue(topology, worker, dynamic=True))
    await bus.declare(topology.queue("portfolio", "orders"))

    for message in (heartbeat("w2", "strategy"), reply("w2"), reply("w1"), make_fill("s")):
        await bus.publish(message)

    received = [(type(d.message).__name__, d.routing_key) for d in bus.queued("ns.strategy.inbox.w1")]
    assert received == [("WorkerHeartbeatSent", "control.heartbeat.strategy"),
                        ("BarHistoryProvided", "control.history.w1"), ("OrderFilled", "order.filled.ORCL")]
    with pytest.raises(PublishFailed):  # no inbox listens to another group's heartbeats
        await bus.publish(heartbeat("p1", "pricing"))


def heartbeat(worker: str, group: str) -> WorkerHeartbeatSent:
    return WorkerHeartbeatSent(ts_event=START, ts_init=START, source=worker, group=group, worker=worker, sequence=0)


def reply(requester: str) -> BarHistoryProvided:
    return BarHistoryProvided(ts_event=START, ts_init=START, source="data", symbol="ORCL", timeframe="1d",
                              requester=requester)
