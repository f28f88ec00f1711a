import asyncio
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest
from prometheus_client import CollectorRegistry
from pydantic_settings import SettingsConfigDict

from shared.contracts import BarClosed
from shared.messaging.bus import Subscription
from shared.messaging.context import current_correlation_id
from shared.messaging.memory import InMemoryBus
from shared.messaging.topology import Topology
from shared.messaging.urls import redact_url
from shared.runtime.clock import LiveClock, SimulatedClock
from shared.runtime.http import ObservabilityServer
from shared.runtime.logs import JsonFormatter
from shared.runtime.metrics import PrometheusBusMetrics
from shared.runtime.service import ServiceApp, ServiceRunner
from shared.runtime.settings import ServiceSettings
from tests.factories import bar


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRADEBUS_DEMO_")
    service_name: str = "demo"


def test_settings_read_the_service_prefix_and_fall_back_to_amqp_url(monkeypatch):
    monkeypatch.setenv("AMQP_URL", "amqp://u:secret@broker:5672/")
    monkeypatch.setenv("TRADEBUS_DEMO_PREFETCH", "7")
    settings = DemoSettings()
    assert settings.prefetch == 7
    assert settings.amqp_url.get_secret_value() == "amqp://u:secret@broker:5672/"
    monkeypatch.setenv("TRADEBUS_DEMO_AMQP_URL", "amqp://v:other@elsewhere/")
    assert DemoSettings().amqp_url.get_secret_value() == "amqp://v:other@elsewhere/"


def test_settings_never_show_the_broker_password(monkeypatch):
    monkeypatch.setenv("AMQP_URL", "amqp://u:secret@broker:5672/")
    settings = DemoSettings()
    assert "secret" not in repr(settings) and "secret" not in str(settings.public_dict())
    assert redact_url("amqp://u:secret@host/") == "amqp://u:***@host/"


def test_settings_are_frozen_and_validated(monkeypatch):
    monkeypatch.setenv("TRADEBUS_DEMO_PREFETCH", "0")
    with pytest.raises(ValueError):
        DemoSettings()


def test_simulated_clock_moves_only_forward_and_only_in_utc():
    clock = SimulatedClock(datetime(2020, 1, 1, tzinfo=timezone.utc))
    clock.advance(timedelta(minutes=1))
    assert clock.now() == datetime(2020, 1, 1, 0, 1, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(datetime(2019, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2021, 1, 1))
    assert LiveClock().now().tzinfo is timezone.utc


def test_json_logs_carry_service_and_correlation_id():
    formatter = JsonFormatter("portfolio", "host-1")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "applied %s", ("fill",), None)
    token = current_correlation_id.set("abc")
    try:
        entry = json.loads(formatter.format(record))
    finally:
        current_correlation_id.reset(token)
    assert entry["service"] == "portfolio" and entry["correlation_id"] == "abc" and entry["msg"] == "applied fill"
    assert entry["ts"].endswith("+00:00")


async def _get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    response = await reader.read()
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


async def test_metrics_and_health_are_served_over_http():
    registry = CollectorRegistry()
    metrics = PrometheusBusMetrics(registry, "demo")
    metrics.consumed("BarClosed", "ack").inc()
    healthy = {"status": "ok", "broker_connected": True}
    server = ObservabilityServer(registry, lambda: healthy, "127.0.0.1", 0)
    port = await server.start()
    try:
        status, body = await _get(port, "/metrics")
        assert status == 200
        assert b'tradebus_events_consumed_total{outcome="ack",service="demo",type="BarClosed"} 1.0' in body
        assert (await _get(port, "/health"))[0] == 200
        healthy.update(status="degraded", broker_connected=False)
        status, body = await _get(port, "/health")
        assert status == 503 and json.loads(body)["broker_connected"] is False
        assert (await _get(port, "/nope"))[0] == 404
    finally:
        await server.close()


async def test_runner_consumes_then_stops_after_finishing_the_message_in_hand():
    topo = Topology("ns")
    bus = InMemoryBus(topo, strict=True)
    seen: list[BarClosed] = []

    async def on_bar(message: BarClosed) -> None:
        seen.append(message)

    queue = topo.service_queue("demo", "market", topo.bind(BarClosed))
    runner = ServiceRunner(ServiceApp("demo", bus, [Subscription(queue, {BarClosed: on_bar})]))
    await runner.start()
    await bus.publish(bar())
    await bus.drain()
    await runner.stop()
    assert [m.symbol for m in seen] == ["ORCL"]


async def test_runner_reports_a_failed_background_task():
    async def broken() -> None:
        raise RuntimeError("feed died")

    runner = ServiceRunner(ServiceApp("demo", InMemoryBus(), tasks=[broken]))
    await runner.start()
    error = await asyncio.wait_for(runner.wait_failure(), 2)
    assert "feed died" in str(error)
    await runner.stop()
