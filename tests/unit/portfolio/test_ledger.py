"""The ledger: idempotent fills, average price, realised and unrealised P&L, cash, attribution, closed trades."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from services.portfolio.domain import Ledger
from shared.contracts import Side

from .factories import buy, day, filled, sell

D = Decimal
START = D("100000")


@pytest.fixture
def ledger() -> Ledger:
    return Ledger(START)


def state(ledger: Ledger) -> tuple:
    return (ledger.cash, ledger.equity(), ledger.realized_pnl(), ledger.unrealized_pnl(), ledger.commission(),
            ledger.positions(include_flat=True), ledger.closed_trades, ledger.fill_count)


def test_fill_applied_twice_changes_nothing(ledger: Ledger) -> None:
    fill = buy(100, "10.5", commission=D("1.05"))
    assert ledger.apply_fill(fill) is not None
    before = state(ledger)

    assert ledger.apply_fill(fill) is None
    assert state(ledger) == before
    assert ledger.has_applied(fill.fill_id)


def test_buy_takes_price_and_commission_from_cash(ledger: Ledger) -> None:
    ledger.apply_fill(buy(100, "10.25", commission=D("1.025")))

    assert ledger.cash == START - D("1025") - D("1.025")
    assert ledger.commission() == D("1.025")
    assert ledger.realized_pnl() == D("-1.025")


def test_sell_adds_proceeds_minus_commission_to_cash(ledger: Ledger) -> None:
    ledger.apply_fill(buy(100, "10", commission=D("1")))
    ledger.apply_fill(sell(100, "12", commission=D("1.2")))

    assert ledger.cash == START - D("1000") - D("1") + D("1200") - D("1.2")
    assert ledger.realized_pnl() == D("200") - D("2.2")
    assert ledger.equity() == ledger.cash


def test_average_price_is_weighted_on_increase_and_unchanged_on_reduce(ledger: Ledger) -> None:
    ledger.apply_fill(buy(100, "10"))
    ledger.apply_fill(buy(300, "12"))
    assert ledger.position("sma_cross", "ORCL").average_price == D("11.5")

    update = ledger.apply_fill(sell(100, "13"))

    position = update.position
    assert position.quantity == D(300)
    assert position.average_price == D("11.5")
    assert update.realized_pnl == D("150")
    assert update.closed_trade is None


def test_short_position_profits_when_price_falls(ledger: Ledger) -> None:
    ledger.apply_fill(sell(50, "20"))
    ledger.apply_fill(sell(50, "22"))
    position = ledger.position("sma_cross", "ORCL")
    assert (position.quantity, position.average_price, position.side) == (D(-100), D(21), Side.SELL)

    update = ledger.apply_fill(buy(100, "18"))

    assert update.realized_pnl == D(300)
    assert update.position.is_flat
    assert ledger.cash == START + D(1000) + D(1100) - D(1800)


def test_flip_realises_the_closed_part_and_opens_the_rest_at_the_fill_price(ledger: Ledger) -> None:
    ledger.apply_fill(buy(100, "10"))

    update = ledger.apply_fill(sell(150, "12", commission=D("3")))

    position = update.position
    assert (position.quantity, position.average_price) == (D(-50), D(12))
    assert update.realized_pnl == D(200) - D(3)
    trade = update.closed_trade
    assert trade is not None
    assert (trade.side, trade.quantity, trade.entry_price, trade.exit_price) == (Side.BUY, D(100), D(10), D(12))
    assert trade.commission == D(2)  # 100 of the 150 closed the trip: two thirds of the commission
    assert position.episode_id == update.fill_id


def test_partial_closes_report_one_trade_when_flat_with_weighted_prices(ledger: Ledger) -> None:
    ledger.apply_fill(buy(100, "10", ts_event=day(0)))
    ledger.apply_fill(buy(100, "12", ts_event=day(1)))
    first = ledger.apply_fill(sell(50, "13", ts_event=day(2)))
    last = ledger.apply_fill(sell(150, "15", ts_event=day(3), commission=D("1.5")))

    assert first.closed_trade is None
    trade = last.closed_trade
    assert trade is not None
    assert trade.quantity == D(200)
    assert trade.entry_price == D(11) and trade.exit_price == D("14.5")
    assert (trade.entry_ts, trade.exit_ts) == (day(0), day(3))
    assert trade.gross_pnl == D(50 * 2 + 150 * 4)
    assert trade.net_pnl == trade.gross_pnl - D("1.5")
    assert ledger.closed_trades == (trade,)


def test_partial_reduce_of_an_odd_cost_basis_keeps_cash_and_pnl_consistent(ledger: Ledger) -> None:
    ledger.apply_fill(buy(1, "10"))
    ledger.apply_fill(buy(2, "11"))
    ledger.apply_fill(sell(1, "12"))  # cost 32 over 3 shares: a third is not a finite decimal
    ledger.mark("ORCL", D("12.5"))

    assert ledger.equity() == START + ledger.realized_pnl() + ledger.unrealized_pnl()
    ledger.apply_fill(sell(2, "13"))
    assert ledger.realized_pnl() == D(12 + 26 - 32)
    assert ledger.position("sma_cross", "ORCL").cost_basis == 0


def test_marks_move_unrealised_pnl_and_equity_but_not_cash(ledger: Ledger) -> None:
    ledger.apply_fill(buy(100, "10"))
    ledger.apply_fill(sell(40, "50", symbol="MSFT"))
    cash = ledger.cash

    ledger.mark("ORCL", D("11"))
    ledger.mark("MSFT", D("45"))

    assert ledger.cash == cash
    assert ledger.unrealized_pnl() == D(100) + D(200)
    assert ledger.equity() == START + D(300)
    assert ledger.gross_exposure() == D(1100) + D(1800)
    assert ledger.net_exposure() == D(1100) - D(1800)
    assert ledger.position("sma_cross", "MSFT").unrealized_pnl == D(200)


def test_an_unmarked_symbol_is_valued_at_its_fill_price_and_a_fill_does_not_override_a_mark(ledger: Ledger) -> None:
    ledger.apply_fill(buy(10, "10"))
    assert ledger.last_price("ORCL") == D(10)
    ledger.mark("ORCL", D("11"))

    ledger.apply_fill(buy(10, "10.5"))

    assert ledger.last_price("ORCL") == D(11)


def test_pnl_and_exposure_are_attributed_per_strategy(ledger: Ledger) -> None:
    ledger.apply_fill(buy(100, "10", strategy_id="trend"))
    ledger.apply_fill(sell(100, "10", strategy_id="meanrev", commission=D("2")))
    ledger.apply_fill(buy(10, "50", strategy_id="meanrev", symbol="MSFT"))
    ledger.apply_fill(sell(10, "55", strategy_id="meanrev", symbol="MSFT"))
    ledger.mark("ORCL", D("12"))

    rows = {row.strategy_id: row for row in ledger.attribution()}

    assert list(rows) == ["meanrev", "trend"]
    assert (rows["trend"].unrealized_pnl, rows["trend"].gross_exposure, rows["trend"].net_exposure) == (
        D(200), D(1200), D(1200))
    assert (rows["meanrev"].realized_pnl, rows["meanrev"].unrealized_pnl) == (D(50) - D(2), D(-200))
    assert (rows["meanrev"].gross_exposure, rows["meanrev"].net_exposure) == (D(1200), D(-1200))
    assert ledger.gross_exposure() == 0  # the account holds nothing: the two strategies net out
    assert sum(r.realized_pnl + r.unrealized_pnl for r in rows.values()) == ledger.equity() - START


def test_in_market_follows_open_positions_of_any_strategy(ledger: Ledger) -> None:
    assert not ledger.in_market()
    ledger.apply_fill(buy(1, "10", strategy_id="a"))
    ledger.apply_fill(sell(1, "10", strategy_id="b"))
    assert ledger.in_market()
    ledger.apply_fill(sell(1, "10", strategy_id="a"))
    ledger.apply_fill(buy(1, "10", strategy_id="b"))
    assert not ledger.in_market()


def test_ten_thousand_fills_add_up_exactly() -> None:
    rng = random.Random(7)
    ledger = Ledger(START)
    expected_cash = START
    for n in range(10_000):
        side = rng.choice(["buy", "sell"])
        quantity = D(rng.randint(1, 500))
        price = D(rng.randint(100_000, 9_999_999)) / D(100_000)
        commission = (quantity * price * D("0.001")).quantize(D("0.000001"))
        symbol = rng.choice(["ORCL", "MSFT", "IBM"])
        strategy = rng.choice(["a", "b"])
        ledger.apply_fill(filled(side, quantity, str(price), commission=commission, symbol=symbol,
                              strategy_id=strategy))
        expected_cash -= (1 if side == "buy" else -1) * quantity * price + commission
        if n % 100 == 0:
            ledger.mark(symbol, price + D("0.01"))

    assert ledger.cash == expected_cash
    assert ledger.equity() == START + ledger.realized_pnl() + ledger.unrealized_pnl()
    attributed = sum(r.realized_pnl + r.unrealized_pnl for r in ledger.attribution())
    assert attributed == ledger.equity() - START
