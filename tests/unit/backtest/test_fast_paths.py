"""What the backtester's speed rests on behaves like the slow paths it replaces."""

from __future__ import annotations

import dataclasses
from decimal import Decimal, InvalidOperation, localcontext

import pytest

from services.data.domain.rows import Decimals
from services.execution.adapters.paper import PaperBroker
from services.execution.domain.orders import OrderStatus, evolve
from services.portfolio.domain import Ledger, RiskGuard, RiskRules
from services.portfolio.domain.ledger import _EXACT
from shared.runtime.clock import SimulatedClock
from tests.factories import T0
from tests.unit.execution.factories import DAY, bar, order
from tests.unit.portfolio.factories import buy, sell

D = Decimal


def test_decimal_cache_gives_what_decimal_gives_and_stays_bounded() -> None:
    cache = Decimals(size=3)
    texts = ["100.07", "1e3", "-0.50", "100.07", "7", "8"]
    assert [cache[t] for t in texts] == [Decimal(t) for t in texts]
    assert str(cache["1e3"]) == str(Decimal("1e3"))
    assert len(cache) <= 3
    with pytest.raises(InvalidOperation):
        cache["abc"]


def test_evolve_changes_only_state_fields_like_replace() -> None:
    pending = order()
    changes = dict(status=OrderStatus.ACCEPTED, venue_order_id="v-1", updated_at=T0 + DAY)
    assert evolve(pending, **changes) == dataclasses.replace(pending, **changes)
    assert pending.status is OrderStatus.PENDING_SUBMIT
    with pytest.raises(TypeError):
        evolve(pending, quantity=D(5))


def test_ledger_sums_equal_the_same_sums_in_the_exact_context() -> None:
    ledger = Ledger(D(100_000))
    ledger.apply_fill(buy(100, "10.01", strategy_id="a"))
    ledger.apply_fill(sell(30, "10.05", strategy_id="b"))
    ledger.apply_fill(buy(7, "99.125", strategy_id="a", symbol="BRK.B"))
    ledger.mark("ORCL", D("10.37"))
    ledger.mark("BRK.B", D("98.5"))
    books = [p for p in ledger.positions()]
    with localcontext(_EXACT):
        unrealized = sum((p.market_price * p.quantity - p.cost_basis for p in books), D(0))
        gross = D(70) * D("10.37") + D(7) * D("98.5")
    assert ledger.unrealized_pnl() == unrealized
    assert ledger.gross_exposure() == gross and ledger.net_exposure() == gross
    rows = {row.strategy_id: row for row in ledger.attribution()}
    assert rows["b"].net_exposure == D(-30) * D("10.37") and rows["b"].gross_exposure == D(30) * D("10.37")
    assert sum(r.unrealized_pnl for r in rows.values()) == unrealized


def test_a_guard_without_rules_watches_nothing_until_halted() -> None:
    assert not RiskGuard(RiskRules()).watching
    assert RiskGuard(RiskRules(max_drawdown=D("0.2"))).watching
    assert RiskGuard(RiskRules(stop_loss_pct=D("0.05"))).watching
    assert RiskGuard(RiskRules(), halted=True).watching


async def test_paper_broker_without_a_file_answers_like_one_with_a_database() -> None:
    answers = []
    for path in (None, ":memory:"):
        broker = PaperBroker(clock=SimulatedClock(T0), path=path)
        await broker.on_market(bar(T0))
        await broker.submit(order())
        await broker.on_market(bar(T0 + DAY, open="10.10"))
        duplicate = await broker.submit(order())
        answers.append(([o.status for o in await broker.orders(["c-1", "nope"])],
                        [(f.fill_id, f.price) for f in (await broker.fills_since())[0]],
                        [type(r).__name__ for r in duplicate], await broker.open_orders()))
        await broker.close()
    assert answers[0] == answers[1]
    assert answers[0][:3] == ([OrderStatus.FILLED], [("paper-c-1-1", D("10.10"))], ["Rejected"])
