"""Fixtures shared by every test: a real broker for integration tests, per-test namespaces that clean up."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pika
import pytest

from shared.messaging.topology import Topology

LOCAL_BROKER = "amqp://guest:guest@localhost:5672/"
HOW_TO_GET_A_BROKER = (
    "Integration tests need RabbitMQ and none answered. Start the local one with `rabbitmq-server -detached` "
    "(Debian: `apt-get install rabbitmq-server`), point AMQP_URL at a running broker, or run where Docker "
    "works so testcontainers can start one. `bash .ci/run` does all of this for you."
)


def _answers(url: str) -> bool:
    try:
        params = pika.URLParameters(url)
        params.socket_timeout = 10  # a busy 2-core machine can be slow to finish the handshake
        params.connection_attempts = 3
        params.retry_delay = 1
        pika.BlockingConnection(params).close()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


def _docker_works() -> bool:
    docker = shutil.which("docker")
    return docker is not None and subprocess.run([docker, "info"], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def broker_url() -> Iterator[str]:
    """Yield the URL of a real RabbitMQ: $AMQP_URL, else the local broker, else a testcontainers one; else fail."""
    explicit = os.environ.get("AMQP_URL")
    for url in filter(None, (explicit, None if explicit else LOCAL_BROKER)):
        if _answers(url):
            yield url
            return
    if _docker_works():
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:3.13-management") as container:
            params = container.get_connection_params()
            yield f"amqp://guest:guest@{params.host}:{params.port}/"
            return
    pytest.fail(HOW_TO_GET_A_BROKER, pytrace=False)


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    """Return a namespace no other test uses, so each test has its own exchanges and queues."""
    return f"t{uuid.uuid4().hex[:8]}-{request.node.name[:40]}".replace("[", "-").replace("]", "")


@pytest.fixture
def topology(namespace: str) -> Topology:
    return Topology(namespace, delivery_limit=3)


def delete_namespace(url: str, topology: Topology, queues: set[str]) -> None:
    """Delete ``queues`` and every exchange of ``topology`` from the broker at ``url``."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for queue in sorted(queues):
            channel.queue_delete(queue)
        for exchange in (*topology.topic_exchanges(), topology.partitioned_market_exchange,
                         topology.dead_letter_exchange):
            channel.exchange_delete(exchange)
    finally:
        connection.close()


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give a test its own sys.path and forget the modules it loaded (tests that load strategy files)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]
