"""Crash-safe order flow end to end: the order path (``OrderFlow``) over the SQLite store and the paper broker,
with crashes at every step and answers lost on the way. Nothing is ever sent twice, nothing recorded is lost."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from services.execution.adapters.broker import OutcomeUnknown
from services.execution.adapters.paper import PaperBroker
from services.execution.adapters.sqlite_store import SqliteOrderStore
from services.execution.domain.orders import Order, OrderStatus
from services.execution.domain.reconcile import NEVER_RECEIVED
from services.execution.domain.reports import Filled, Report
from services.execution.domain.risk import RiskLimits
from services.execution.domain.sizing import SizingPolicy
from services.execution.order_flow import OrderFlow
from shared.contracts import Message, OrderAccepted, OrderFilled, OrderType
from shared.runtime.clock import SimulatedClock
from tests.factories import signal

from .factories import DAY, T0, bar, order

LOST_AFTER = timedelta(minutes=1)
CAUSE = signal()
WALL = T0 + timedelta(days=3650)
"""The wall clock of the service: ten years after the event times of the replayed data."""


class RecordingBus:
    def __init__(self) -> None:
        self.published: list[Message] = []

    async def publish(self, message: Message) -> None:
        self.published.append(message)


class LosingBroker(PaperBroker):
    """A paper broker whose submit answer is lost: after the broker got the order, or before."""

    def __init__(self, *args: object, lose: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lose = lose
        self.received: list[str] = []

    async def submit(self, order: Order) -> Sequence[Report]:
        if self.lose == "request":
            raise OutcomeUnknown("connection reset before the request was written")
        self.received.append(order.client_order_id)
        await super().submit(order)
        raise OutcomeUnknown("timed out waiting for the answer")


class CursorBroker(PaperBroker):
    """A paper broker that remembers where each reconciliation asked for fills from."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.asked: list[tuple[str | None, int]] = []

    async def fills_since(self, cursor: str | None = None) -> tuple[Sequence[Filled], str | None]:
        fills, next_cursor = await super().fills_since(cursor)
        self.asked.append((cursor, len(fills)))
        return fills, next_cursor


def flow_on(store: SqliteOrderStore, broker: PaperBroker, clock: SimulatedClock, bus: RecordingBus | None = None,
            limits: RiskLimits | None = None) -> OrderFlow:
    flow = OrderFlow(store, broker, SizingPolicy(), limits or RiskLimits(), bus or RecordingBus(), clock,  # type: ignore[arg-type]
                     "execution@test", LOST_AFTER)
    flow.restore()
    return flow


async def test_order_sent_but_never_recorded_is_adopted_with_its_fill_at_start_up(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    broker = PaperBroker(clock=clock, path=tmp_path / "paper.sqlite")
    await broker.on_market(bar(T0))
    await broker.submit(order())
    await broker.on_market(bar(T0 + DAY, open="10.10"))
    bus = RecordingBus()
    flow = flow_on(SqliteOrderStore(tmp_path / "orders.sqlite"), broker, clock, bus)

    await flow.recover(send_unsent=True)

    adopted = flow.store.get("c-1")
    assert adopted is not None
    assert (adopted.status, adopted.filled_quantity, adopted.venue_order_id) == (OrderStatus.FILLED, 100, "paper-c-1")
    assert flow.store.seen_fill("paper-c-1-1") and flow.account.position("sma_cross", "ORCL") == 100
    assert [type(m) for m in bus.published] == [OrderAccepted, OrderFilled]
    await flow.recover()
    assert len(bus.published) == 2


async def test_crash_after_send_before_recording_the_answer_is_caught_up_from_the_broker(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    broker = PaperBroker(clock=clock)
    await broker.on_market(bar(T0))
    store = SqliteOrderStore(tmp_path / "orders.sqlite")
    store.record(order(recorded_at=T0))
    await broker.submit(order())  # then the process died
    store.close()

    restarted = flow_on(SqliteOrderStore(tmp_path / "orders.sqlite"), broker, clock)
    await restarted.recover(send_unsent=True)

    assert restarted.store.get("c-1").status is OrderStatus.ACCEPTED  # type: ignore[union-attr]


async def test_unknown_outcome_stays_in_flight_and_resolves_from_the_broker_without_a_resend() -> None:
    clock = SimulatedClock(T0)
    broker = LosingBroker(clock=clock, lose="answer")
    flow = flow_on(SqliteOrderStore(), broker, clock)
    await broker.on_market(bar(T0))
    await flow.place(order(recorded_at=T0), CAUSE)
    assert flow.store.get("c-1").status is OrderStatus.IN_FLIGHT  # type: ignore[union-attr]

    await broker.on_market(bar(T0 + DAY))
    await flow.recover(send_unsent=True)

    placed = flow.store.get("c-1")
    assert placed is not None and (placed.status, placed.filled_quantity) == (OrderStatus.FILLED, 100)
    assert broker.received == ["c-1"]


async def test_submit_lost_before_reaching_the_broker_is_rejected_only_after_lost_after() -> None:
    clock = SimulatedClock(T0)
    broker = LosingBroker(clock=clock, lose="request")
    flow = flow_on(SqliteOrderStore(), broker, clock)
    await flow.place(order(recorded_at=T0), CAUSE)

    clock.advance(timedelta(seconds=10))
    await flow.recover()
    assert flow.store.get("c-1").status is OrderStatus.IN_FLIGHT  # type: ignore[union-attr]

    clock.advance(LOST_AFTER)
    await flow.recover()
    rejected = flow.store.get("c-1")
    assert rejected is not None and (rejected.status, rejected.reason) == (OrderStatus.REJECTED, NEVER_RECEIVED)
    assert broker.received == []


async def test_an_order_recorded_and_never_sent_is_sent_at_restart_however_old_its_event_time() -> None:
    clock = SimulatedClock(WALL)
    broker = PaperBroker(clock=clock)
    store = SqliteOrderStore()
    store.record(order(created_at=T0, updated_at=T0, recorded_at=WALL))  # a replayed signal of 10 years ago
    clock.advance(timedelta(seconds=20))  # the restart took 20 s

    flow = flow_on(store, broker, clock)
    await flow.recover(send_unsent=True)

    assert store.get("c-1").status is OrderStatus.ACCEPTED  # type: ignore[union-attr]
    assert [o.client_order_id for o in await broker.open_orders()] == ["c-1"]


async def test_an_order_recorded_longer_ago_than_lost_after_is_rejected_at_restart_not_sent() -> None:
    clock = SimulatedClock(WALL)
    broker = PaperBroker(clock=clock)
    store = SqliteOrderStore()
    store.record(order(recorded_at=WALL))
    clock.advance(LOST_AFTER + timedelta(seconds=1))

    await flow_on(store, broker, clock).recover(send_unsent=True)

    assert store.get("c-1").status is OrderStatus.REJECTED and await broker.open_orders() == []  # type: ignore[union-attr]


async def test_after_a_restart_a_late_order_fills_at_the_price_it_would_have_without_one(tmp_path: Path) -> None:
    async def fill_price(restart: bool) -> Decimal:
        clock = SimulatedClock(WALL)
        broker = PaperBroker(clock=clock, path=tmp_path / f"paper-{restart}.sqlite")
        for n, open_ in enumerate(("10", "11", "12")):
            await broker.on_market(bar(T0 + n * DAY, open=open_, high="20", low="1", close="10", sequence=n + 1))
        if restart:
            await broker.close()
            broker = PaperBroker(clock=clock, path=tmp_path / f"paper-{restart}.sqlite")
        flow = flow_on(SqliteOrderStore(), broker, clock)
        await flow.place(order(created_at=T0, recorded_at=WALL), CAUSE)  # the signal of bar 0, late
        filled = flow.store.get("c-1")
        assert filled is not None and filled.average_fill_price is not None
        return filled.average_fill_price

    assert await fill_price(restart=True) == await fill_price(restart=False) == Decimal("11")


async def test_a_bar_shown_again_after_a_restart_fills_nothing_twice(tmp_path: Path) -> None:
    clock = SimulatedClock(WALL)
    path = tmp_path / "paper.sqlite"
    broker = PaperBroker(clock=clock, path=path)
    bars = [bar(T0 + n * DAY, open=str(10 + n), high="20", low="1", close="10", sequence=n + 1) for n in range(3)]
    await broker.on_market(bars[0])
    await broker.submit(order(order_type=OrderType.LIMIT, limit_price=Decimal("15")))
    await broker.on_market(bars[1])
    await broker.close()

    restarted = PaperBroker(clock=clock, path=path)
    assert await restarted.on_market(bars[1]) == () and await restarted.on_market(bars[0]) == ()
    fills, _ = await restarted.fills_since()
    assert [f.fill_id for f in fills] == ["paper-c-1-1"]


async def test_a_halt_survives_a_restart_and_refuses_new_risk_from_the_first_order(tmp_path: Path) -> None:
    clock = SimulatedClock(WALL)
    path = tmp_path / "orders.sqlite"
    flow = flow_on(SqliteOrderStore(path), PaperBroker(clock=clock), clock)
    flow.set_halt(True, "max drawdown")
    flow.store.close()

    restarted = flow_on(SqliteOrderStore(path), PaperBroker(clock=clock), clock)
    await restarted.place(order(recorded_at=WALL), CAUSE)

    refused = restarted.store.get("c-1")
    assert restarted.account.halted and refused is not None and refused.status is OrderStatus.REJECTED
    assert "trading halted: max drawdown" in refused.reason


async def test_an_order_event_sent_again_after_a_crash_carries_the_same_id(tmp_path: Path) -> None:
    clock = SimulatedClock(WALL)
    path = tmp_path / "orders.sqlite"
    broker = PaperBroker(clock=clock)
    await broker.on_market(bar(T0))
    flow = flow_on(SqliteOrderStore(path), broker, clock)
    flow.store.record(order(recorded_at=WALL))
    await flow.check_and_send(order(recorded_at=WALL), None)  # applied and owed; then the process died
    owed = [o.message for o in flow.store.outbox.unpublished()]
    flow.store.close()

    bus = RecordingBus()
    await flow_on(SqliteOrderStore(path), broker, clock, bus).publisher.flush()

    assert [m.message_id for m in bus.published] == [m.message_id for m in owed] and owed
    assert (await _announce_again(tmp_path, clock)).message_id == owed[0].message_id


async def _announce_again(tmp_path: Path, clock: SimulatedClock) -> Message:
    broker = PaperBroker(clock=clock)
    await broker.on_market(bar(T0))
    bus = RecordingBus()
    flow = flow_on(SqliteOrderStore(tmp_path / "again.sqlite"), broker, clock, bus)
    await flow.place(order(recorded_at=WALL), CAUSE)
    return bus.published[0]


async def test_reconciliation_asks_only_for_the_fills_since_the_last_one(tmp_path: Path) -> None:
    clock = SimulatedClock(WALL)
    broker = CursorBroker(clock=clock, path=tmp_path / "paper.sqlite")
    flow = flow_on(SqliteOrderStore(), broker, clock)
    await broker.on_market(bar(T0, sequence=1))
    for n in range(3):
        await flow.place(order(client_order_id=f"c-{n}", recorded_at=WALL), CAUSE)
    await broker.on_market(bar(T0 + DAY, sequence=2))

    await flow.recover()
    await flow.recover()

    assert broker.asked == [(None, 3), ("3", 0)]
