"""Contract: a publish nobody can receive raises instead of vanishing, and the bus keeps publishing after it."""

from __future__ import annotations

import pytest

from shared.contracts import BarClosed, TradeTicked, encode
from shared.messaging.bus import Subscription
from shared.messaging.errors import PublishFailed

from .harness import BusHarness, Recorder, bar, service_queue


async def test_publish_without_a_matching_queue_raises_publish_failed(harness: BusHarness) -> None:
    await harness.bus.declare(service_queue(harness.topology, "trades", *harness.topology.bind(TradeTicked)))

    with pytest.raises(PublishFailed, match="unroutable"):
        await harness.bus.publish(bar())


async def test_raw_publish_without_a_matching_queue_raises_publish_failed(harness: BusHarness) -> None:
    exchange, routing_key = harness.topology.address_of("SignalGenerated", "ORCL")

    with pytest.raises(PublishFailed, match="unroutable"):
        await harness.bus.publish_raw(exchange, routing_key, b"{}", type_name="SignalGenerated")


@pytest.mark.parametrize("exchange", ["signal", "missing"], ids=["unroutable_key", "missing_exchange"])
async def test_bus_keeps_publishing_after_a_failed_publish(harness: BusHarness, exchange: str) -> None:
    target = harness.topology.exchange(exchange) if exchange == "signal" else f"{harness.topology.namespace}.nowhere"
    spec = service_queue(harness.topology, "bars", *harness.topology.bind(BarClosed))
    recorder = Recorder()
    await harness.bus.subscribe(Subscription(spec, {BarClosed: recorder}))
    with pytest.raises(PublishFailed):
        await harness.bus.publish_raw(target, "signal.generated.ORCL", encode(bar()), type_name="BarClosed")

    message = bar()
    await harness.bus.publish(message)

    assert await recorder.wait_for(1) == [message]
