"""The paper matcher's prices: market next-open or close, limit and stop with gaps, stop-limit, slippage, fees."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.execution.domain.matching import MatcherConfig, PaperMatcher
from services.execution.domain.pricing import Commission
from services.execution.domain.reports import Accepted, Filled, Report, Triggered
from shared.contracts import OrderType, Side

from .factories import DAY, T0, T1, bar, matcher_after_first_bar, order

D = Decimal


def fills(reports: Any) -> list[Filled]:
    return [r for r in reports if isinstance(r, Filled)]


def fill_prices(reports: Any) -> list[Decimal]:
    return [f.price for f in fills(reports)]


def place(matcher: PaperMatcher, **fields: Any) -> list[Report]:
    return list(matcher.submit(order(**fields), T0))


def test_market_order_fills_at_the_next_bars_open_with_percent_commission_like_backtrader() -> None:
    matcher = matcher_after_first_bar(commission=Commission(rate=D("0.001")))
    submitted = place(matcher)
    assert [type(r) for r in submitted] == [Accepted]
    (filled,) = matcher.on_bar(bar(T1, open="10.13", high="10.40", low="10.01", close="10.30"))
    assert (filled.price, filled.quantity, filled.ts) == (D("10.13"), D(100), T1)
    assert filled.commission == D("0.001") * D("10.13") * 100
    assert (filled.cumulative, filled.leaves) == (D(100), D(0))


def test_market_order_in_close_mode_fills_at_once_at_the_last_bars_close() -> None:
    matcher = matcher_after_first_bar(fill_on="close")
    accepted, filled = place(matcher)
    assert isinstance(accepted, Accepted) and isinstance(filled, Filled)
    assert filled.price == D("10.25")
    assert list(matcher.on_bar(bar(T1))) == []


def test_market_order_in_close_mode_with_no_bar_seen_waits_for_the_next_open() -> None:
    matcher = PaperMatcher(MatcherConfig(fill_on="close"))
    assert fills(place(matcher)) == []
    assert fill_prices(matcher.on_bar(bar(T1, open="10.05"))) == [D("10.05")]


def test_bar_no_later_than_the_last_one_seen_at_submit_cannot_fill() -> None:
    matcher = matcher_after_first_bar()
    place(matcher)
    assert fills(matcher.on_bar(bar(T0))) == []
    assert fill_prices(matcher.on_bar(bar(T1, open="10.10"))) == [D("10.10")]


def test_limit_buy_waits_until_the_low_reaches_the_limit_then_fills_at_the_limit() -> None:
    matcher = matcher_after_first_bar()
    place(matcher, order_type=OrderType.LIMIT, limit_price=D("9.50"))
    assert matcher.on_bar(bar(T1, open="10", high="10.2", low="9.60", close="10")) == []
    assert fill_prices(matcher.on_bar(bar(T1 + DAY, open="9.8", high="9.9", low="9.40", close="9.6"))) == [D("9.50")]


def test_limit_buy_gapping_below_the_limit_fills_at_the_open() -> None:
    matcher = matcher_after_first_bar()
    place(matcher, order_type=OrderType.LIMIT, limit_price=D("9.50"))
    assert fill_prices(matcher.on_bar(bar(T1, open="9.20", high="9.40", low="9.00", close="9.30"))) == [D("9.20")]


def test_limit_sell_fills_at_the_limit_or_at_a_higher_open() -> None:
    matcher = matcher_after_first_bar()
    place(matcher, side=Side.SELL, order_type=OrderType.LIMIT, limit_price=D("10.60"))
    place(matcher, client_order_id="c-2", side=Side.SELL, order_type=OrderType.LIMIT, limit_price=D("10.40"))
    reports = matcher.on_bar(bar(T1, open="10.50", high="10.70", low="10.30", close="10.60"))
    assert {f.client_order_id: f.price for f in fills(reports)} == {"c-1": D("10.60"), "c-2": D("10.50")}


def test_stop_buy_triggers_at_the_stop_or_at_a_gapped_open() -> None:
    matcher = matcher_after_first_bar()
    place(matcher, order_type=OrderType.STOP, stop_price=D("10.60"))
    place(matcher, client_order_id="c-2", order_type=OrderType.STOP, stop_price=D("10.40"))
    assert matcher.on_bar(bar(T1, open="10.30", high="10.35", low="10.0", close="10.2")) == []
    reports = matcher.on_bar(bar(T1 + DAY, open="10.50", high="10.80", low="10.45", close="10.7"))
    assert {f.client_order_id: f.price for f in fills(reports)} == {"c-1": D("10.60"), "c-2": D("10.50")}


def test_stop_sell_triggers_at_the_stop_or_at_a_gapped_open() -> None:
    matcher = matcher_after_first_bar()
    place(matcher, side=Side.SELL, order_type=OrderType.STOP, stop_price=D("9.50"))
    place(matcher, client_order_id="c-2", side=Side.SELL, order_type=OrderType.STOP, stop_price=D("9.20"))
    reports = matcher.on_bar(bar(T1, open="9.30", high="9.40", low="9.00", close="9.1"))
    assert {f.client_order_id: f.price for f in fills(reports)} == {"c-1": D("9.30"), "c-2": D("9.20")}


def test_stop_limit_with_limit_above_the_stop_fills_at_the_stop_on_the_trigger_bar() -> None:
    matcher = matcher_after_first_bar()
    place(matcher, order_type=OrderType.STOP_LIMIT, stop_price=D("10.60"), limit_price=D("10.70"))
    reports = matcher.on_bar(bar(T1, open="10.30", high="10.90", low="10.20", close="10.80"))
    assert [type(r) for r in reports] == [Triggered, Filled]
    assert fill_prices(reports) == [D("10.60")]


def test_stop_limit_gapping_past_the_limit_triggers_then_waits_as_a_limit_order() -> None:
    matcher = matcher_after_first_bar()
    place(matcher, order_type=OrderType.STOP_LIMIT, stop_price=D("10.60"), limit_price=D("10.70"))
    reports = matcher.on_bar(bar(T1, open="11.00", high="11.20", low="10.90", close="11.10"))
    assert [type(r) for r in reports] == [Triggered]
    assert matcher.working("c-1").triggered
    later = matcher.on_bar(bar(T1 + DAY, open="10.90", high="11.00", low="10.65", close="10.80"))
    assert fill_prices(later) == [D("10.70")]


def test_stop_limit_sell_with_limit_above_the_stop_fills_at_the_limit_only_if_the_close_comes_back() -> None:
    matcher = matcher_after_first_bar()
    place(matcher, side=Side.SELL, order_type=OrderType.STOP_LIMIT, stop_price=D("9.50"), limit_price=D("9.60"))
    place(matcher, client_order_id="c-2", side=Side.SELL, order_type=OrderType.STOP_LIMIT, stop_price=D("9.50"),
          limit_price=D("9.70"))
    reports = matcher.on_bar(bar(T1, open="9.80", high="9.90", low="9.20", close="9.65"))
    assert {f.client_order_id: f.price for f in fills(reports)} == {"c-1": D("9.60")}
    assert matcher.working("c-2").triggered


def test_stop_limit_sell_with_limit_below_the_stop_fills_at_the_stop() -> None:
    matcher = matcher_after_first_bar()
    place(matcher, side=Side.SELL, order_type=OrderType.STOP_LIMIT, stop_price=D("9.50"), limit_price=D("9.40"))
    reports = matcher.on_bar(bar(T1, open="9.80", high="9.90", low="9.20", close="9.30"))
    assert fill_prices(reports) == [D("9.50")]


def test_slippage_makes_buys_dearer_and_sells_cheaper() -> None:
    matcher = matcher_after_first_bar(slippage_bps=D(10))
    place(matcher)
    place(matcher, client_order_id="c-2", side=Side.SELL)
    reports = matcher.on_bar(bar(T1, open="10.00", high="10.50", low="9.50", close="10"))
    assert {f.client_order_id: f.price for f in fills(reports)} == {"c-1": D("10.0100"), "c-2": D("9.9900")}


def test_slippage_never_pushes_a_fill_outside_the_bar_or_beyond_a_limit() -> None:
    matcher = matcher_after_first_bar(slippage_bps=D(100))
    place(matcher)
    place(matcher, client_order_id="c-2", order_type=OrderType.LIMIT, limit_price=D("10.02"))
    reports = matcher.on_bar(bar(T1, open="10.00", high="10.05", low="9.90", close="10"))
    assert {f.client_order_id: f.price for f in fills(reports)} == {"c-1": D("10.05"), "c-2": D("10.02")}


def test_stop_fills_are_slipped() -> None:
    matcher = matcher_after_first_bar(slippage_bps=D(50))
    place(matcher, side=Side.SELL, order_type=OrderType.STOP, stop_price=D("9.50"))
    assert fill_prices(matcher.on_bar(bar(T1, open="9.8", high="9.9", low="9.0", close="9.2"))) == [D("9.45250")]


def test_commission_per_share_percent_and_minimum() -> None:
    assert Commission(per_share=D("0.005")).for_fill(D(100), D(10)) == D("0.5")
    assert Commission(rate=D("0.001")).for_fill(D(100), D("10.13")) == D("1.013")
    assert Commission(per_share=D("0.005"), minimum=D(1)).for_fill(D(100), D(10)) == D(1)
    assert Commission(per_share=D("0.01"), rate=D("0.001"), minimum=D(1)).for_fill(D(200), D(10)) == D(4)
    assert Commission().for_fill(D(100), D(10)) == 0


def test_fill_commission_comes_from_the_configured_model() -> None:
    matcher = matcher_after_first_bar(commission=Commission(per_share=D("0.005"), minimum=D(1)))
    place(matcher, quantity=D(1000))
    (filled,) = matcher.on_bar(bar(T1))
    assert filled.commission == D(5)
