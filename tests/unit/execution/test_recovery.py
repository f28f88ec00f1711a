"""Crash-safe order flow end to end: order store + paper broker + reconcile, with crashes and lost answers.

``send`` and ``recover`` are the order path as the service runs it: record, send, apply the answer; on start-up
ask the broker, adopt and apply what the plan says (the store's outbox then holds what to publish). Nothing is
ever sent twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from shared.runtime.clock import SimulatedClock
from services.execution.adapters.broker import OutcomeUnknown
from services.execution.adapters.order_store import OrderStore
from services.execution.adapters.paper import PaperBroker
from services.execution.domain.orders import Order, OrderStatus
from services.execution.domain.reconcile import NEVER_RECEIVED, ReconcilePlan, reconcile
from services.execution.domain.reports import Accepted, Filled, Report, SubmitUnknown

from .factories import DAY, T0, bar, order

LOST_AFTER = timedelta(minutes=1)


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


async def send(store: OrderStore, broker: PaperBroker, o: Order, clock: SimulatedClock) -> None:
    store.record_pending(o)
    try:
        reports = await broker.submit(o)
    except OutcomeUnknown as error:
        store.apply(SubmitUnknown(o.client_order_id, clock.now(), str(error)))
        return
    for report in reports:
        store.apply(report)


async def recover(store: OrderStore, broker: PaperBroker, clock: SimulatedClock) -> ReconcilePlan:
    mine = {o.client_order_id: o for o in store.open_orders()}
    view = await broker.view(mine)
    mine |= store.orders(o.client_order_id for o in view.orders)
    plan = reconcile(mine, view, store.seen_fill, clock.now(), LOST_AFTER)
    for adopted in plan.adopt:
        store.record_pending(adopted)
    for event in plan.events:
        store.apply(event)
    return plan


async def test_order_sent_but_never_recorded_is_adopted_with_its_fill_at_start_up(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    broker = PaperBroker(clock=clock, path=tmp_path / "paper.sqlite")
    await broker.on_market(bar(T0))
    await broker.submit(order())
    await broker.on_market(bar(T0 + DAY, open="10.10"))
    store = OrderStore(tmp_path / "orders.sqlite")

    plan = await recover(store, broker, clock)

    adopted = store.get("c-1")
    assert [o.client_order_id for o in plan.adopt] == ["c-1"]
    assert (adopted.status, adopted.filled_quantity, adopted.venue_order_id) == (OrderStatus.FILLED, 100, "paper-c-1")
    assert store.seen_fill("paper-c-1-1")
    assert [type(o.report) for o in store.unpublished()] == [Accepted, Filled]
    assert (await recover(store, broker, clock)).events == ()


async def test_crash_after_send_before_recording_the_answer_is_caught_up_from_the_broker(tmp_path: Path) -> None:
    clock = SimulatedClock(T0)
    broker = PaperBroker(clock=clock)
    await broker.on_market(bar(T0))
    store = OrderStore(tmp_path / "orders.sqlite")
    store.record_pending(order())
    await broker.submit(order())
    store.close()

    restarted = OrderStore(tmp_path / "orders.sqlite")
    await recover(restarted, broker, clock)
    assert restarted.get("c-1").status is OrderStatus.ACCEPTED


async def test_unknown_outcome_stays_in_flight_and_resolves_from_the_broker_without_a_resend() -> None:
    clock = SimulatedClock(T0)
    broker = LosingBroker(clock=clock, lose="answer")
    store = OrderStore()
    await broker.on_market(bar(T0))
    await send(store, broker, order(), clock)
    assert store.get("c-1").status is OrderStatus.IN_FLIGHT

    await broker.on_market(bar(T0 + DAY))
    await recover(store, broker, clock)

    assert (store.get("c-1").status, store.get("c-1").filled_quantity) == (OrderStatus.FILLED, 100)
    assert broker.received == ["c-1"]


async def test_submit_lost_before_reaching_the_broker_is_rejected_only_after_lost_after() -> None:
    clock = SimulatedClock(T0)
    broker = LosingBroker(clock=clock, lose="request")
    store = OrderStore()
    await send(store, broker, order(), clock)

    clock.advance(timedelta(seconds=10))
    plan = await recover(store, broker, clock)
    assert plan.still_in_flight == ("c-1",) and store.get("c-1").status is OrderStatus.IN_FLIGHT

    clock.advance(LOST_AFTER)
    await recover(store, broker, clock)
    assert (store.get("c-1").status, store.get("c-1").reason) == (OrderStatus.REJECTED, NEVER_RECEIVED)
    assert broker.received == []
