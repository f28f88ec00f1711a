"""Snapshot and position-changed values build valid contract messages that agree with the ledger."""

from __future__ import annotations

from decimal import Decimal

from services.portfolio.domain import DrawdownTracker, Ledger, position_changed_values, snapshot_values
from shared.contracts import PortfolioSnapshot, PositionChanged
from tests.factories import T0

from .factories import buy, sell

D = Decimal
ENVELOPE = dict(ts_event=T0, ts_init=T0, source="portfolio")


def test_snapshot_values_make_a_valid_snapshot_that_adds_up() -> None:
    ledger, tracker = Ledger(D(100_000)), DrawdownTracker()
    tracker.update(ledger.equity())
    ledger.apply_fill(buy(100, "10", strategy_id="trend", commission=D("1")))
    ledger.apply_fill(sell(10, "50", strategy_id="meanrev", symbol="MSFT"))
    ledger.mark("ORCL", D("9"))

    snapshot = PortfolioSnapshot(**ENVELOPE, **snapshot_values(ledger, tracker, trading_halted=True))

    assert snapshot.equity == ledger.equity() == D(100_000) - D(101)
    assert snapshot.drawdown == D(101) / D(100_000) and snapshot.peak_equity == D(100_000)
    assert snapshot.realized_pnl + snapshot.unrealized_pnl == snapshot.equity - D(100_000)
    assert [(p.strategy_id, p.symbol, p.quantity) for p in snapshot.positions] == [
        ("meanrev", "MSFT", D(-10)), ("trend", "ORCL", D(100))]
    assert [s.strategy_id for s in snapshot.strategies] == ["meanrev", "trend"]
    assert snapshot.trading_halted


def test_snapshot_peak_never_lags_current_equity() -> None:
    ledger = Ledger(D(100_000))
    ledger.apply_fill(buy(100, "10"))
    ledger.mark("ORCL", D("20"))

    values = snapshot_values(ledger, DrawdownTracker(D(100_000)), trading_halted=False)

    assert (values["peak_equity"], values["drawdown"]) == (D(101_000), 0)


def test_position_changed_values_describe_the_fill() -> None:
    ledger = Ledger(D(100_000))
    update = ledger.apply_fill(buy(100, "10", fill_id="f-9"))

    event = PositionChanged(**ENVELOPE, **position_changed_values(update))

    assert (event.quantity, event.average_price, event.last_fill_id) == (D(100), D(10), "f-9")
