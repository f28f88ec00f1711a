"""What the ccxt broker tests share: the local Binance emulator, a broker on it, a sink that records reports.

Fixtures are in each test module (this directory is shared with other venue tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from services.execution.adapters.ccxt_broker import CcxtBroker
from services.execution.domain.orders import Order
from services.execution.domain.reports import Report
from shared.contracts import OrderType, Side
from shared.runtime.clock import LiveClock
from tests.emulators.binance import BinanceEmulator, binance_client

BTC = "BTC/USDT"


def btc_order(**overrides: Any) -> Order:
    fields: dict[str, Any] = dict(client_order_id="c-1", strategy_id="sma_cross", symbol=BTC, side=Side.BUY,
                                  quantity=Decimal("0.1"), created_at=datetime.now(timezone.utc))
    if overrides.get("order_type") is OrderType.LIMIT and "limit_price" not in overrides:
        fields["limit_price"] = Decimal("100")
    return Order(**(fields | overrides))


class Sink:
    """Where the broker pushes reports; ``until`` waits for the report a test expects, on a signal, not a sleep."""

    def __init__(self) -> None:
        self.reports: list[Report] = []
        self._changed = asyncio.Condition()

    async def __call__(self, reports: Sequence[Report]) -> None:
        async with self._changed:
            self.reports.extend(reports)
            self._changed.notify_all()

    async def until(self, found: Callable[[Report], bool], timeout: float = 3) -> Report:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: any(found(r) for r in self.reports)), timeout)
        return next(r for r in self.reports if found(r))


def emulator() -> BinanceEmulator:
    """Return a fresh emulator (enter it with ``async with``): 10000 USDT, fees 0.1%."""
    return BinanceEmulator(balances={"USDT": "10000", "BTC": "0"}, maker_fee="0.001", taker_fee="0.001")


async def start_broker(venue: Any, sink: Sink | None = None) -> CcxtBroker:
    broker = CcxtBroker(binance_client(venue, timeout=1000), [BTC], clock=LiveClock(), poll_interval_s=0.05)
    if sink is not None:
        broker.set_report_sink(sink)
    await broker.connect()
    return broker


