"""The ccxt broker on Binance's spot testnet: runs only with BINANCE_TESTNET_API_KEY and BINANCE_TESTNET_SECRET set."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from decimal import ROUND_DOWN, Decimal

import pytest

from services.execution.adapters.ccxt_broker import CcxtBroker
from services.execution.domain.orders import Order
from services.execution.domain.reports import Accepted
from shared.contracts import OrderType, Side
from shared.runtime.clock import LiveClock
from shared.venues import VenueSettings, open_exchange

SYMBOL = "BTC/USDT"


@pytest.fixture
def keys() -> tuple[str, str]:
    key, secret = os.environ.get("BINANCE_TESTNET_API_KEY"), os.environ.get("BINANCE_TESTNET_SECRET")
    if not key or not secret:
        pytest.skip("set BINANCE_TESTNET_API_KEY and BINANCE_TESTNET_SECRET to run against Binance's spot testnet")
    return key, secret


async def test_a_tiny_limit_order_far_from_the_market_is_placed_and_canceled(keys: tuple[str, str]) -> None:
    key, secret = keys
    exchange = open_exchange(VenueSettings(exchange="binance", mode="sandbox", api_key=key, secret=secret),
                             private=True)
    broker = CcxtBroker(exchange, [SYMBOL], clock=LiveClock())
    await broker.connect()
    try:
        ticker = await exchange.fetch_ticker(SYMBOL)
        price = (Decimal(str(ticker["last"])) / 2).quantize(Decimal("0.01"), ROUND_DOWN)  # far below: never fills
        quantity = (Decimal(12) / price).quantize(Decimal("0.00001"), ROUND_DOWN)  # just above the 5-10 USDT minimum
        client_id = str(uuid.uuid4())
        order = Order(client_order_id=client_id, strategy_id="testnet", symbol=SYMBOL, side=Side.BUY,
                      quantity=quantity, created_at=datetime.now(timezone.utc), order_type=OrderType.LIMIT,
                      limit_price=price)

        (accepted,) = await broker.submit(order)
        assert isinstance(accepted, Accepted)
        assert client_id in [o.client_order_id for o in await broker.open_orders()]

        await broker.cancel(client_id)
        (after,) = await broker.orders([client_id])
        assert after.status.value == "canceled"
    finally:
        await broker.close()
