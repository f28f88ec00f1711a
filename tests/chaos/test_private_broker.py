"""The private node is a broker of its own, apart from the shared one: tests may stop, restart and break it."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator

import pika
import pytest
from pika.exceptions import AMQPConnectionError, ChannelClosedByBroker, ConnectionClosedByBroker

from .private_broker import PrivateBroker

pytestmark = pytest.mark.integration

SHARED_BROKER = "amqp://guest:guest@127.0.0.1:5672/"
NOT_FOUND = 404
CONNECTION_FORCED = 320


def connect(url: str) -> pika.BlockingConnection:
    params = pika.URLParameters(url)
    params.socket_timeout = 10  # a busy 2-core machine can be slow to finish the handshake
    return pika.BlockingConnection(params)


@pytest.fixture
def connection(private_broker: PrivateBroker) -> Iterator[pika.BlockingConnection]:
    connection = connect(private_broker.url)
    yield connection
    if connection.is_open:
        connection.close()


def test_the_node_answers_on_its_own_port_and_is_not_the_shared_broker(
        private_broker: PrivateBroker, connection: pika.BlockingConnection) -> None:
    queue = f"tbchaos-probe-{uuid.uuid4().hex[:8]}"
    connection.channel().queue_declare(queue, auto_delete=True)

    assert private_broker.url != SHARED_BROKER
    assert queue in private_broker.ctl("-q", "list_queues", "name").split()
    try:
        shared = connect(SHARED_BROKER)
    except AMQPConnectionError:
        pytest.skip("no shared broker answers on 127.0.0.1:5672, so there is none to tell apart")
    try:
        with pytest.raises(ChannelClosedByBroker) as refused:
            shared.channel().queue_declare(queue, passive=True)
        assert refused.value.reply_code == NOT_FOUND
    finally:
        shared.close()


def test_a_persistent_message_in_a_quorum_queue_survives_stop_app_and_start_app(
        private_broker: PrivateBroker) -> None:
    queue = f"tbchaos-durable-{uuid.uuid4().hex[:8]}"
    body = uuid.uuid4().bytes
    publisher = connect(private_broker.url)
    channel = publisher.channel()
    channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
    channel.confirm_delivery()
    channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent))
    publisher.close()

    private_broker.stop_app()
    try:
        assert not private_broker.answers()
    finally:
        private_broker.start_app()

    consumer = connect(private_broker.url)
    try:
        assert get_within(consumer, queue, timeout=30.0) == body
        consumer.channel().queue_delete(queue)
    finally:
        consumer.close()


def get_within(connection: pika.BlockingConnection, queue: str, timeout: float) -> bytes | None:
    """Return the body of the first message of ``queue``, polling while its quorum restarts; None if none came."""
    channel = connection.channel()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, _, body = channel.basic_get(queue, auto_ack=True)
        if body is not None:
            return body
        time.sleep(0.2)
    return None


def test_close_all_connections_closes_an_open_client_connection(
        private_broker: PrivateBroker, connection: pika.BlockingConnection) -> None:
    private_broker.close_all_connections("chaos test")

    deadline = time.monotonic() + 15
    with pytest.raises(ConnectionClosedByBroker) as closed:
        while time.monotonic() < deadline:
            connection.process_data_events(time_limit=0.2)
    assert closed.value.reply_code == CONNECTION_FORCED
    assert "chaos test" in closed.value.reply_text
    assert connection.is_closed


def test_stop_is_idempotent_and_leaves_no_beam_of_the_node(private_broker: PrivateBroker) -> None:
    try:
        private_broker.stop()
        private_broker.stop()

        assert not private_broker.answers()
        left = subprocess.run(["pgrep", "-af", private_broker.node], capture_output=True, text=True).stdout
        assert left == "", f"processes of {private_broker.node} still run:\n{left}"
    finally:
        private_broker.start()  # the node can boot again from its data, for whichever test runs next
