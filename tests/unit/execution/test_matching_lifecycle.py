"""The paper matcher over time: partial fills, time in force, cancels, ticks and quotes, restore, the fast path."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from services.execution.domain.matching import MatcherConfig, PaperMatcher
from services.execution.domain.reports import Accepted, Canceled, Expired, Filled, Rejected
from shared.contracts import OrderType, Side, TimeInForce

from .factories import DAY, T0, T1, bar, matcher_after_first_bar, order, quote, trade

D = Decimal


def test_partial_fills_follow_volume_participation_and_carry_to_later_bars() -> None:
    matcher = matcher_after_first_bar(max_volume_participation=D("0.1"))
    matcher.submit(order(quantity=D(100)), T0)
    (first,) = matcher.on_bar(bar(T1, volume="600"))
    (second,) = matcher.on_bar(bar(T1 + DAY, volume="2000"))
    assert (first.quantity, first.cumulative, first.leaves, first.fill_id) == (D(60), D(60), D(40), "paper-c-1-1")
    assert (second.quantity, second.cumulative, second.leaves, second.fill_id) == (D(40), D(100), D(0), "paper-c-1-2")
    assert matcher.working("c-1") is None


def test_participation_is_ignored_for_bars_without_volume() -> None:
    matcher = matcher_after_first_bar(max_volume_participation=D("0.1"))
    matcher.submit(order(quantity=D(100)), T0)
    assert [f.quantity for f in matcher.on_bar(bar(T1, volume="0"))] == [D(100)]


def test_ioc_fills_what_the_first_bar_allows_and_expires_the_rest() -> None:
    matcher = matcher_after_first_bar(max_volume_participation=D("0.1"))
    matcher.submit(order(time_in_force=TimeInForce.IOC), T0)
    filled, expired = matcher.on_bar(bar(T1, volume="300"))
    assert isinstance(filled, Filled) and filled.quantity == D(30)
    assert isinstance(expired, Expired) and expired.filled_quantity == D(30)
    assert list(matcher.on_bar(bar(T1 + DAY))) == []


def test_ioc_limit_not_reached_on_the_first_bar_expires_unfilled() -> None:
    matcher = matcher_after_first_bar()
    matcher.submit(order(order_type=OrderType.LIMIT, limit_price=D(9), time_in_force=TimeInForce.IOC), T0)
    assert [type(r) for r in matcher.on_bar(bar(T1))] == [Expired]


def test_fok_that_cannot_fill_completely_expires_without_any_fill() -> None:
    matcher = matcher_after_first_bar(max_volume_participation=D("0.1"))
    matcher.submit(order(time_in_force=TimeInForce.FOK), T0)
    (expired,) = matcher.on_bar(bar(T1, volume="999"))
    assert isinstance(expired, Expired) and expired.filled_quantity == 0


def test_fok_that_can_fill_completely_fills() -> None:
    matcher = matcher_after_first_bar(max_volume_participation=D("0.1"))
    matcher.submit(order(time_in_force=TimeInForce.FOK), T0)
    assert [(type(r), r.quantity) for r in matcher.on_bar(bar(T1, volume="1000"))] == [(Filled, D(100))]


def test_day_order_expires_at_the_first_bar_of_a_later_date_and_gtc_keeps_working() -> None:
    matcher = matcher_after_first_bar()
    limit = dict(order_type=OrderType.LIMIT, limit_price=D(9))
    matcher.submit(order(time_in_force=TimeInForce.DAY, **limit), T0)
    matcher.submit(order(client_order_id="c-2", **limit), T0)
    assert matcher.on_bar(bar(T0 + timedelta(hours=1), timeframe="1d")) == []
    (expired,) = matcher.on_bar(bar(T1))
    assert isinstance(expired, Expired) and expired.client_order_id == "c-1"
    assert matcher.working("c-2") is not None


def test_cancel_stops_a_working_order_and_reports_what_had_filled() -> None:
    matcher = matcher_after_first_bar(max_volume_participation=D("0.1"))
    matcher.submit(order(), T0)
    matcher.on_bar(bar(T1, volume="400"))
    (canceled,) = matcher.cancel("c-1", T1, "user")
    assert isinstance(canceled, Canceled) and (canceled.filled_quantity, canceled.reason) == (D(40), "user")
    assert list(matcher.on_bar(bar(T1 + DAY))) == []
    assert list(matcher.cancel("c-1", T1)) == []


def test_duplicate_client_id_of_a_working_order_is_rejected() -> None:
    matcher = matcher_after_first_bar()
    matcher.submit(order(), T0)
    (rejected,) = matcher.submit(order(), T0)
    assert isinstance(rejected, Rejected) and "duplicate" in rejected.reason


def test_market_order_fills_at_the_next_trade_up_to_its_size_with_participation() -> None:
    matcher = PaperMatcher(MatcherConfig(max_volume_participation=D("0.5")))
    matcher.on_trade(trade("10.00", at=T0))
    matcher.submit(order(quantity=D(100)), T0)
    (first,) = matcher.on_trade(trade("10.02", size="100", at=T0 + timedelta(seconds=1)))
    assert (first.price, first.quantity) == (D("10.02"), D(50))


def test_quotes_fill_buys_at_the_ask_and_sells_at_the_bid() -> None:
    matcher = PaperMatcher()
    matcher.submit(order(), T0)
    matcher.submit(order(client_order_id="c-2", side=Side.SELL), T0)
    reports = matcher.on_quote(quote("9.99", "10.01", at=T0 + timedelta(seconds=1)))
    assert {r.client_order_id: r.price for r in reports} == {"c-1": D("10.01"), "c-2": D("9.99")}


def test_limit_buy_fills_on_a_trade_at_or_below_the_limit() -> None:
    matcher = PaperMatcher()
    matcher.submit(order(order_type=OrderType.LIMIT, limit_price=D("10.00")), T0)
    assert matcher.on_trade(trade("10.01", at=T0 + timedelta(seconds=1))) == []
    assert [r.price for r in matcher.on_trade(trade("9.98", at=T0 + timedelta(seconds=2)))] == [D("9.98")]


def test_restored_working_order_fills_as_it_would_have() -> None:
    before = matcher_after_first_bar(max_volume_participation=D("0.1"))
    before.submit(order(order_type=OrderType.LIMIT, limit_price=D(10)), T0)
    before.on_bar(bar(T1, volume="300"))
    saved = before.working("c-1")
    after = PaperMatcher(MatcherConfig(max_volume_participation=D("0.1")))
    after.restore(saved)
    assert list(after.on_bar(bar(T0))) == []
    (filled,) = after.on_bar(bar(T1 + DAY, volume="1000"))
    assert (filled.fill_id, filled.cumulative, filled.leaves) == ("paper-c-1-2", D(100), D(0))


def test_bar_without_working_orders_returns_the_shared_empty_result() -> None:
    matcher = PaperMatcher()
    assert matcher.on_bar(bar(T0)) is matcher.on_bar(bar(T1, symbol="MSFT"))
    assert list(matcher.on_bar(bar(T1))) == []


def test_bars_of_another_timeframe_are_ignored_when_one_is_configured() -> None:
    matcher = PaperMatcher(MatcherConfig(timeframe="1d"))
    matcher.on_bar(bar(T0))
    matcher.submit(order(), T0)
    assert list(matcher.on_bar(bar(T1, timeframe="1m"))) == []
    assert [type(r) for r in matcher.on_bar(bar(T1))] == [Filled]


def test_submit_reports_acceptance_under_a_venue_id_derived_from_the_client_id() -> None:
    matcher = PaperMatcher(MatcherConfig(venue="sim"))
    (accepted,) = matcher.submit(replace(order(), client_order_id="abc"), T0)
    assert accepted == Accepted("abc", "sim-abc", T0)


def test_bar_seen_again_after_a_partial_fill_fills_nothing_more() -> None:
    matcher = matcher_after_first_bar(max_volume_participation=D("0.1"))
    matcher.submit(order(), T0)
    matcher.on_bar(bar(T1, volume="300"))
    assert list(matcher.on_bar(bar(T1, volume="300"))) == []
    assert matcher.working("c-1").filled_quantity == D(30)
