"""Comparing the venue's balances with the books: the rule (``check_balances``) and the service over the in-memory
bus. A difference, or a new asset's offset, counts only when two consecutive observations agree on it."""

from __future__ import annotations

from decimal import Decimal as D

from prometheus_client import CollectorRegistry

from services.portfolio.adapters import MemoryLedgerStore
from services.portfolio.bootstrap import bootstrap
from services.portfolio.domain import check_balances
from services.portfolio.settings import PortfolioSettings
from shared.contracts import BalancesDiffered, BalancesObserved, BalanceView
from shared.messaging.memory import InMemoryBus
from shared.messaging.topology import Topology
from shared.runtime.clock import SimulatedClock
from tests.factories import T0, fill
from tests.wiring import start_in_memory, watch

BOOKS = {"USDT": D(100000)}


# -- the rule ----------------------------------------------------------------------------------------------------
def test_a_new_asset_joins_the_baseline_once_two_observations_agree_on_its_offset() -> None:
    first = check_balances(BOOKS, {"USDT": D(10000)}, {})
    second = check_balances(BOOKS, {"USDT": D(10000)}, first.baseline, pending=first.pending)

    assert (first.baseline, first.pending) == ({}, {"USDT": D(-90000)})
    assert (second.baseline, second.pending, second.differences) == ({"USDT": D(-90000)}, {}, ())


def test_an_offset_read_while_a_fill_raced_is_not_taken_as_the_baseline() -> None:
    racing = check_balances(BOOKS, {"USDT": D(9990)}, {})
    settled = check_balances(BOOKS, {"USDT": D(10000)}, racing.baseline, pending=racing.pending)
    again = check_balances(BOOKS, {"USDT": D(10000)}, settled.baseline, pending=settled.pending)

    assert racing.baseline == settled.baseline == {}
    assert again.baseline == {"USDT": D(-90000)}


def test_a_difference_seen_once_is_not_reported() -> None:
    baseline = {"USDT": D(-90000)}
    racing = check_balances(BOOKS, {"USDT": D(9899)}, baseline)
    settled = check_balances(BOOKS, {"USDT": D(10000)}, baseline, pending=racing.pending)

    assert racing.differences == settled.differences == ()
    assert (racing.pending, settled.pending) == ({"USDT": D(-101)}, {})


def test_the_same_difference_in_two_consecutive_observations_is_reported_and_again_while_it_lasts() -> None:
    baseline = {"USDT": D(-90000)}
    first = check_balances(BOOKS, {"USDT": D(10123)}, baseline)
    second = check_balances(BOOKS, {"USDT": D(10123)}, baseline, pending=first.pending)
    third = check_balances(BOOKS, {"USDT": D(10123)}, baseline, pending=second.pending)

    assert first.differences == ()
    [difference] = second.differences
    assert (difference.asset, difference.expected, difference.observed, difference.amount) == (
        "USDT", D(10000), D(10123), D(123))
    assert third.differences == second.differences


def test_two_different_differences_in_a_row_are_not_reported() -> None:
    baseline = {"USDT": D(-90000)}
    first = check_balances(BOOKS, {"USDT": D(9899)}, baseline)
    second = check_balances(BOOKS, {"USDT": D(10123)}, baseline, pending=first.pending)

    assert second.differences == () and second.pending == {"USDT": D(123)}


def test_a_difference_within_the_tolerance_is_neither_reported_nor_pending() -> None:
    check = check_balances(BOOKS, {"USDT": D("10000.01")}, {"USDT": D(-90000)}, D("0.05"), {"USDT": D("0.01")})

    assert (check.differences, check.pending) == ((), {})


# -- the service -------------------------------------------------------------------------------------------------
def observed(usdt: str, last_fill_id: str | None = None) -> BalancesObserved:
    return BalancesObserved(ts_event=T0, ts_init=T0, source="test", venue="binance", last_fill_id=last_fill_id,
                            balances=(BalanceView(asset="USDT", free=D(usdt), used=D(0), total=D(usdt)),))


async def start_portfolio():
    bus = InMemoryBus(Topology("unit"), strict=True)
    registry = CollectorRegistry()
    app = bootstrap(PortfolioSettings.isolated(instance_id="unit", account_currency="USDT"), bus=bus,
                    clock=SimulatedClock(T0), registry=registry, store=MemoryLedgerStore())
    await start_in_memory(app, bus)
    return bus, app, registry, await watch(bus, BalancesDiffered)


async def test_a_balance_read_racing_a_fill_report_is_not_reported_as_a_difference() -> None:
    bus, app, registry, differed = await start_portfolio()
    for usdt in ("10000", "10000"):  # the baseline: the venue holds 10000 USDT, the books 100000
        await bus.publish(observed(usdt))
    # the venue already counts a buy of 1 @ 100 whose fill report has not reached the portfolio yet
    await bus.publish(observed("9900", last_fill_id=None))
    await bus.publish(fill(symbol="BTC/USDT", fill_id="f-1", quantity=D(1), price=D(100), commission=D(0)))
    await bus.publish(observed("9900", last_fill_id="f-1"))
    await bus.drain()

    assert differed == []
    assert app.deps.balance_baseline["USDT"] == D(-90000)


async def test_a_deposit_the_books_did_not_make_is_reported_on_the_second_observation_with_the_gauge() -> None:
    bus, app, registry, differed = await start_portfolio()
    for usdt in ("10000", "10000", "10123"):
        await bus.publish(observed(usdt))
    await bus.drain()
    assert differed == []

    await bus.publish(observed("10123"))
    await bus.drain()

    [event] = differed
    [difference] = event.differences
    assert (difference.asset, difference.difference) == ("USDT", D(123))
    assert registry.get_sample_value("tradebus_portfolio_balance_difference",
                                     {"service": "portfolio", "asset": "USDT"}) == 123
