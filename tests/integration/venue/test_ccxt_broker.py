"""The ccxt broker against the local Binance emulator, through real ccxt: orders, fills, faults, recovery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from services.execution.adapters.broker import OutcomeUnknown
from services.execution.adapters.ccxt_broker import CcxtBroker
from services.execution.adapters.ccxt_records import venue_client_id
from services.execution.domain.orders import OrderStatus
from services.execution.domain.reports import Accepted, Canceled, Filled, Rejected
from shared.contracts import OrderType, Side

from ._ccxt_kit import BTC, Sink, btc_order, emulator, start_broker

ORDER_PATH = "/api/v3/order"


@pytest.fixture
async def venue() -> AsyncIterator[Any]:
    async with emulator() as venue:
        await venue.quote(BTC, "100", "101", "5", "5")
        yield venue


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
async def broker(venue: Any, sink: Sink) -> AsyncIterator[CcxtBroker]:
    broker = await start_broker(venue, sink)
    await venue.wait_user_stream()
    yield broker
    await broker.close()


def resting(client_order_id: str = "c-1", **overrides: Any) -> Any:
    return btc_order(**({"client_order_id": client_order_id, "order_type": OrderType.LIMIT,
                         "limit_price": Decimal("100")} | overrides))


async def test_market_buy_fills_at_the_ask_with_commission_in_the_base_asset(broker, venue) -> None:
    reports = await broker.submit(btc_order())

    accepted, fill = reports
    venue_fill = venue.order("c-1")["fills"][0]
    assert isinstance(accepted, Accepted) and isinstance(fill, Filled)
    assert (fill.quantity, fill.price, fill.commission, fill.commission_currency) == (
        Decimal("0.1"), Decimal("101"), Decimal("0.0001"), "BTC")
    assert (fill.cumulative, fill.leaves, fill.venue_order_id) == (Decimal("0.1"), 0, accepted.venue_order_id)
    assert fill.fill_id == f"binance:{venue_fill['tradeId']}"
    assert venue.balances["USDT"] == Decimal("10000") - Decimal("10.1")
    assert (await broker.balances())["BTC"] == (Decimal("0.0999"), 0, Decimal("0.0999"))


async def test_a_resting_limit_order_fills_later_through_the_trade_stream(broker, venue, sink) -> None:
    (accepted,) = await broker.submit(resting())
    assert isinstance(accepted, Accepted)

    await venue.trade(BTC, "99.5", "1")

    fill = await sink.until(lambda r: isinstance(r, Filled))
    assert (fill.client_order_id, fill.quantity, fill.price, fill.cumulative, fill.leaves) == (
        "c-1", Decimal("0.1"), Decimal("100"), Decimal("0.1"), 0)
    assert fill.commission_currency == "BTC"


async def test_cancel_is_confirmed_through_the_order_stream(broker, venue, sink) -> None:
    await broker.submit(resting())

    assert await broker.cancel("c-1") == ()

    canceled = await sink.until(lambda r: isinstance(r, Canceled))
    assert (canceled.client_order_id, canceled.filled_quantity) == ("c-1", 0)
    assert venue.order("c-1")["status"] == "CANCELED"


async def test_canceling_an_order_the_venue_does_not_have_reports_nothing(broker) -> None:
    assert await broker.cancel("never-sent") == ()


async def test_the_amount_is_rounded_down_to_the_step_never_up(broker, venue) -> None:
    await broker.submit(resting(quantity=Decimal("0.123456789")))

    assert venue.order("c-1")["origQty"].rstrip("0") == "0.12345"


async def test_an_amount_below_the_market_minimum_is_rejected_without_sending(broker, venue) -> None:
    (rejected,) = await broker.submit(btc_order(quantity=Decimal("0.000001")))

    assert isinstance(rejected, Rejected)
    assert rejected.reason.startswith("amount 0.000001 BTC")
    assert "below the market minimum 0.00001" in rejected.reason
    assert venue.requests_to(ORDER_PATH) == 0


async def test_a_notional_below_the_minimum_is_rejected_without_sending(broker, venue) -> None:
    (rejected,) = await broker.submit(resting(quantity=Decimal("0.001")))

    assert isinstance(rejected, Rejected)
    assert rejected.reason == "notional 0.1 USDT (amount x price) is below the market minimum 5"
    assert venue.requests_to(ORDER_PATH) == 0


async def test_the_venue_refusing_an_order_is_a_rejection(broker) -> None:
    (rejected,) = await broker.submit(btc_order(side=Side.SELL))  # no BTC to sell

    assert isinstance(rejected, Rejected) and "insufficient balance" in rejected.reason.lower()


async def test_a_lost_answer_is_an_unknown_outcome_and_the_order_is_found_later(broker, venue) -> None:
    venue.lose_responses(ORDER_PATH, count=1, method="POST")

    with pytest.raises(OutcomeUnknown):
        await broker.submit(resting())

    (found,) = await broker.orders(["c-1"])
    assert (found.client_order_id, found.status, found.quantity) == ("c-1", OrderStatus.ACCEPTED, Decimal("0.1"))
    view = await broker.view(["c-1"])
    assert [o.client_order_id for o in view.orders] == ["c-1"]
    assert venue.orders_with("c-1") == 1


async def test_a_duplicate_client_id_adopts_the_order_already_there(broker, venue) -> None:
    (first,) = await broker.submit(resting())
    again = await start_broker(venue)  # a restarted service sending the same order once more
    try:
        reports = await again.submit(resting())
    finally:
        await again.close()

    assert reports == [Accepted("c-1", first.venue_order_id, reports[0].ts)]
    assert venue.orders_with("c-1") == 1


async def test_a_503_is_an_unknown_outcome(broker, venue) -> None:
    venue.fail_requests(ORDER_PATH, status=503, count=1)

    with pytest.raises(OutcomeUnknown):
        await broker.submit(btc_order())


async def test_a_rate_limited_submit_is_an_unknown_outcome(broker, venue) -> None:
    venue.ban(5)

    with pytest.raises(OutcomeUnknown):
        await broker.submit(btc_order())


async def test_fills_still_arrive_after_the_user_stream_drops(broker, venue, sink) -> None:
    await broker.submit(resting())

    await venue.disconnect_websockets("user")
    await venue.trade(BTC, "99", "1")

    fill = await sink.until(lambda r: isinstance(r, Filled), timeout=4)
    assert (fill.client_order_id, fill.cumulative) == ("c-1", Decimal("0.1"))


async def test_fills_since_continues_from_its_cursor_and_loses_nothing(broker, venue) -> None:
    await broker.submit(btc_order(client_order_id="c-1"))
    await broker.submit(btc_order(client_order_id="c-2"))

    first, cursor = await broker.fills_since(None)
    await broker.submit(btc_order(client_order_id="c-3"))
    second, _ = await broker.fills_since(cursor)

    assert [f.client_order_id for f in first] == ["c-1", "c-2"]
    assert "c-3" in [f.client_order_id for f in second]
    assert len({f.fill_id for f in (*first, *second)}) == 3


async def test_fills_since_states_cumulatives_across_an_order_s_fills(venue) -> None:
    broker = await start_broker(venue)
    try:
        await broker.submit(resting(quantity=Decimal("0.1")))
        await venue.trade(BTC, "99", "0.04")
        await venue.trade(BTC, "99", "0.03")
        restarted = await start_broker(venue)
        fills, _ = await restarted.fills_since(None)
        await restarted.close()
    finally:
        await broker.close()

    assert [f.cumulative for f in fills] == [Decimal("0.04"), Decimal("0.07")]
    assert fills[-1].cumulative == sum(f.quantity for f in fills)
    assert fills[-1].leaves == Decimal("0.1") - fills[-1].cumulative


async def test_a_fresh_broker_lists_the_working_orders(venue) -> None:
    first = await start_broker(venue)
    await first.submit(resting(client_order_id="c-7"))
    await first.close()

    restarted = await start_broker(venue)
    try:
        (working,) = await restarted.open_orders()
    finally:
        await restarted.close()

    assert (working.client_order_id, working.status, working.order_type, working.limit_price, working.quantity) == (
        "c-7", OrderStatus.ACCEPTED, OrderType.LIMIT, Decimal("100"), Decimal("0.1"))


async def test_a_client_id_the_venue_cannot_take_is_sent_hashed_and_answers_come_back_under_ours(broker, venue):
    ours = "strategy/with spaces and more than thirty-six characters"

    (accepted,) = await broker.submit(resting(client_order_id=ours))
    (found,) = await broker.orders([ours])

    assert (accepted.client_order_id, found.client_order_id) == (ours, ours)
    assert venue.orders_with(ours) == 0 and len(venue.order(venue_client_id(ours))["clientOrderId"]) <= 36
