"""The whole execution path on the ccxt broker: a command through the real composition root, to events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest

from services.execution.adapters.sqlite_store import SqliteOrderStore
from services.execution.bootstrap import bootstrap
from services.execution.settings import ExecutionSettings
from shared.contracts import OrderAccepted, OrderFilled
from shared.messaging.memory import InMemoryBus
from shared.messaging.topology import Topology
from shared.runtime.clock import LiveClock
from tests.factories import submit_order
from tests.wiring import start_in_memory, watch

from ._ccxt_kit import BTC, emulator, start_broker


@pytest.fixture
async def venue() -> AsyncIterator[Any]:
    async with emulator() as venue:
        await venue.quote(BTC, "100", "101", "5", "5")
        yield venue


async def test_a_submit_order_command_becomes_accepted_and_filled_events(venue, tmp_path) -> None:
    bus = InMemoryBus(Topology("venue"), strict=True)
    broker = await start_broker(venue)
    app = bootstrap(ExecutionSettings.isolated(instance_id="venue", state_dir=tmp_path), bus=bus,
                    clock=LiveClock(), store=SqliteOrderStore(), broker=broker)
    await start_in_memory(app, bus)
    seen = await watch(bus, OrderAccepted, OrderFilled)
    now = datetime.now(timezone.utc)

    await bus.publish(submit_order(client_order_id="flow-1", symbol=BTC, quantity=Decimal("0.1"), ts_event=now,
                                   ts_init=now))
    await bus.drain()
    await broker.close()

    accepted, filled = seen
    assert isinstance(accepted, OrderAccepted) and isinstance(filled, OrderFilled)
    assert (filled.client_order_id, filled.quantity, filled.price, filled.commission) == (
        "flow-1", Decimal("0.1"), Decimal("101"), Decimal("0.0001"))
    assert filled.commission_currency == "BTC"
    assert filled.fill_id == f"binance:{venue.order('flow-1')['fills'][0]['tradeId']}"
