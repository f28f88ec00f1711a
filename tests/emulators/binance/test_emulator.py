"""The Binance emulator, driven by the real ccxt.pro client: REST, streams, faults, the standalone process."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest

from tests.emulators.binance import BinanceEmulator, binance_client

MINUTE = 60_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % MINUTE


@pytest.fixture
async def venue() -> AsyncIterator[BinanceEmulator]:
    async with BinanceEmulator(balances={"USDT": "10000", "BTC": "0"}) as emulator:
        yield emulator


@pytest.fixture
async def client(venue: BinanceEmulator) -> AsyncIterator[object]:
    exchange = binance_client(venue, timeout=3000)
    try:
        yield exchange
    finally:
        await exchange.close()


def bars(count: int, start: int = T0) -> list[tuple]:
    return [(start + i * MINUTE, 100 + i, 101 + i, 99 + i, 100.5 + i, 2) for i in range(count)]


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


# markets and public data


async def test_load_markets_gives_binance_precision_and_limits(client) -> None:
    markets = await client.load_markets()

    btc = markets["BTC/USDT"]
    assert btc["spot"] and btc["id"] == "BTCUSDT"
    assert btc["precision"]["price"] == 0.01 and btc["precision"]["amount"] == 0.00001
    assert btc["limits"]["amount"]["min"] == 0.00001 and btc["limits"]["cost"]["min"] == 5
    assert "ETH/USDT" in markets


async def test_order_book_snapshot_is_served_best_first(venue, client) -> None:
    await venue.set_book("BTC/USDT", bids=[(99, 1), (100, 2)], asks=[(102, 3), (101, 1.5)])

    book = await client.fetch_order_book("BTC/USDT")

    assert book["bids"][0] == [100.0, 2.0] and book["asks"][0] == [101.0, 1.5]
    assert book["nonce"] == venue.data["BTC/USDT"].depth.update_id


async def test_bids_asks_come_from_the_quote(venue, client) -> None:
    await venue.quote("BTC/USDT", "100.5", "100.6", "3", "4")

    tickers = await client.fetch_bids_asks(["BTC/USDT"])

    assert tickers["BTC/USDT"]["bid"] == 100.5 and tickers["BTC/USDT"]["askVolume"] == 4


async def test_fetch_ohlcv_pages_with_since_and_limit(venue, client) -> None:
    venue.load_klines("BTC/USDT", "1m", bars(30))

    first = await client.fetch_ohlcv("BTC/USDT", "1m", since=T0, limit=10)
    second = await client.fetch_ohlcv("BTC/USDT", "1m", since=first[-1][0] + MINUTE, limit=10)
    newest = await client.fetch_ohlcv("BTC/USDT", "1m", limit=5)

    assert [row[0] for row in first] == [T0 + i * MINUTE for i in range(10)]
    assert second[0][0] == T0 + 10 * MINUTE and len(second) == 10
    assert newest[-1][0] == T0 + 29 * MINUTE and len(newest) == 5
    assert first[0][1:] == [100.0, 101.0, 99.0, 100.5, 2.0]


async def test_public_trades_show_the_prints(venue, client) -> None:
    await venue.trade("BTC/USDT", "100.25", "0.5", side="sell")

    trades = await client.fetch_trades("BTC/USDT")

    assert trades[-1]["price"] == 100.25 and trades[-1]["amount"] == 0.5


# orders


async def test_market_buy_fills_at_the_ask_with_fee_in_base(venue, client) -> None:
    await venue.quote("BTC/USDT", "100", "101")

    order = await client.create_order("BTC/USDT", "market", "buy", 0.1)

    assert order["status"] == "closed" and order["filled"] == 0.1 and order["average"] == 101
    assert order["fee"] == {"currency": "BTC", "cost": 0.0001}
    assert venue.balances["USDT"] == Decimal("9989.9") and venue.balances["BTC"] == Decimal("0.0999")
    balance = await client.fetch_balance()
    assert balance["BTC"]["free"] == 0.0999


async def test_market_sell_pays_the_fee_in_quote(venue, client) -> None:
    venue.deposit("BTC", "1")
    await venue.quote("BTC/USDT", "100", "101")

    await client.create_order("BTC/USDT", "market", "sell", 0.5)

    assert venue.balances["USDT"] == Decimal("10000") + Decimal("50") - Decimal("0.05")
    assert venue.balances["BTC"] == Decimal("0.5")


async def test_limit_order_rests_locks_quote_and_fills_on_a_crossing_trade(venue, client) -> None:
    await venue.quote("BTC/USDT", "100", "101")
    order = await client.create_order("BTC/USDT", "limit", "buy", 0.1, 95, {"clientOrderId": "rest-1"})
    assert order["status"] == "open" and venue.locked["USDT"] == Decimal("9.5")

    await venue.trade("BTC/USDT", "95.5", "1")
    assert venue.order("rest-1")["status"] == "NEW"
    await venue.trade("BTC/USDT", "95", "0.04")
    assert venue.order("rest-1")["status"] == "PARTIALLY_FILLED"
    await venue.trade("BTC/USDT", "94", "1")

    record = venue.order("rest-1")
    assert record["status"] == "FILLED" and record["executedQty"] == "0.10000000"
    assert venue.locked["USDT"] == 0 and venue.balances["USDT"] == Decimal("9990.5")
    trades = await client.fetch_my_trades("BTC/USDT")
    assert [t["takerOrMaker"] for t in trades] == ["maker", "maker"] and sum(t["amount"] for t in trades) == 0.1


async def test_fetch_order_by_client_id_and_open_orders(venue, client) -> None:
    await client.create_order("BTC/USDT", "limit", "buy", 0.1, 90, {"clientOrderId": "find-me"})

    found = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "find-me"})
    open_orders = await client.fetch_open_orders("BTC/USDT")

    assert found["clientOrderId"] == "find-me" and found["status"] == "open" and found["price"] == 90
    assert [o["clientOrderId"] for o in open_orders] == ["find-me"]


async def test_cancel_order_releases_the_lock(venue, client) -> None:
    order = await client.create_order("BTC/USDT", "limit", "buy", 0.1, 90)

    canceled = await client.cancel_order(order["id"], "BTC/USDT")

    assert canceled["status"] == "canceled" and venue.locked["USDT"] == 0
    assert venue.balances["USDT"] == Decimal("10000")
    with pytest.raises(ccxt.OrderNotFound):
        await client.cancel_order(order["id"], "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        await client.fetch_order("999", "BTC/USDT")


async def test_duplicate_client_order_id_is_refused_as_invalid_order(venue, client) -> None:
    await client.create_order("BTC/USDT", "limit", "buy", 0.1, 90, {"clientOrderId": "once"})

    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        await client.create_order("BTC/USDT", "limit", "buy", 0.1, 90, {"clientOrderId": "once"})

    assert venue.orders_with("once") == 1


async def test_filter_violations_are_invalid_orders(venue, client) -> None:
    await client.load_markets()
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
        await client.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                         "quantity": "0.1", "price": "90.001"})
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        await client.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                         "quantity": "0.000001", "price": "90"})
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        await client.create_order("BTC/USDT", "limit", "buy", 0.001, 90)
    assert venue.engine.orders == {}


async def test_stop_loss_limit_rests_until_a_print_reaches_its_stop(venue, client) -> None:
    venue.deposit("BTC", "1")
    await client.create_order("BTC/USDT", "STOP_LOSS_LIMIT", "sell", 0.5, 94,
                              {"stopPrice": 95, "clientOrderId": "stop-1"})
    await venue.trade("BTC/USDT", "96", "1")
    assert venue.order("stop-1")["isWorking"] is False

    await venue.trade("BTC/USDT", "95", "1")

    record = venue.order("stop-1")
    assert record["status"] == "FILLED" and record["fills"][0]["price"] == "94.00000000"
    assert venue.balances["USDT"] == Decimal("10000") + Decimal("47") - Decimal("0.047")


async def test_ioc_that_cannot_cross_expires_and_limit_maker_that_would_is_refused(venue, client) -> None:
    await venue.quote("BTC/USDT", "100", "101")

    order = await client.create_order("BTC/USDT", "limit", "buy", 0.1, 99, {"timeInForce": "IOC"})
    assert order["status"] == "expired" and venue.locked["USDT"] == 0
    with pytest.raises(ccxt.InvalidOrder, match="immediately match"):
        await client.create_order("BTC/USDT", "limit", "buy", 0.1, 102, {"postOnly": True})


async def test_crossing_limit_takes_the_ask_and_returns_the_change(venue, client) -> None:
    await venue.quote("BTC/USDT", "100", "101")

    order = await client.create_order("BTC/USDT", "limit", "buy", 0.1, 105)

    assert order["status"] == "closed" and order["average"] == 101 and order["fee"]["cost"] == 0.0001
    assert venue.balances["USDT"] == Decimal("9989.9") and venue.locked["USDT"] == 0


async def test_ack_response_type_is_honoured(venue, client) -> None:
    await client.load_markets()
    answer = await client.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                              "timeInForce": "GTC", "quantity": "0.1", "price": "90",
                                              "newClientOrderId": "ack-1", "newOrderRespType": "ACK"})
    assert set(answer) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}


async def test_insufficient_balance_is_insufficient_funds(client) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        await client.create_order("BTC/USDT", "limit", "buy", 1, 20000)


async def test_wrong_secret_is_an_authentication_error(venue) -> None:
    intruder = binance_client(venue, secret="not-the-secret")
    try:
        with pytest.raises(ccxt.AuthenticationError):
            await intruder.fetch_balance()
    finally:
        await intruder.close()


async def test_stale_timestamp_is_invalid_nonce(venue) -> None:
    late = BinanceEmulator(clock=lambda: 1_000)  # a venue clock far behind the client's
    async with late:
        stale = binance_client(late)
        try:
            with pytest.raises(ccxt.InvalidNonce):
                await stale.fetch_balance()
        finally:
            await stale.close()


# streams


async def test_watch_orders_and_my_trades_see_a_resting_order_fill(venue, client) -> None:
    await client.load_markets()
    watching_orders = asyncio.ensure_future(client.watch_orders("BTC/USDT"))
    await venue.wait_user_stream()
    await client.create_order("BTC/USDT", "limit", "buy", 0.1, 95, {"clientOrderId": "watched"})
    placed = await asyncio.wait_for(watching_orders, 5)
    assert (placed[-1]["clientOrderId"], placed[-1]["status"]) == ("watched", "open")

    watching_trades = asyncio.ensure_future(client.watch_my_trades("BTC/USDT"))
    watching_orders = asyncio.ensure_future(client.watch_orders("BTC/USDT"))
    await asyncio.sleep(0)  # both futures registered before the fill is pushed
    await venue.trade("BTC/USDT", "94", "1")

    fills = await asyncio.wait_for(watching_trades, 5)
    updated = await asyncio.wait_for(watching_orders, 5)
    assert (fills[-1]["price"], fills[-1]["amount"], fills[-1]["fee"]["currency"]) == (95, 0.1, "BTC")
    assert (updated[-1]["status"], updated[-1]["filled"]) == ("closed", 0.1)


async def test_watch_balance_follows_a_deposit(venue) -> None:
    # balanceUpdate carries a delta: ccxt needs its snapshot option to turn it into a balance
    client = binance_client(venue, options={"watchBalance": {"fetchBalanceSnapshot": True}})
    try:
        await client.load_markets()
        watching = asyncio.ensure_future(client.watch_balance())
        await venue.wait_user_stream()
        await until(lambda: "USDT" in (client.balance.get("spot") or {}))

        venue.deposit("USDT", "5")

        balance = await asyncio.wait_for(watching, 5)
        assert balance["USDT"]["free"] == 10005
    finally:
        await client.close()


async def test_watch_trades_and_bids_asks_stream_the_scripted_market(venue, client) -> None:
    watching = asyncio.ensure_future(client.watch_trades("BTC/USDT"))
    await venue.wait_subscribed("btcusdt@trade")
    await venue.trade("BTC/USDT", "100.5", "0.2", side="sell")
    trades = await asyncio.wait_for(watching, 5)
    assert (trades[-1]["price"], trades[-1]["amount"], trades[-1]["side"]) == (100.5, 0.2, "sell")

    watching = asyncio.ensure_future(client.watch_bids_asks(["BTC/USDT"]))
    await venue.wait_subscribed("btcusdt@bookTicker")
    await venue.quote("BTC/USDT", "100", "100.1", "2", "3")
    tickers = await asyncio.wait_for(watching, 5)
    assert (tickers["BTC/USDT"]["bid"], tickers["BTC/USDT"]["ask"]) == (100, 100.1)


async def test_watch_order_book_applies_depth_diffs(venue, client) -> None:
    await venue.set_book("BTC/USDT", bids=[(99, 1)], asks=[(101, 1)])
    first = await asyncio.wait_for(client.watch_order_book("BTC/USDT"), 5)
    assert first["bids"] == [[99.0, 1.0]]

    await venue.set_book("BTC/USDT", bids=[(99.5, 2)], asks=[(101, 1)])

    book = await asyncio.wait_for(client.watch_order_book("BTC/USDT"), 5)
    assert book["bids"] == [[99.5, 2.0]] and book["nonce"] == venue.data["BTC/USDT"].depth.update_id


async def test_watch_ohlcv_sees_closed_klines(venue, client) -> None:
    watching = asyncio.ensure_future(client.watch_ohlcv("BTC/USDT", "1m"))
    await venue.wait_subscribed("btcusdt@kline_1m")

    await venue.close_kline("BTC/USDT", "1m", (T0, 100, 102, 99, 101, 5))

    candles = await asyncio.wait_for(watching, 5)
    assert candles[-1] == [T0, 100.0, 102.0, 99.0, 101.0, 5.0]
    assert (await client.fetch_ohlcv("BTC/USDT", "1m", since=T0, limit=1))[0][0] == T0


# faults


async def test_lost_answer_times_out_while_the_order_exists(venue) -> None:
    impatient = binance_client(venue, timeout=1000)
    try:
        await impatient.load_markets()
        venue.lose_responses("/api/v3/order", method="POST")
        with pytest.raises(ccxt.RequestTimeout):
            await impatient.create_order("BTC/USDT", "limit", "buy", 0.1, 90, {"clientOrderId": "lost-1"})
        assert venue.order("lost-1")["status"] == "NEW"

        with pytest.raises(ccxt.InvalidOrder, match="Duplicate"):  # the retry, answered this time
            await impatient.create_order("BTC/USDT", "limit", "buy", 0.1, 90, {"clientOrderId": "lost-1"})
        assert venue.orders_with("lost-1") == 1
    finally:
        await impatient.close()


async def test_503_is_exchange_not_available_and_nothing_happens(venue, client) -> None:
    await client.load_markets()
    venue.fail_requests("/api/v3/order", status=503)

    with pytest.raises(ccxt.ExchangeNotAvailable):
        await client.create_order("BTC/USDT", "limit", "buy", 0.1, 90, {"clientOrderId": "never"})

    assert venue.orders_with("never") == 0
    await client.create_order("BTC/USDT", "limit", "buy", 0.1, 90, {"clientOrderId": "never"})
    assert venue.orders_with("never") == 1


async def test_weight_limit_answers_429_as_ddos_protection() -> None:
    frozen = int(time.time() * 1000)  # one minute of weight for the whole test
    async with BinanceEmulator(clock=lambda: frozen) as venue:
        client = binance_client(venue)
        try:
            venue.limit_request_weight(2)
            await client.fetch_time()
            await client.fetch_time()

            with pytest.raises(ccxt.DDoSProtection, match="429"):
                await client.fetch_time()

            venue.clear()
            assert await client.fetch_time() == frozen
        finally:
            await client.close()


async def test_ban_answers_418(venue, client) -> None:
    venue.ban(60)

    with pytest.raises(ccxt.DDoSProtection, match="418"):
        await client.fetch_time()


async def test_delay_responses_slows_matching_requests(venue, client) -> None:
    venue.delay_responses("/api/v3/time", 1.5)
    impatient = binance_client(venue, timeout=500)
    try:
        with pytest.raises(ccxt.RequestTimeout):
            await impatient.fetch_time()
    finally:
        await impatient.close()


async def test_watch_trades_resumes_after_the_sockets_drop(venue, client) -> None:
    watching = asyncio.ensure_future(client.watch_trades("BTC/USDT"))
    await venue.wait_subscribed("btcusdt@trade")

    await venue.disconnect_websockets("market")
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(watching, 5)

    watching = asyncio.ensure_future(client.watch_trades("BTC/USDT"))
    await venue.wait_subscribed("btcusdt@trade")
    await venue.trade("BTC/USDT", "101", "1")
    assert (await asyncio.wait_for(watching, 5))[-1]["price"] == 101


async def test_user_stream_resubscribes_after_a_drop(venue, client) -> None:
    await client.load_markets()
    watching = asyncio.ensure_future(client.watch_orders())
    await venue.wait_user_stream()

    await venue.disconnect_websockets("user")
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(watching, 5)

    watching = asyncio.ensure_future(client.watch_orders())
    await venue.wait_user_stream()
    await client.create_order("BTC/USDT", "limit", "buy", 0.1, 90, {"clientOrderId": "after-drop"})
    assert (await asyncio.wait_for(watching, 5))[-1]["clientOrderId"] == "after-drop"


async def test_restart_keeps_orders_balances_and_klines(venue, client) -> None:
    venue.load_klines("BTC/USDT", "1m", bars(3))
    await client.create_order("BTC/USDT", "limit", "buy", 0.1, 90, {"clientOrderId": "survivor"})
    port = venue.port

    await venue.restart()

    assert venue.port == port
    found = await client.fetch_order(None, "BTC/USDT", {"origClientOrderId": "survivor"})
    assert found["status"] == "open" and venue.locked["USDT"] == 9
    assert len(await client.fetch_ohlcv("BTC/USDT", "1m", since=T0)) == 3


# the standalone process

SAMPLE_BARS = Path(__file__).parent / "samples" / "goog-2004-head.csv"


async def test_main_process_serves_and_plays_the_price_file(tmp_path) -> None:
    ready = tmp_path / "ready"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.emulators.binance", "--port", "0", "--prices", str(SAMPLE_BARS),
        "--speed", "20", "--ready-file", str(ready), stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[3], env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])})
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 20)
        url = line.decode().strip().removeprefix("listening on ")
        assert ready.read_text().strip() == url
        remote = type("Remote", (), {"rest_url": url, "api_key": "test-key", "secret": "test-secret"})()
        watcher = binance_client(remote)
        try:
            trades = await asyncio.wait_for(watcher.watch_trades("BTC/USDT"), 10)
            assert 90 <= trades[-1]["price"] <= 150  # GOOG's first weeks, unscaled
            balance = await watcher.fetch_balance()
            assert balance["USDT"]["free"] == 10000
        finally:
            await watcher.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
