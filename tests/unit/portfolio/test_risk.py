"""Risk rules: the kill switch flattens everything once; stops and take-profits fire once per position."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.portfolio.domain import (
    DrawdownTracker,
    ExitReason,
    Ledger,
    RiskGuard,
    RiskRules,
    check_kill_switch,
    check_stops,
    intent_id,
)
from shared.contracts import Side

from .factories import buy, filled, sell

D = Decimal


@pytest.fixture
def ledger() -> Ledger:
    return Ledger(D(100_000))


def drawdown_after(ledger: Ledger, tracker: DrawdownTracker) -> Decimal:
    tracker.update(ledger.equity())
    return tracker.drawdown


def test_kill_switch_fires_once_and_flattens_every_position(ledger: Ledger) -> None:
    ledger.apply_fill(buy(1000, "50", strategy_id="trend"))
    ledger.apply_fill(sell(500, "20", strategy_id="meanrev", symbol="MSFT"))
    tracker, guard = DrawdownTracker(), RiskGuard(RiskRules(max_drawdown=D("0.1")))
    assert guard.evaluate(ledger, drawdown_after(ledger, tracker)).exits == ()

    ledger.mark("ORCL", D("38"))  # equity falls 12,000 from 100,000
    first = guard.evaluate(ledger, drawdown_after(ledger, tracker))
    again = guard.evaluate(ledger, drawdown_after(ledger, tracker))

    assert guard.halted and first.halt_reason is not None
    assert {(e.strategy_id, e.symbol, e.side, e.quantity, e.reason) for e in first.exits} == {
        ("trend", "ORCL", Side.SELL, D(1000), ExitReason.KILL_SWITCH),
        ("meanrev", "MSFT", Side.BUY, D(500), ExitReason.KILL_SWITCH),
    }
    assert (again.exits, again.halt_reason) == ((), None)


def test_kill_switch_flattens_a_position_opened_after_the_halt_once(ledger: Ledger) -> None:
    guard = RiskGuard(RiskRules(max_drawdown=D("0.1")), halted=True, halt_reason="restored")
    ledger.apply_fill(buy(10, "50"))  # an order that was already working filled after the halt

    exits = guard.evaluate(ledger, D(0)).exits

    assert [(e.quantity, e.reason) for e in exits] == [(D(10), ExitReason.KILL_SWITCH)]
    assert guard.evaluate(ledger, D(0)).exits == ()


def test_no_kill_switch_below_the_limit() -> None:
    rules = RiskRules(max_drawdown=D("0.1"))

    assert check_kill_switch(D("0.0999"), rules) is None
    assert check_kill_switch(D("0.1"), rules) is not None
    assert check_kill_switch(D("0.5"), RiskRules()) is None


@pytest.mark.parametrize(
    ("side", "price", "expected"),
    [
        ("buy", "94.9", ExitReason.STOP_LOSS),
        ("buy", "95.1", None),
        ("buy", "110", ExitReason.TAKE_PROFIT),
        ("sell", "105", ExitReason.STOP_LOSS),
        ("sell", "104.9", None),
        ("sell", "90", ExitReason.TAKE_PROFIT),
    ],
)
def test_stop_loss_and_take_profit_are_measured_from_the_average_price(
    ledger: Ledger, side: str, price: str, expected: ExitReason | None
) -> None:
    update = ledger.apply_fill(filled(side, 10, "100"))
    rules = RiskRules(stop_loss_pct=D("0.05"), take_profit_pct=D("0.1"))

    intent = check_stops(update.position, D(price), rules)

    assert (intent.reason if intent else None) == expected
    if intent:
        assert (intent.side, intent.quantity) == (Side.SELL if side == "buy" else Side.BUY, D(10))


def test_stop_loss_triggers_once_while_its_exit_is_working(ledger: Ledger) -> None:
    guard = RiskGuard(RiskRules(stop_loss_pct=D("0.05")))
    ledger.apply_fill(buy(10, "100"))
    ledger.mark("ORCL", D("90"))

    first = guard.evaluate(ledger, D(0), symbol="ORCL").exits
    ledger.mark("ORCL", D("89"))
    second = guard.evaluate(ledger, D(0), symbol="ORCL").exits

    assert [e.reason for e in first] == [ExitReason.STOP_LOSS]
    assert second == ()


def test_take_profit_triggers_once_and_a_new_position_can_trigger_again(ledger: Ledger) -> None:
    guard = RiskGuard(RiskRules(take_profit_pct=D("0.1")))
    ledger.apply_fill(buy(10, "100"))
    ledger.mark("ORCL", D("111"))
    [exit_] = guard.evaluate(ledger, D(0)).exits
    assert guard.evaluate(ledger, D(0)).exits == ()

    ledger.apply_fill(sell(10, "111"))
    ledger.apply_fill(buy(5, "111"))
    ledger.mark("ORCL", D("123"))
    [second] = guard.evaluate(ledger, D(0)).exits

    assert exit_.reason == second.reason == ExitReason.TAKE_PROFIT
    assert second.intent_id != exit_.intent_id and second.quantity == D(5)


def test_exit_ids_are_deterministic_so_a_redelivered_bar_after_restart_repeats_the_id(ledger: Ledger) -> None:
    ledger.apply_fill(buy(10, "100", fill_id="open-1"))
    ledger.mark("ORCL", D("90"))
    rules = RiskRules(stop_loss_pct=D("0.05"))

    before_restart = RiskGuard(rules).evaluate(ledger, D(0)).exits
    after_restart = RiskGuard(rules).evaluate(ledger, D(0)).exits

    assert [e.intent_id for e in before_restart] == [e.intent_id for e in after_restart]
    assert before_restart[0].intent_id == intent_id("sma_cross", "ORCL", "open-1")


def test_a_released_exit_is_retried_under_a_new_id(ledger: Ledger) -> None:
    guard = RiskGuard(RiskRules(stop_loss_pct=D("0.05")))
    ledger.apply_fill(buy(10, "100"))
    ledger.mark("ORCL", D("90"))
    [first] = guard.evaluate(ledger, D(0)).exits

    guard.release("sma_cross", "ORCL")  # the exit order was rejected
    [retry] = guard.evaluate(ledger, D(0)).exits

    assert retry.intent_id != first.intent_id and retry.episode_id == first.episode_id


def test_stops_are_checked_only_for_the_given_symbol(ledger: Ledger) -> None:
    guard = RiskGuard(RiskRules(stop_loss_pct=D("0.05")))
    ledger.apply_fill(buy(10, "100", symbol="MSFT"))
    ledger.mark("MSFT", D("50"))

    assert guard.evaluate(ledger, D(0), symbol="ORCL").exits == ()
    assert len(guard.evaluate(ledger, D(0), symbol="MSFT").exits) == 1


def test_intent_ids_stay_within_the_client_order_id_limit() -> None:
    long_id = intent_id("s" * 100, "ORCL", "f" * 128)

    assert len(long_id) <= 128 and long_id == intent_id("s" * 100, "ORCL", "f" * 128)
    assert long_id != intent_id("s" * 100, "ORCL", "f" * 127)


@pytest.mark.parametrize("rules", [dict(max_drawdown=D(0)), dict(stop_loss_pct=D(1)), dict(take_profit_pct=D(-1))])
def test_risk_rules_reject_nonsense_limits(rules: dict) -> None:
    with pytest.raises(ValueError):
        RiskRules(**rules)
