"""The in-memory order store keeps the SQLite store's promises within one process: the same answers, op by op."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from uuid import UUID

import pytest

from services.execution.adapters.memory_store import MemoryOrderStore
from services.execution.adapters.order_store import OrderStore, UnknownOrder
from services.execution.domain.orders import IllegalTransition, OrderStatus
from services.execution.domain.reports import Accepted, Canceled, Filled, Rejected, Submitted, SubmitUnknown

from .factories import DAY, T0, order

D = Decimal


def fill(fill_id: str, quantity: str, cumulative: str, client_order_id: str = "c-1") -> Filled:
    return Filled(client_order_id, "v-1", fill_id, D(quantity), D("10.5"), D("0.01"), D(cumulative),
                  D(100) - D(cumulative), T0)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> Iterator[MemoryOrderStore | OrderStore]:
    store = MemoryOrderStore() if request.param == "memory" else OrderStore()
    yield store
    store.close()


def test_pending_order_is_recorded_once_and_a_redelivery_writes_nothing(store: MemoryOrderStore) -> None:
    assert store.record_pending(order())
    assert not store.record_pending(order(quantity=D(5)))
    assert store.get("c-1").quantity == D(100)
    assert store.known("c-1") and not store.known("c-2")


def test_only_pending_orders_can_be_recorded_as_pending(store: MemoryOrderStore) -> None:
    with pytest.raises(ValueError):
        store.record_pending(order(status=OrderStatus.ACCEPTED))


def test_fill_applied_twice_changes_nothing(store: MemoryOrderStore) -> None:
    store.record_pending(order())
    store.apply(Accepted("c-1", "v-1", T0))
    updated = store.apply(fill("v-1-1", "40", "40"))
    assert (updated.status, updated.filled_quantity) == (OrderStatus.PARTIALLY_FILLED, D(40))
    assert store.apply(fill("v-1-1", "40", "40")) is None
    assert store.get("c-1") == updated and store.seen_fill("v-1-1")


def test_repeated_or_overtaken_reports_are_already_applied(store: MemoryOrderStore) -> None:
    store.record_pending(order())
    store.apply(Accepted("c-1", "v-1", T0))
    assert store.apply(Accepted("c-1", "v-1", T0)) is None
    assert store.apply(Submitted("c-1", T0)) is None


def test_illegal_event_raises_and_leaves_the_store_unchanged(store: MemoryOrderStore) -> None:
    store.record_pending(order())
    store.apply(Rejected("c-1", "risk", T0))
    outbox = [o.seq for o in store.unpublished()]
    with pytest.raises(IllegalTransition):
        store.apply(fill("v-1-1", "40", "40"))
    assert store.get("c-1").status is OrderStatus.REJECTED
    assert not store.seen_fill("v-1-1") and store.latest_fill_time() is None
    assert [o.seq for o in store.unpublished()] == outbox


def test_event_for_an_unknown_order_raises(store: MemoryOrderStore) -> None:
    with pytest.raises(UnknownOrder):
        store.apply(Accepted("nope", "v", T0))


def test_in_flight_open_and_all_orders_come_oldest_first(store: MemoryOrderStore) -> None:
    store.record_pending(order(client_order_id="unknown", created_at=T0 + DAY))
    store.record_pending(order(client_order_id="pending"))
    store.apply(SubmitUnknown("unknown", T0, "timeout"))
    store.record_pending(order(client_order_id="working", created_at=T0 + 2 * DAY))
    store.apply(Accepted("working", "v-w", T0))
    store.record_pending(order(client_order_id="done", created_at=T0 + 3 * DAY))
    store.apply(Rejected("done", "no", T0))
    assert [o.client_order_id for o in store.in_flight()] == ["pending", "unknown"]
    assert [o.client_order_id for o in store.open_orders()] == ["pending", "unknown", "working"]
    assert [o.client_order_id for o in store.all_orders()] == ["pending", "unknown", "working", "done"]
    assert set(store.orders(["done", "missing", "working"])) == {"done", "working"}


def test_terminal_orders_leave_the_open_orders(store: MemoryOrderStore) -> None:
    store.record_pending(order())
    store.apply(Accepted("c-1", "v-1", T0))
    store.apply(Canceled("c-1", "v-1", D(0), T0, "asked"))
    assert store.open_orders() == [] and store.get("c-1").status is OrderStatus.CANCELED


def test_latest_fill_time_is_that_of_the_newest_applied_fill(store: MemoryOrderStore) -> None:
    store.record_pending(order())
    store.apply(Accepted("c-1", "v-1", T0))
    store.apply(Filled("c-1", "v-1", "v-1-2", D(60), D(10), D(0), D(60), D(40), T0 + 2 * DAY))
    store.apply(Filled("c-1", "v-1", "v-1-1", D(40), D(10), D(0), D(100), D(0), T0 + DAY))
    assert store.latest_fill_time() == T0 + 2 * DAY


def test_announced_reports_wait_in_the_outbox_with_the_order_as_it_is_now(store: MemoryOrderStore) -> None:
    cause = UUID(int=42)
    store.record_pending(order())
    store.apply(SubmitUnknown("c-1", T0, "timeout"))
    store.apply(Accepted("c-1", "v-1", T0), causation_id=cause)
    store.apply(fill("v-1-1", "40", "40"))
    outgoing = store.unpublished()
    assert [(type(o.report), o.causation_id) for o in outgoing] == [(Accepted, cause), (Filled, None)]
    assert [o.order.filled_quantity for o in outgoing] == [D(40), D(40)]
    store.mark_published(outgoing[0].seq)
    assert [o.seq for o in store.unpublished()] == [outgoing[1].seq]
    store.mark_published(outgoing[1].seq)
    assert store.unpublished() == []
