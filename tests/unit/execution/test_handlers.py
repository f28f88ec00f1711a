"""The execution service's handlers over the in-memory bus: signals become orders, bars fill them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from services.execution.adapters.paper import PaperBroker
from services.execution.adapters.sqlite_store import SqliteOrderStore
from services.execution.bootstrap import bootstrap, matcher_config
from services.execution.domain.orders import order_for_signal
from services.execution.settings import ExecutionSettings, SizingSettings
from shared.contracts import OrderFilled, OrderRejected, Side
from shared.messaging.memory import InMemoryBus
from shared.messaging.topology import Topology
from shared.runtime.clock import SimulatedClock
from tests.factories import T0, bar, signal
from tests.wiring import start_in_memory, watch

DAY = timedelta(days=1)


async def start_execution(**settings_):
    topo = Topology("unit")
    bus, clock = InMemoryBus(topo, strict=True), SimulatedClock(T0)
    settings = ExecutionSettings.isolated(instance_id="unit", **settings_)
    app = bootstrap(settings, bus=bus, clock=clock, store=SqliteOrderStore(), broker=PaperBroker(
        matcher_config(settings), clock=clock))
    await start_in_memory(app, bus)
    seen = await watch(bus, OrderFilled, OrderRejected)
    return bus, seen, app


def day_bar(n: int, open_: str):
    ts = T0 + n * DAY
    return bar(ts_event=ts, ts_init=ts, open=Decimal(open_), high=Decimal("20"), low=Decimal("1"),
               close=Decimal("10"))


async def test_an_exit_that_overtakes_its_entry_fill_sells_what_the_entry_buys():
    bus, seen, app = await start_execution()
    await bus.publish(day_bar(0, "10"))
    await bus.publish(signal(direction="long", ts_event=T0, ts_init=T0))
    await bus.publish(signal(direction="exit", ts_event=T0 + DAY, ts_init=T0 + DAY))  # before bar 1 arrives
    await bus.drain()
    assert seen == []  # nothing rejected, nothing filled yet

    for n, open_ in ((1, "11"), (2, "12")):
        await bus.publish(day_bar(n, open_))
    await bus.drain()

    assert [(f.side.value, f.quantity, f.price, f.ts_event) for f in seen] == [
        ("buy", 100, Decimal("11"), T0 + DAY), ("sell", 100, Decimal("12"), T0 + 2 * DAY)]


async def test_a_redelivered_signal_places_no_second_order():
    bus, seen, app = await start_execution()
    long = signal(direction="long", ts_event=T0, ts_init=T0)
    await bus.publish(day_bar(0, "10"))
    await bus.publish(long)
    await bus.publish(long)
    await bus.publish(day_bar(1, "11"))
    await bus.drain()

    assert [(f.side.value, f.quantity) for f in seen] == [("buy", 100)]


async def test_an_order_arriving_after_newer_bars_fills_at_the_bar_after_its_signal():
    bus, seen, app = await start_execution()
    for n, open_ in ((0, "10"), (1, "11"), (2, "12")):
        await bus.publish(day_bar(n, open_))
    await bus.publish(signal(direction="long", ts_event=T0, ts_init=T0))
    await bus.drain()

    assert [(f.price, f.ts_event) for f in seen] == [(Decimal("11"), T0 + DAY)]


async def test_an_order_recorded_but_never_sent_before_a_crash_is_sent_when_its_signal_returns():
    bus, seen, app = await start_execution()
    long = signal(direction="long", ts_event=T0, ts_init=T0)
    app.deps.store.record(order_for_signal(long, Side.BUY, Decimal(100), T0, recorded_at=T0))  # then it died

    await bus.publish(day_bar(0, "10"))
    await bus.publish(long)  # redelivered to the restarted service
    await bus.publish(day_bar(1, "11"))
    await bus.drain()

    assert [(f.side.value, f.quantity, f.price) for f in seen] == [("buy", 100, Decimal("11"))]


async def test_a_signal_that_cannot_be_sized_is_refused_once_however_often_it_is_delivered():
    bus, seen, app = await start_execution(sizing=SizingSettings(mode="fixed_notional"))
    unpriced = signal(direction="long", ts_event=T0, ts_init=T0)  # no bar yet, no reference price: no size

    for _ in range(3):
        await bus.publish(unpriced)
    await bus.drain()

    assert [(type(m).__name__, "no price" in m.reason) for m in seen] == [("OrderRejected", True)]
