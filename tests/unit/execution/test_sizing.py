"""Sizing: entries by fixed quantity, notional and equity share, targets, exits, flips and shorting rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.execution.domain.sizing import (
    SizedOrder,
    SizingError,
    SizingMode,
    SizingPolicy,
    position_in,
    size_order,
)
from shared.contracts import PortfolioSnapshot, PositionView, Side
from tests.factories import T0, signal

D = Decimal
LONG, SHORT, EXIT = signal(direction="long"), signal(direction="short"), signal(direction="exit")


def test_long_while_flat_buys_the_fixed_quantity() -> None:
    assert size_order(LONG, SizingPolicy(quantity=D(100)), position=D(0)) == SizedOrder(Side.BUY, D(100), False)


def test_long_while_already_long_does_nothing() -> None:
    assert size_order(LONG, SizingPolicy(), position=D(100)) is None


def test_exit_closes_the_whole_position_even_a_fractional_one() -> None:
    assert size_order(EXIT, SizingPolicy(), position=D("12.5")) == SizedOrder(Side.SELL, D("12.5"), True)
    assert size_order(EXIT, SizingPolicy(), position=D(-30)) == SizedOrder(Side.BUY, D(30), True)
    assert size_order(EXIT, SizingPolicy(), position=D(0)) is None


def test_fixed_notional_divides_by_price_and_rounds_down_to_the_lot() -> None:
    policy = SizingPolicy(mode=SizingMode.FIXED_NOTIONAL, notional=D(10000), lot_size=D(10))
    assert size_order(LONG, policy, position=D(0), price=D(33)) == SizedOrder(Side.BUY, D(300), False)


def test_percent_of_equity_sizes_from_equity_and_price() -> None:
    policy = SizingPolicy(mode=SizingMode.PERCENT_EQUITY, equity_fraction=D("0.1"))
    assert size_order(LONG, policy, position=D(0), price=D(40), equity=D(100000)).quantity == D(250)


def test_strength_scales_the_entry_when_asked() -> None:
    policy = SizingPolicy(quantity=D(100), scale_by_strength=True)
    assert size_order(signal(strength=D("0.5")), policy, position=D(0)).quantity == D(50)


def test_short_opens_a_short_only_when_shorting_is_allowed() -> None:
    assert size_order(SHORT, SizingPolicy(allow_short=True), position=D(0)) == SizedOrder(Side.SELL, D(100), False)
    assert size_order(SHORT, SizingPolicy(allow_short=False), position=D(0)) is None


def test_short_without_shorting_closes_a_long_instead() -> None:
    assert size_order(SHORT, SizingPolicy(), position=D(70)) == SizedOrder(Side.SELL, D(70), True)


def test_short_while_long_flips_when_shorting_is_allowed() -> None:
    assert size_order(SHORT, SizingPolicy(allow_short=True), position=D(70)) == SizedOrder(Side.SELL, D(170), False)


def test_long_while_short_buys_back_and_goes_long() -> None:
    assert size_order(LONG, SizingPolicy(), position=D(-40)) == SizedOrder(Side.BUY, D(140), False)


def test_target_quantity_trades_the_difference_and_repeating_it_does_nothing() -> None:
    target = signal(target_quantity=D(150))
    assert size_order(target, SizingPolicy(), position=D(100)) == SizedOrder(Side.BUY, D(50), False)
    assert size_order(target, SizingPolicy(), position=D(150)) is None
    assert size_order(target, SizingPolicy(), position=D(200)) == SizedOrder(Side.SELL, D(50), True)


def test_target_weight_uses_equity_and_price_and_rebalances() -> None:
    target = signal(target_weight=D("0.5"))
    assert size_order(target, SizingPolicy(), position=D(100), price=D(50), equity=D(20000)) == SizedOrder(
        Side.BUY, D(100), False)


def test_target_weight_mode_uses_the_policy_weight_when_the_signal_has_none() -> None:
    policy = SizingPolicy(mode=SizingMode.TARGET_WEIGHT, equity_fraction=D("0.25"))
    assert size_order(LONG, policy, position=D(0), price=D(10), equity=D(1000)).quantity == D(25)


def test_short_target_weight_goes_negative_when_allowed() -> None:
    target = signal(direction="short", target_weight=D("0.5"))
    policy = SizingPolicy(allow_short=True)
    assert size_order(target, policy, position=D(0), price=D(50), equity=D(10000)) == SizedOrder(
        Side.SELL, D(100), False)


@pytest.mark.parametrize("price, equity", [(None, D(1000)), (D(10), None), (D(10), D(0))])
def test_equity_sizing_without_price_or_equity_is_a_sizing_error(price: Decimal | None, equity: Decimal | None) -> None:
    policy = SizingPolicy(mode=SizingMode.PERCENT_EQUITY)
    with pytest.raises(SizingError):
        size_order(LONG, policy, position=D(0), price=price, equity=equity)


def test_position_in_snapshot_sums_a_symbol_or_one_strategy() -> None:
    def view(symbol: str, strategy: str, quantity: int) -> PositionView:
        return PositionView(symbol=symbol, strategy_id=strategy, quantity=D(quantity), average_price=D(1),
                            market_value=D(0), unrealized_pnl=D(0), realized_pnl=D(0))
    snapshot = PortfolioSnapshot(
        ts_event=T0, ts_init=T0, source="test", cash=D(0), equity=D(0), peak_equity=D(0), drawdown=D(0),
        gross_exposure=D(0), net_exposure=D(0), realized_pnl=D(0), unrealized_pnl=D(0),
        positions=(view("ORCL", "a", 10), view("ORCL", "b", -3), view("MSFT", "a", 5)))
    assert position_in(snapshot, "ORCL") == D(7)
    assert position_in(snapshot, "ORCL", "b") == D(-3)
    assert position_in(None, "ORCL") == D(0)
