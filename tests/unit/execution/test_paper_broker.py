"""The paper broker: fills through the Broker interface, refuses seen client ids, keeps its book across restarts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from services.execution.adapters.paper import PaperBroker
from services.execution.domain.matching import MatcherConfig
from services.execution.domain.orders import OrderStatus
from services.execution.domain.reports import Accepted, Canceled, Filled, Rejected
from shared.contracts import OrderType
from shared.runtime.clock import SimulatedClock
from tests.factories import signal

from .factories import DAY, T0, bar, order

D = Decimal
T1 = T0 + DAY
PARTIAL = MatcherConfig(max_volume_participation=D("0.1"))


async def test_submitted_market_order_fills_on_the_next_bar() -> None:
    broker = PaperBroker(clock=SimulatedClock(T0))
    await broker.on_market(bar(T0))
    assert [type(r) for r in await broker.submit(order())] == [Accepted]
    (filled,) = await broker.on_market(bar(T1, open="10.10"))
    assert isinstance(filled, Filled) and filled.price == D("10.10")
    assert await broker.open_orders() == []
    (known,) = await broker.orders(["c-1", "unknown"])
    assert (known.status, known.filled_quantity, known.average_fill_price) == (OrderStatus.FILLED, D(100), D("10.10"))


async def test_client_id_seen_before_is_refused_even_after_the_order_finished() -> None:
    broker = PaperBroker(clock=SimulatedClock(T0))
    await broker.on_market(bar(T0))
    await broker.submit(order())
    await broker.on_market(bar(T1))
    (rejected,) = await broker.submit(order())
    assert isinstance(rejected, Rejected) and "duplicate" in rejected.reason
    assert len((await broker.fills_since())[0]) == 1


async def test_non_market_events_and_quiet_bars_produce_no_reports() -> None:
    broker = PaperBroker(clock=SimulatedClock(T0))
    assert list(await broker.on_market(signal())) == []
    assert list(await broker.on_market(bar(T0))) == []


async def test_stop_limit_trigger_is_kept_from_the_service_but_remembered() -> None:
    broker = PaperBroker(clock=SimulatedClock(T0))
    await broker.on_market(bar(T0))
    await broker.submit(order(order_type=OrderType.STOP_LIMIT, stop_price=D("10.60"), limit_price=D("10.70")))
    assert list(await broker.on_market(bar(T1, open="11.00", high="11.20", low="10.90", close="11.10"))) == []
    assert broker.matcher.working("c-1").triggered


async def test_cancel_returns_the_canceled_report_and_the_order_stops_working() -> None:
    broker = PaperBroker(clock=SimulatedClock(T0))
    await broker.submit(order(order_type=OrderType.LIMIT, limit_price=D(9)))
    (canceled,) = await broker.cancel("c-1")
    assert isinstance(canceled, Canceled)
    assert await broker.open_orders() == []
    assert list(await broker.cancel("c-1")) == []


async def test_working_orders_fills_and_triggers_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "paper.sqlite"
    clock = SimulatedClock(T0)
    before = PaperBroker(PARTIAL, clock=clock, path=path)
    await before.on_market(bar(T0))
    await before.submit(order())
    await before.submit(order(client_order_id="c-2", order_type=OrderType.STOP_LIMIT, stop_price=D("10.60"),
                              limit_price=D("10.70")))
    await before.on_market(bar(T1, open="11.00", high="11.20", low="10.90", close="11.10", volume="300"))
    await before.close()

    after = PaperBroker(PARTIAL, clock=clock, path=path)
    working = {o.client_order_id: o for o in await after.open_orders()}
    assert (working["c-1"].status, working["c-1"].filled_quantity) == (OrderStatus.PARTIALLY_FILLED, D(30))
    assert after.matcher.working("c-2").triggered
    assert list(await after.on_market(bar(T1))) == []
    reports = await after.on_market(bar(T1 + DAY, open="10.65", high="10.80", low="10.60", close="10.7",
                                         volume="10000"))
    assert {(r.client_order_id, r.fill_id, r.price) for r in reports} == {
        ("c-1", "paper-c-1-2", D("10.65")), ("c-2", "paper-c-2-1", D("10.65"))}
    fills, cursor = await after.fills_since()
    assert [f.fill_id for f in fills] == ["paper-c-1-1", "paper-c-1-2", "paper-c-2-1"]
    assert [f.fill_id for f in (await after.fills_since("1"))[0]] == ["paper-c-1-2", "paper-c-2-1"]
    assert await after.fills_since(cursor) == ([], cursor)
    await after.close()


async def test_view_lists_open_orders_the_named_ones_and_fills() -> None:
    broker = PaperBroker(clock=SimulatedClock(T0))
    await broker.on_market(bar(T0))
    await broker.submit(order())
    await broker.submit(order(client_order_id="c-2", order_type=OrderType.LIMIT, limit_price=D(5)))
    await broker.on_market(bar(T1))
    view = await broker.view(["c-1", "c-2", "never-sent"])
    assert sorted(o.client_order_id for o in view.orders) == ["c-1", "c-2"]
    assert [f.fill_id for f in view.fills] == ["paper-c-1-1"]
