"""TLS for AMQP: the dev certificates script makes certificates a client verifies, and the services' client
(aio-pika, with the URL form the TLS compose override uses) connects through them to the broker."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import pytest

from shared.messaging.urls import with_heartbeat

from .support import DEPLOY, TLS_OVERRIDE, require_tool, run

MAKE_CERTS = DEPLOY / "tls" / "make-dev-certs.sh"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("openssl")
    directory = tmp_path_factory.mktemp("tls")
    result = run("sh", str(MAKE_CERTS), str(directory))
    assert result.returncode == 0, result.stderr
    return directory


def test_the_broker_tls_config_names_the_files_the_script_makes(certs):
    conf = (DEPLOY / "rabbitmq" / "tls.conf").read_text()
    files = dict(re.findall(r"^ssl_options\.(\w+) = /etc/rabbitmq/tls/(\S+)$", conf, re.M))

    assert files == {"cacertfile": "ca.pem", "certfile": "server.pem", "keyfile": "server-key.pem"}
    assert all((certs / name).is_file() for name in files.values())
    assert re.search(r"^listeners\.ssl\.default = 5671$", conf, re.M)
    assert "/etc/rabbitmq/tls:ro" in TLS_OVERRIDE.read_text()


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def tls_broker(certs: Path, broker_url: str) -> AsyncIterator[int]:
    """Yield the port of a TLS endpoint (the dev server certificate) in front of the test broker."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs / "server.pem", certs / "server-key.pem")
    broker = urlsplit(broker_url)

    async def forward(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        reader, writer = await asyncio.open_connection(broker.hostname, broker.port or 5672)
        await asyncio.gather(pipe(client_reader, writer), pipe(reader, client_writer))

    server = await asyncio.start_server(forward, "127.0.0.1", 0, ssl=context)
    yield server.sockets[0].getsockname()[1]
    server.close()


@pytest.mark.integration
async def test_a_service_s_client_connects_over_tls_verifying_the_broker_with_the_ca(tls_broker, certs, broker_url):
    credentials = urlsplit(broker_url).netloc.rsplit("@", 1)[0]
    url = f"amqps://{credentials}@localhost:{tls_broker}/?cafile={certs / 'ca.pem'}"

    connection = await aio_pika.connect(with_heartbeat(url, 30), timeout=10)
    try:
        channel = await connection.channel()
        assert not channel.is_closed
    finally:
        await connection.close()


@pytest.mark.integration
async def test_a_client_refuses_a_broker_its_ca_did_not_sign(tls_broker, tmp_path, broker_url):
    other = tmp_path / "other"
    assert run("sh", str(MAKE_CERTS), str(other)).returncode == 0
    credentials = urlsplit(broker_url).netloc.rsplit("@", 1)[0]
    url = f"amqps://{credentials}@localhost:{tls_broker}/?cafile={other / 'ca.pem'}"

    with pytest.raises((ssl.SSLError, ConnectionError, aio_pika.exceptions.AMQPConnectionError)):
        await aio_pika.connect(url, timeout=10)
