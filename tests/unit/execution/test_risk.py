"""Pre-trade risk: each limit refuses with a reason, reducing orders pass a halt, the rate window slides."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from services.execution.domain.risk import AccountExposure, RiskLimits, check_order, orders_in_window, reduces_position
from shared.contracts import OrderType, Side

from .factories import T0, order

D = Decimal
PRICES = {"ORCL": D(10)}


def test_order_within_every_limit_passes() -> None:
    limits = RiskLimits(max_order_quantity=D(100), max_order_notional=D(1000), max_position=D(100),
                        max_gross_exposure=D(1000), max_orders_per_window=1)
    assert check_order(order(), AccountExposure(prices=PRICES), limits, T0) is None


def test_order_over_max_quantity_is_refused() -> None:
    reason = check_order(order(quantity=D(101)), AccountExposure(), RiskLimits(max_order_quantity=D(100)), T0)
    assert reason is not None and "quantity 101" in reason


def test_order_over_max_notional_is_refused_using_the_limit_price() -> None:
    limit_order = order(order_type=OrderType.LIMIT, limit_price=D(11))
    reason = check_order(limit_order, AccountExposure(prices=PRICES), RiskLimits(max_order_notional=D(1000)), T0)
    assert reason is not None and "notional 1100" in reason


def test_market_order_without_a_known_price_fails_the_notional_check() -> None:
    assert "no price" in check_order(order(), AccountExposure(), RiskLimits(max_order_notional=D(1000)), T0)


def test_position_limit_counts_working_orders_on_the_same_side() -> None:
    limits = RiskLimits(max_position=D(250))
    assert check_order(order(), AccountExposure(positions={"ORCL": D(100)}), limits, T0) is None
    state = AccountExposure(positions={"ORCL": D(100)}, pending_buys={"ORCL": D(100)})
    assert "position would reach 300" in check_order(order(), state, limits, T0)


def test_gross_exposure_limit_adds_the_orders_new_exposure() -> None:
    state = AccountExposure(prices=PRICES, gross_exposure=D(9500))
    reason = check_order(order(), state, RiskLimits(max_gross_exposure=D(10000)), T0)
    assert reason is not None and "gross exposure would reach 10500" in reason


def test_reducing_order_passes_position_and_exposure_limits() -> None:
    state = AccountExposure(positions={"ORCL": D(500)}, prices=PRICES, gross_exposure=D(5000))
    limits = RiskLimits(max_position=D(100), max_gross_exposure=D(1000))
    assert check_order(order(side=Side.SELL), state, limits, T0) is None
    assert check_order(order(side=Side.BUY), state, limits, T0) is not None


def test_halt_refuses_new_risk_but_lets_reducing_orders_through() -> None:
    state = AccountExposure(positions={"ORCL": D(100)}, halted=True, halt_reason="drawdown 12%")
    reason = check_order(order(side=Side.BUY), state, RiskLimits(), T0)
    assert reason is not None and "halted" in reason and "drawdown 12%" in reason
    assert check_order(order(side=Side.SELL, quantity=D(100)), state, RiskLimits(), T0) is None
    assert check_order(order(side=Side.SELL, quantity=D(150)), state, RiskLimits(), T0) is not None


def test_reduce_only_order_that_would_grow_the_position_is_refused() -> None:
    reason = check_order(order(reduce_only=True), AccountExposure(positions={"ORCL": D(100)}), RiskLimits(), T0)
    assert reason is not None and "reduce-only" in reason


def test_rate_limit_refuses_once_the_window_is_full_and_frees_up_as_it_slides() -> None:
    limits = RiskLimits(max_orders_per_window=2, rate_window=timedelta(seconds=1))
    recent = (T0 - timedelta(milliseconds=900), T0 - timedelta(milliseconds=100))
    assert "rate limit" in check_order(order(), AccountExposure(recent_orders=recent), limits, T0)
    later = T0 + timedelta(milliseconds=150)
    assert check_order(order(), AccountExposure(recent_orders=recent), limits, later) is None


def test_orders_in_window_keeps_only_the_last_window() -> None:
    times = [T0 - timedelta(seconds=2), T0 - timedelta(seconds=1), T0 - timedelta(milliseconds=1), T0]
    assert orders_in_window(times, T0, timedelta(seconds=1)) == times[2:]


def test_reduces_position_only_towards_flat_without_crossing() -> None:
    assert reduces_position(Side.SELL, D(100), D(100))
    assert not reduces_position(Side.SELL, D(101), D(100))
    assert reduces_position(Side.BUY, D(5), D(-10))
    assert not reduces_position(Side.BUY, D(5), D(0))


# -- buying power -----------------------------------------------------------------------------------------------
def test_a_buy_that_costs_more_than_the_cash_is_rejected_naming_cash_price_and_quantity() -> None:
    state = AccountExposure(prices={"ORCL": D(1500)}, equity=D(100000))

    reason = check_order(order(), state, RiskLimits(max_leverage=D(1)), T0)

    assert reason is not None and reason.startswith("insufficient buying power: buy 100 ORCL at 1500 is 150000.00")
    assert "cash is 100000.00" in reason


def test_a_buy_within_the_cash_passes_and_leverage_widens_the_room() -> None:
    state = AccountExposure(prices={"ORCL": D(900)}, equity=D(100000))
    assert check_order(order(), state, RiskLimits(max_leverage=D(1)), T0) is None

    dear = AccountExposure(prices={"ORCL": D(1500)}, equity=D(100000))
    assert check_order(order(), dear, RiskLimits(max_leverage=D(2)), T0) is None


def test_working_market_orders_count_against_buying_power_resting_limits_do_not() -> None:
    limits = RiskLimits(max_leverage=D(1))
    market = AccountExposure(prices={"ORCL": D(600)}, equity=D(100000), pending_market={"ORCL": D(100)})
    resting = AccountExposure(prices={"ORCL": D(600)}, equity=D(100000), pending_buys={"ORCL": D(100)})

    assert "insufficient buying power" in check_order(order(), market, limits, T0)
    assert check_order(order(), resting, limits, T0) is None


def test_an_exit_passes_whatever_the_cash_and_no_equity_yet_means_no_check() -> None:
    limits = RiskLimits(max_leverage=D(1))
    held = AccountExposure(positions={"ORCL": D(100)}, prices={"ORCL": D(5000)}, gross_exposure=D(500000),
                           equity=D(1000))
    assert check_order(order(side=Side.SELL), held, limits, T0) is None
    assert check_order(order(), AccountExposure(prices={"ORCL": D(5000)}), limits, T0) is None
