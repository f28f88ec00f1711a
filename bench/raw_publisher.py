"""The raw aio-pika publisher that the benches hold tradebus against: persistent JSON, mandatory, confirmed.

``bench.bus_overhead`` and ``bench.pipeline.raw`` both publish this way, so their references do the same wire
work: a channel with publisher confirms on which a returned (unroutable) message raises, a compact JSON body with
``content_type`` and persistent delivery, ``mandatory``, and a wait for the broker's confirm.
"""

from __future__ import annotations

import json
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange, DeliveryMode

CONFIRM_TIMEOUT = 10.0
"""Seconds a publish waits for the broker's confirm before it fails."""


async def confirm_channel(connection: AbstractConnection) -> AbstractChannel:
    """Open a publishing channel on ``connection``: publisher confirms on, a returned message raises."""
    return await connection.channel(publisher_confirms=True, on_return_raises=True)


async def publish_json(exchange: AbstractExchange, routing_key: str, payload: dict[str, Any],
                       **properties: Any) -> None:
    """Publish ``payload`` as persistent JSON, mandatory, and wait for the broker's confirm.

    ``properties`` are further message properties (``message_id``, ``correlation_id``, ``type``).
    """
    body = json.dumps(payload, separators=(",", ":")).encode()
    message = aio_pika.Message(body, content_type="application/json", delivery_mode=DeliveryMode.PERSISTENT,
                               **properties)
    await exchange.publish(message, routing_key, mandatory=True, timeout=CONFIRM_TIMEOUT)
