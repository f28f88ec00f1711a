"""The SQLite order store: pending before send, idempotent events and fills, and state that survives reopening."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from shared.contracts import OrderType
from services.execution.adapters.order_store import OrderStore, UnknownOrder
from services.execution.domain.orders import IllegalTransition, OrderStatus
from services.execution.domain.reports import Accepted, Filled, Rejected, SubmitUnknown

from .factories import DAY, T0, order

D = Decimal


def fill(fill_id: str, quantity: str, cumulative: str) -> Filled:
    return Filled("c-1", "v-1", fill_id, D(quantity), D("10.5"), D("0.01"), D(cumulative),
                  D(100) - D(cumulative), T0)


@pytest.fixture
def store() -> Iterator[OrderStore]:
    store = OrderStore()
    yield store
    store.close()


def test_pending_order_is_recorded_once_and_a_redelivery_writes_nothing(store: OrderStore) -> None:
    assert store.record_pending(order())
    assert not store.record_pending(order(quantity=D(5)))
    assert store.get("c-1").quantity == D(100)
    assert store.known("c-1") and not store.known("c-2")


def test_only_pending_orders_can_be_recorded_as_pending(store: OrderStore) -> None:
    with pytest.raises(ValueError):
        store.record_pending(order(status=OrderStatus.ACCEPTED))


def test_applying_events_moves_the_stored_order(store: OrderStore) -> None:
    store.record_pending(order())
    store.apply(Accepted("c-1", "v-1", T0))
    updated = store.apply(fill("v-1-1", "40", "40"))
    assert (updated.status, updated.filled_quantity) == (OrderStatus.PARTIALLY_FILLED, D(40))
    assert store.get("c-1") == updated


def test_fill_applied_twice_changes_nothing(store: OrderStore) -> None:
    store.record_pending(order())
    store.apply(Accepted("c-1", "v-1", T0))
    store.apply(fill("v-1-1", "40", "40"))
    assert store.seen_fill("v-1-1")
    assert store.apply(fill("v-1-1", "40", "40")) is None
    assert store.get("c-1").filled_quantity == D(40)


def test_repeated_acceptance_is_already_applied(store: OrderStore) -> None:
    store.record_pending(order())
    store.apply(Accepted("c-1", "v-1", T0))
    assert store.apply(Accepted("c-1", "v-1", T0)) is None


def test_illegal_event_raises_and_leaves_the_order_unchanged(store: OrderStore) -> None:
    store.record_pending(order())
    store.apply(Rejected("c-1", "risk", T0))
    with pytest.raises(IllegalTransition):
        store.apply(fill("v-1-1", "40", "40"))
    assert store.get("c-1").status is OrderStatus.REJECTED
    assert not store.seen_fill("v-1-1")


def test_event_for_an_unknown_order_raises(store: OrderStore) -> None:
    with pytest.raises(UnknownOrder):
        store.apply(Accepted("nope", "v", T0))


def test_in_flight_lists_unanswered_orders_and_open_orders_lists_every_live_one(store: OrderStore) -> None:
    store.record_pending(order(client_order_id="pending"))
    store.record_pending(order(client_order_id="unknown", created_at=T0 + DAY))
    store.apply(SubmitUnknown("unknown", T0, "timeout"))
    store.record_pending(order(client_order_id="working", created_at=T0 + 2 * DAY))
    store.apply(Accepted("working", "v-w", T0))
    store.record_pending(order(client_order_id="done", created_at=T0 + 3 * DAY))
    store.apply(Rejected("done", "no", T0))
    assert [o.client_order_id for o in store.in_flight()] == ["pending", "unknown"]
    assert [o.client_order_id for o in store.open_orders()] == ["pending", "unknown", "working"]
    assert set(store.orders(["done", "missing", "working"])) == {"done", "working"}


def test_orders_and_fills_survive_reopening_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite"
    first = OrderStore(path)
    first.record_pending(order(order_type=OrderType.STOP_LIMIT, stop_price=D("10.5"), limit_price=D("10.75")))
    first.apply(Accepted("c-1", "v-1", T0))
    first.apply(fill("v-1-1", "40", "40"))
    expected = first.get("c-1")
    first.close()
    second = OrderStore(path)
    assert second.get("c-1") == expected
    assert second.seen_fill("v-1-1")
    assert second.apply(fill("v-1-1", "40", "40")) is None
    assert [o.client_order_id for o in second.open_orders()] == ["c-1"]
    second.close()


def test_latest_fill_time_is_that_of_the_newest_applied_fill(store: OrderStore) -> None:
    assert store.latest_fill_time() is None
    store.record_pending(order())
    store.apply(Accepted("c-1", "v-1", T0))
    store.apply(Filled("c-1", "v-1", "v-1-1", D(40), D(10), D(0), D(40), D(60), T0 + DAY))
    store.apply(Filled("c-1", "v-1", "v-1-2", D(60), D(10), D(0), D(100), D(0), T0 + 2 * DAY))
    assert store.latest_fill_time() == T0 + 2 * DAY


def test_announced_reports_wait_in_the_outbox_until_marked_published(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite"
    store = OrderStore(path)
    cause = UUID(int=42)
    store.record_pending(order())
    store.apply(SubmitUnknown("c-1", T0, "timeout"))
    store.apply(Accepted("c-1", "v-1", T0), causation_id=cause)
    store.apply(fill("v-1-1", "40", "40"))
    store.apply(fill("v-1-1", "40", "40"))
    store.close()

    reopened = OrderStore(path)
    outgoing = reopened.unpublished()
    assert [(type(o.report), o.causation_id) for o in outgoing] == [(Accepted, cause), (Filled, None)]
    assert outgoing[1].report == fill("v-1-1", "40", "40")
    assert outgoing[1].order.filled_quantity == D(40)
    reopened.mark_published(outgoing[0].seq)
    assert [o.seq for o in reopened.unpublished()] == [outgoing[1].seq]
    reopened.close()
