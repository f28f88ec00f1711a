"""The portfolio service's handlers over the in-memory bus: fills in; positions, snapshots, risk exits out."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from prometheus_client import CollectorRegistry

from services.portfolio.adapters import LedgerStore, MemoryLedgerStore
from services.portfolio.bootstrap import bootstrap
from services.portfolio.settings import PortfolioSettings
from shared.contracts import PortfolioSnapshot, PositionChanged, SubmitOrder, TradingHalted
from shared.messaging.errors import PublishFailed
from shared.messaging.memory import InMemoryBus
from shared.messaging.topology import Topology
from shared.runtime.clock import SimulatedClock
from tests.factories import T0, bar, fill
from tests.wiring import start_in_memory, watch

DAY = timedelta(days=1)
WATCHED = (PositionChanged, PortfolioSnapshot, SubmitOrder, TradingHalted)


async def start_portfolio(store=None, **settings):
    topo = Topology("unit")
    bus, registry = InMemoryBus(topo, strict=True), CollectorRegistry()
    app = bootstrap(PortfolioSettings.isolated(instance_id="unit", **settings), bus=bus, clock=SimulatedClock(T0),
                    registry=registry, store=store or MemoryLedgerStore())
    await start_in_memory(app, bus)
    seen = await watch(bus, *WATCHED)
    return bus, app, registry, seen


def gauge(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, {"service": "portfolio", **labels})


async def test_a_fill_publishes_the_position_and_a_snapshot_and_sets_the_gauges():
    bus, app, registry, seen = await start_portfolio()
    await bus.publish(fill(price=Decimal("10"), commission=Decimal("1")))
    await bus.drain()

    position, snapshot = seen
    assert isinstance(position, PositionChanged) and position.quantity == 100
    assert isinstance(snapshot, PortfolioSnapshot) and snapshot.cash == Decimal("98999")
    assert gauge(registry, "tradebus_portfolio_cash") == 98999
    assert gauge(registry, "tradebus_portfolio_position_quantity", strategy="sma_cross", symbol="ORCL") == 100


async def test_the_same_fill_delivered_twice_is_applied_once():
    bus, app, registry, seen = await start_portfolio()
    await bus.publish(fill())
    await bus.publish(fill())
    await bus.drain()

    assert app.deps.ledger.fill_count == 1 and len(seen) == 2


async def test_the_kill_switch_flattens_and_halts_once(tmp_path):
    bus, app, registry, seen = await start_portfolio(LedgerStore(tmp_path / "ledger.db"), max_drawdown=Decimal("0.1"))
    await bus.publish(fill(price=Decimal("1000"), commission=Decimal("0")))  # 100 shares worth 100,000
    for day, close in enumerate(("1000", "850", "800")):
        ts = T0 + day * DAY
        await bus.publish(bar(ts_event=ts, ts_init=ts, open=Decimal(close), high=Decimal(close), low=Decimal(close),
                              close=Decimal(close)))
    await bus.drain()

    exits = [m for m in seen if isinstance(m, SubmitOrder)]
    assert [(o.side.value, o.quantity, o.reduce_only) for o in exits] == [("sell", 100, True)]
    assert sum(isinstance(m, TradingHalted) for m in seen) == 1
    assert gauge(registry, "tradebus_portfolio_trading_halted") == 1


async def test_the_ledger_and_the_halt_survive_a_restart(tmp_path):
    bus, app, _, _ = await start_portfolio(LedgerStore(tmp_path / "ledger.db"), max_drawdown=Decimal("0.1"))
    await bus.publish(fill(price=Decimal("1000"), commission=Decimal("0")))
    await bus.publish(bar(open=Decimal("800"), high=Decimal("800"), low=Decimal("800"), close=Decimal("800")))
    await bus.drain()
    app.deps.store.close()

    _, restarted, _, _ = await start_portfolio(LedgerStore(tmp_path / "ledger.db"), max_drawdown=Decimal("0.1"))

    assert restarted.deps.ledger.fill_count == 1 and restarted.deps.guard.halted
    assert restarted.deps.ledger.cash == app.deps.ledger.cash


async def test_a_repeated_or_older_bar_re_marks_nothing():
    bus, app, registry, seen = await start_portfolio()
    await bus.publish(fill(price=Decimal("10"), commission=Decimal("0")))
    newer = bar(ts_event=T0 + DAY, ts_init=T0 + DAY, close=Decimal("12"), high=Decimal("12"), sequence=2)
    older = bar(close=Decimal("9"), low=Decimal("9"), sequence=1)
    await bus.publish(newer)
    await bus.drain()
    marked = app.deps.ledger.equity(), len(app.deps.curve)

    for repeat in (older, newer):  # a replay resumed from an older position
        await bus.publish(repeat)
    await bus.drain()

    assert (app.deps.ledger.equity(), len(app.deps.curve)) == marked
    assert app.deps.ledger.marks()["ORCL"] == Decimal("12")


async def test_what_a_fill_owes_is_published_after_a_failed_publish_and_a_restart(tmp_path):
    class Refusing(InMemoryBus):
        async def publish(self, message):
            if isinstance(message, PositionChanged):
                raise PublishFailed("connection lost")
            await super().publish(message)

    store = LedgerStore(tmp_path / "ledger.db")
    topo = Topology("unit")
    broken = Refusing(topo)
    app = bootstrap(PortfolioSettings.isolated(instance_id="unit"), bus=broken, clock=SimulatedClock(T0), store=store)
    await start_in_memory(app, broken)
    await broken.publish(fill())
    await broken.drain()  # the fill is applied and stored; its announcements are not out (the handler retries)
    assert app.deps.ledger.fill_count == 1
    store.close()

    bus, restarted, _, seen = await start_portfolio(LedgerStore(tmp_path / "ledger.db"))
    await restarted.on_start[0]()
    await bus.drain()

    assert [type(m) for m in seen] == [PositionChanged, PortfolioSnapshot]
