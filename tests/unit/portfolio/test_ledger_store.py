"""Both ledger stores keep one contract (a fill applied once, what it owes in the outbox); the SQLite one also keeps
the ledger, the per-bar state and the outbox across a restart."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest

from services.portfolio.adapters import LedgerPersistence, LedgerStore, LedgerStoreError, MemoryLedgerStore
from services.portfolio.domain import CurvePoint, KillSwitchState, Ledger, PositionUpdate
from shared.contracts import Message, PositionChanged, stream_of
from tests.factories import T0, bar

from .factories import buy, sell

D = Decimal
START = D(100_000)


def state(ledger: Ledger) -> tuple:
    return (ledger.cash, ledger.equity(), ledger.realized_pnl(), ledger.unrealized_pnl(), ledger.marks(),
            ledger.positions(include_flat=True), ledger.closed_trades, ledger.fill_count)


def announce(update: PositionUpdate) -> list[Message]:
    return [PositionChanged(ts_event=T0, ts_init=T0, source="test", symbol=update.position.symbol,
                            strategy_id=update.position.strategy_id, quantity=update.position.quantity,
                            average_price=update.position.average_price, realized_pnl=update.position.realized_pnl,
                            unrealized_pnl=update.position.unrealized_pnl, last_fill_id=update.fill_id)]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> Iterator[LedgerPersistence]:
    store: LedgerPersistence = MemoryLedgerStore() if request.param == "memory" else LedgerStore(":memory:")
    yield store
    store.close()


def test_a_fill_is_applied_once_and_owes_its_announcement_once(store: LedgerPersistence) -> None:
    ledger = store.load(START)
    fill = buy(100, "10")

    assert store.apply_fill(ledger, fill, announce) is not None
    assert store.apply_fill(ledger, fill, announce) is None

    assert ledger.fill_count == 1 and ledger.cash == START - 1000
    owed = store.outbox.unpublished()
    assert [type(o.message) for o in owed] == [PositionChanged]
    store.outbox.mark_published(owed[0].seq)
    assert store.outbox.unpublished() == []


def test_what_a_bar_owes_waits_in_the_outbox(store: LedgerPersistence) -> None:
    ledger = store.load(START)
    owed = announce(store.apply_fill(ledger, buy(1, "10")))  # type: ignore[arg-type]
    for entry in store.outbox.unpublished():
        store.outbox.mark_published(entry.seq)

    store.record_bar(bar(sequence=1), CurvePoint.at(T0, START, in_market=True), KillSwitchState(START), owed)

    assert [o.message for o in store.outbox.unpublished()] == owed


def test_ledger_reopened_from_its_file_has_identical_state(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ledger.db"
    with LedgerStore(path) as store:
        ledger = store.load(START)
        for fill in (buy(100, "10", commission=D("1")), buy(50, "11", strategy_id="b"), sell(150, "12"),
                     sell(5, "30", symbol="MSFT")):
            store.apply_fill(ledger, fill)
        orcl = bar(close=D("12.5"), high=D("12.5"), sequence=7)
        ledger.mark("ORCL", orcl.close)
        store.record_bar(orcl, CurvePoint.at(T0, ledger.equity(), in_market=True),
                         KillSwitchState(D("101234.5"), True, "max drawdown"))
        before = state(ledger)

    with LedgerStore(path) as reopened:
        assert state(reopened.load(START)) == before
        stored = reopened.state()
        assert stored.kill_switch == KillSwitchState(D("101234.5"), True, "max drawdown")
        assert dict(stored.streams) == {stream_of(orcl): 7}
        assert [p.micros for p in stored.curve] == [CurvePoint.at(T0, START, in_market=True).micros]


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


def test_what_a_fill_owes_survives_a_crash_before_it_was_published(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with LedgerStore(path) as store:
        store.apply_fill(store.load(START), buy(100, "10"), announce)
        owed = [o.message for o in store.outbox.unpublished()]

    with LedgerStore(path) as reopened:
        assert [o.message for o in reopened.outbox.unpublished()] == owed


def test_a_failed_apply_stores_nothing(tmp_path: Path) -> None:
    class Broken(Ledger):
        def apply_fill(self, fill):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    fill = buy(100, "10")
    with LedgerStore(tmp_path / "ledger.db") as store:
        with pytest.raises(RuntimeError):
            store.apply_fill(Broken(START), fill, announce)

        assert not store.has_fill(fill.fill_id) and store.outbox.unpublished() == []


def test_the_kill_switch_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with LedgerStore(path) as store:
        assert store.state().kill_switch == KillSwitchState()
        store.save_kill_switch(KillSwitchState(D("101234.5"), True, "max drawdown"))

    with LedgerStore(path) as store:
        assert store.state().kill_switch == KillSwitchState(D("101234.5"), True, "max drawdown")


def test_the_store_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    LedgerStore(path).close()

    with closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_refuses_a_different_starting_cash(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with LedgerStore(path) as store:
        store.load(START)

    with LedgerStore(path) as store, pytest.raises(LedgerStoreError, match="move the old state directory away"):
        store.load(D(50_000))
