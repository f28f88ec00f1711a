"""The deployment's users and rights, applied to a throwaway vhost on the real broker: legitimate traffic passes,
everything else is refused by the broker itself (ACCESS_REFUSED, 403)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pika
import pytest
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ChannelClosedByBroker, ProbableAccessDeniedError

from deploy.broker_access import INBOXES, SERVICES, consumed_queues, inbox_prefix
from shared.contracts import CancelOrder, OrderFilled, RequestBarHistory, SubmitOrder
from shared.messaging.topology import (
    MARKET_PARTITIONS,
    PARTITION_HEADER,
    PER_INSTANCE_TYPES,
    PUBLISHERS,
    ROUTES,
    partition_of,
)

from .throwaway_broker import ThrowawayBroker, throwaway_broker

pytestmark = pytest.mark.integration

SYMBOL = "ORCL"
ACCESS_REFUSED = 403


@pytest.fixture(scope="module")
def broker(broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrowawayBroker]:
    broker = throwaway_broker(broker_url, tmp_path_factory.mktemp("broker"))
    yield broker
    broker.close()


@pytest.fixture(scope="module")
def connections(broker: ThrowawayBroker) -> Iterator[dict[str, pika.BlockingConnection]]:
    opened = {service: broker.connect(service) for service in SERVICES}
    yield opened
    for connection in opened.values():
        if connection.is_open:
            connection.close()


def type_name(message_type: type) -> str:
    return message_type.model_fields["type"].default


Action = Callable[[BlockingChannel], Any]


def publish(broker: ThrowawayBroker, message_type: type, routing_symbol: str = SYMBOL) -> Action:
    """Return an action publishing a (confirmed, mandatory) ``message_type`` the way the bus addresses it."""
    exchange, routing_key = broker.topology.address_of(type_name(message_type), routing_symbol)
    headers = {PARTITION_HEADER: partition_of(routing_symbol, MARKET_PARTITIONS)}
    properties = pika.BasicProperties(type=type_name(message_type), headers=headers, delivery_mode=2)
    return lambda channel: channel.basic_publish(exchange, routing_key, b"{}", properties, mandatory=True)


def read(queue: str) -> Action:
    """Return an action consuming from ``queue`` as a service does (basic.get is not for quorum SAC queues)."""
    def consume(channel: BlockingChannel) -> None:
        channel.basic_cancel(channel.basic_consume(queue, lambda *_: None))

    return consume


def refusal(connection: pika.BlockingConnection, action: Action) -> str | None:
    """Run ``action`` on a fresh confirming channel; return the broker's refusal text, or ``None`` if it passed."""
    channel = connection.channel()
    channel.confirm_delivery()
    try:
        action(channel)
    except ChannelClosedByBroker as closed:
        if closed.reply_code != ACCESS_REFUSED:
            raise
        return closed.reply_text
    channel.close()
    return None


# -- legitimate traffic ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("service", SERVICES)
def test_a_service_looks_up_every_exchange_and_its_queues_without_any_configure_right(broker, connections, service):
    topology = broker.topology
    exchanges = (*topology.topic_exchanges(), topology.partitioned_market_exchange, topology.dead_letter_exchange)

    def look_up(channel: BlockingChannel) -> None:
        for exchange in exchanges:
            channel.exchange_declare(exchange, passive=True)
        for spec in consumed_queues(topology, service):
            channel.queue_declare(spec.name, passive=True)

    assert refusal(connections[service], look_up) is None


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_publishes_every_event_it_owns_and_the_broker_routes_it(broker, connections, service):
    # per-instance types reach inboxes only, so they are unroutable while no worker listens: tested with an inbox
    for message_type in (t for t in PUBLISHERS[service] if t not in PER_INSTANCE_TYPES):
        assert refusal(connections[service], publish(broker, message_type)) is None, message_type


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_reads_its_own_queues_and_dead_letters_into_them(broker, connections, service):
    topology = broker.topology
    for spec in consumed_queues(topology, service):
        assert refusal(connections[service], read(spec.name)) is None, spec.name
        dead_letter = lambda channel, queue=spec.name: channel.basic_publish(  # noqa: E731
            topology.dead_letter_exchange, queue, b"{}", pika.BasicProperties(delivery_mode=2), mandatory=True)
        assert refusal(connections[service], dead_letter) is None, spec.name


@pytest.mark.parametrize("service", sorted(INBOXES))
def test_a_service_declares_binds_and_consumes_its_own_inbox(broker, connections, service):
    topology = broker.topology
    for inbox in INBOXES[service]:
        spec = topology.instance_queue(service, inbox.purpose, "worker-1", topology.bind(*inbox.receives))

        def declare_and_consume(channel: BlockingChannel, spec=spec) -> None:
            channel.queue_declare(spec.name, durable=False, exclusive=True, auto_delete=True,
                                  arguments=spec.arguments())
            for binding in spec.bindings:
                channel.queue_bind(spec.name, binding.exchange, binding.pattern)
            channel.basic_consume(spec.name, lambda *_: None)

        assert refusal(connections[service], declare_and_consume) is None


def test_history_replies_and_heartbeats_reach_an_inbox(broker, connections):
    topology = broker.topology
    (inbox,) = INBOXES["strategy"]
    spec = topology.instance_queue("strategy", inbox.purpose, "worker-2", topology.bind(*inbox.receives))
    channel = connections["strategy"].channel()
    channel.queue_declare(spec.name, durable=False, exclusive=True, auto_delete=True, arguments=spec.arguments())
    for binding in spec.bindings:
        channel.queue_bind(spec.name, binding.exchange, binding.pattern)
    try:
        by_type = {t.__name__: t for service in SERVICES for t in PUBLISHERS[service]}
        assert refusal(connections["data"], publish(broker, by_type["BarHistoryProvided"], "worker-2")) is None
        assert refusal(connections["strategy"], publish(broker, by_type["WorkerHeartbeatSent"], "group-a")) is None
        assert channel.queue_declare(spec.name, passive=True).method.message_count == 2
    finally:
        channel.close()


# -- refusals ----------------------------------------------------------------------------------------------------
def test_strategy_publishing_a_fill_is_refused(broker, connections):
    assert refusal(connections["strategy"], publish(broker, OrderFilled)) is not None


def test_strategy_reading_the_execution_queue_is_refused(broker, connections):
    queue = broker.topology.queue("execution", "signals").name

    assert "access to queue" in refusal(connections["strategy"], read(queue))


def test_strategy_may_not_submit_orders_although_it_may_write_commands(broker, connections):
    assert refusal(connections["strategy"], publish(broker, RequestBarHistory)) is None

    assert "access to topic" in refusal(connections["strategy"], publish(broker, SubmitOrder))


def test_portfolio_may_submit_its_own_orders_but_not_cancel_orders_or_request_history(broker, connections):
    assert refusal(connections["portfolio"], publish(broker, SubmitOrder)) is None

    assert "access to topic" in refusal(connections["portfolio"], publish(broker, CancelOrder))
    assert "access to topic" in refusal(connections["portfolio"], publish(broker, RequestBarHistory))


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_publish_nothing_it_does_not_own(broker, connections, service):
    passed = [t.__name__ for t in ROUTES if t not in PUBLISHERS[service]
              if refusal(connections[service], publish(broker, t)) is None]

    assert passed == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_read_no_other_queue_and_no_dead_letter_queue(broker, connections, service):
    topology = broker.topology
    own = {spec.name for spec in consumed_queues(topology, service)}
    others = [name for name in topology.durable_queue_names() if name not in own]

    passed = [queue for queue in others if refusal(connections[service], read(queue)) is None]

    assert passed == []


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_may_not_change_the_topology(broker, connections, service):
    topology = broker.topology
    own = consumed_queues(topology, service)[0].name
    actions = {
        "declare an exchange": lambda ch: ch.exchange_declare(f"{topology.namespace}.rogue", "topic", durable=True),
        "delete an exchange": lambda ch: ch.exchange_delete(topology.exchange("order")),
        "declare a queue": lambda ch: ch.queue_declare(f"{topology.namespace}.{service}.rogue", durable=True),
        "delete its own queue": lambda ch: ch.queue_delete(own),
        "bind its own queue elsewhere": lambda ch: ch.queue_bind(own, topology.exchange("order"), "order.#"),
        "bind an exchange to another": lambda ch: ch.exchange_bind(topology.exchange("signal"),
                                                                    topology.exchange("market")),
    }

    passed = [what for what, action in actions.items() if refusal(connections[service], action) is None]

    assert passed == []


def test_strategy_may_not_bind_its_inbox_to_what_it_does_not_receive(broker, connections):
    topology = broker.topology
    (inbox,) = INBOXES["strategy"]
    name = inbox_prefix(topology, "strategy", inbox) + "worker-3"

    def bind_signals(channel: BlockingChannel) -> None:
        channel.queue_declare(name, durable=False, exclusive=True, auto_delete=True)
        channel.queue_bind(name, topology.exchange("order"), "order.rejected.*")

    assert "access to topic" in refusal(connections["strategy"], bind_signals)


def test_the_monitor_user_cannot_even_open_the_vhost(broker):
    with pytest.raises((ProbableAccessDeniedError, pika.exceptions.ConnectionClosedByBroker)):
        broker.connect("monitor")


def test_the_admin_may_do_what_operators_do(broker):
    connection = broker.connect("admin")
    try:
        dlq = broker.topology.queue("portfolio", "orders").dlq
        assert refusal(connection, read(dlq)) is None
        assert refusal(connection, publish(broker, CancelOrder)) is None
    finally:
        connection.close()
