"""The SQLite ledger store: fills and state survive a restart, and a replayed fill is not applied twice."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest

from services.portfolio.adapters import LedgerStore, LedgerStoreError, RiskState
from services.portfolio.domain import Ledger

from .helpers import buy, sell

D = Decimal
START = D(100_000)


def state(ledger: Ledger) -> tuple:
    return (ledger.cash, ledger.equity(), ledger.realized_pnl(), ledger.unrealized_pnl(), ledger.marks(),
            ledger.positions(include_flat=True), ledger.closed_trades, ledger.fill_count)


def test_ledger_reopened_from_its_file_has_identical_state(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ledger.db"
    with LedgerStore(path) as store:
        ledger = store.load(START)
        for fill in (buy(100, "10", commission=D("1")), buy(50, "11", strategy_id="b"), sell(150, "12"),
                     sell(5, "30", symbol="MSFT")):
            store.apply_fill(ledger, fill)
        ledger.mark("ORCL", D("12.5"))
        store.save_marks(ledger.marks())
        before = state(ledger)

    with LedgerStore(path) as reopened:
        assert state(reopened.load(START)) == before


def test_fill_replayed_after_restart_is_not_applied_twice(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    fill = buy(100, "10")
    with LedgerStore(path) as store:
        assert store.apply_fill(store.load(START), fill) is not None

    with LedgerStore(path) as store:
        ledger = store.load(START)
        before = state(ledger)
        assert store.apply_fill(ledger, fill) is None
        assert state(ledger) == before and store.fill_count() == 1


def test_a_failed_apply_stores_nothing(tmp_path: Path) -> None:
    class Broken(Ledger):
        def apply_fill(self, fill):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    fill = buy(100, "10")
    with LedgerStore(tmp_path / "ledger.db") as store:
        with pytest.raises(RuntimeError):
            store.apply_fill(Broken(START), fill)

        assert not store.has_fill(fill.fill_id)


def test_risk_state_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with LedgerStore(path) as store:
        assert store.load_risk_state() == RiskState()
        store.save_risk_state(RiskState(D("101234.5"), True, "max drawdown"))

    with LedgerStore(path) as store:
        assert store.load_risk_state() == RiskState(D("101234.5"), True, "max drawdown")


def test_the_store_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    LedgerStore(path).close()

    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_refuses_a_different_starting_cash(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with LedgerStore(path) as store:
        store.load(START)

    with LedgerStore(path) as store, pytest.raises(LedgerStoreError):
        store.load(D(50_000))


def test_an_in_memory_store_works_for_tests_and_backtests() -> None:
    with LedgerStore(":memory:") as store:
        ledger = store.load(START)
        store.apply_fill(ledger, buy(1, "10"))
        assert store.fill_count() == 1 and ledger.cash == START - 10
