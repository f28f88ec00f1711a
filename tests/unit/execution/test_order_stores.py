"""Both order stores keep one contract: what the lifecycle decides, persisted; the SQLite one also across restarts."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from services.execution.adapters.memory_store import MemoryOrderStore
from services.execution.adapters.sqlite_store import SqliteOrderStore
from services.execution.adapters.store import OrderStore
from services.execution.domain.events import order_event
from services.execution.domain.lifecycle import Change, decide
from services.execution.domain.orders import OrderStatus
from services.execution.domain.reports import Accepted, Canceled, Filled, OrderEvent, Rejected, SubmitUnknown
from shared.contracts import OrderAccepted, OrderFilled, OrderRejected, OrderType

from .factories import DAY, T0, order

D = Decimal
CAUSE = UUID(int=42)


def fill(fill_id: str, quantity: str, cumulative: str, client_order_id: str = "c-1") -> Filled:
    return Filled(client_order_id, "v-1", fill_id, D(quantity), D("10.5"), D("0.01"), D(cumulative),
                  D(100) - D(cumulative), T0)


def apply(store: OrderStore, report: OrderEvent) -> Change | None:
    """Apply ``report`` the way the order path does: the lifecycle decides, the store keeps it with its event."""
    seen = isinstance(report, Filled) and store.seen_fill(report.fill_id)
    change = decide(store.get(report.client_order_id), report, fill_seen=seen)
    if change is not None:
        event = order_event(change.order, report, causation_id=CAUSE, source="test", now=T0) if change.announced \
            else None
        store.save(change, event)
    return change


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest) -> Iterator[OrderStore]:
    store: OrderStore = MemoryOrderStore() if request.param == "memory" else SqliteOrderStore()
    yield store
    store.close()


def test_pending_order_is_recorded_once_and_a_redelivery_writes_nothing(store: OrderStore) -> None:
    assert store.record(order())
    assert not store.record(order(quantity=D(5)))
    assert store.get("c-1").quantity == D(100)  # type: ignore[union-attr]
    assert store.get("c-2") is None


def test_only_pending_orders_can_be_recorded(store: OrderStore) -> None:
    with pytest.raises(ValueError):
        store.record(order(status=OrderStatus.ACCEPTED))


def test_a_refusal_is_owed_once_and_blocks_an_order_of_the_same_id(store: OrderStore) -> None:
    event = OrderRejected(ts_event=T0, ts_init=T0, source="test", client_order_id="c-1", strategy_id="s",
                          symbol="ORCL", reason="no price")

    assert store.refuse("c-1", event) and not store.refuse("c-1", event)
    assert not store.record(order())
    assert [o.message.message_id for o in store.outbox.unpublished()] == [event.message_id]


def test_applied_reports_move_the_order_the_fills_and_the_position(store: OrderStore) -> None:
    store.record(order())
    apply(store, Accepted("c-1", "v-1", T0))
    apply(store, fill("v-1-1", "40", "40"))

    assert (store.get("c-1").status, store.get("c-1").filled_quantity) == (  # type: ignore[union-attr]
        OrderStatus.PARTIALLY_FILLED, D(40))
    assert store.seen_fill("v-1-1") and not store.seen_fill("v-1-2")
    assert store.positions() == {("sma_cross", "ORCL"): D(40)}


def test_in_flight_and_open_orders_come_oldest_first(store: OrderStore) -> None:
    store.record(order(client_order_id="unknown", created_at=T0 + DAY))
    store.record(order(client_order_id="pending"))
    apply(store, SubmitUnknown("unknown", T0, "timeout"))
    store.record(order(client_order_id="working", created_at=T0 + 2 * DAY))
    apply(store, Accepted("working", "v-w", T0))
    store.record(order(client_order_id="done", created_at=T0 + 3 * DAY))
    apply(store, Rejected("done", "no", T0))

    assert [o.client_order_id for o in store.in_flight()] == ["pending", "unknown"]
    assert [o.client_order_id for o in store.open_orders()] == ["pending", "unknown", "working"]
    assert set(store.orders(["done", "missing", "working"])) == {"done", "working"}


def test_terminal_orders_leave_the_open_orders(store: OrderStore) -> None:
    store.record(order())
    apply(store, Accepted("c-1", "v-1", T0))
    apply(store, Canceled("c-1", "v-1", D(0), T0, "asked"))

    assert store.open_orders() == [] and store.get("c-1").status is OrderStatus.CANCELED  # type: ignore[union-attr]


def test_announced_reports_wait_in_the_outbox_in_order_until_marked_published(store: OrderStore) -> None:
    store.record(order())
    apply(store, SubmitUnknown("c-1", T0, "timeout"))  # announces nothing
    apply(store, Accepted("c-1", "v-1", T0))
    apply(store, fill("v-1-1", "40", "40"))

    outgoing = store.outbox.unpublished()
    assert [type(o.message) for o in outgoing] == [OrderAccepted, OrderFilled]
    assert all(o.message.causation_id == CAUSE for o in outgoing)
    store.outbox.mark_published(outgoing[0].seq)
    assert [o.seq for o in store.outbox.unpublished()] == [outgoing[1].seq]


def test_the_reconcile_cursor_and_the_halt_are_kept(store: OrderStore) -> None:
    assert store.reconcile_cursor() is None and store.halt() == (False, None)

    store.save_reconcile_cursor("17")
    store.save_halt(True, "drawdown")

    assert store.reconcile_cursor() == "17" and store.halt() == (True, "drawdown")


def test_everything_survives_reopening_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.sqlite"
    first = SqliteOrderStore(path)
    first.record(order(order_type=OrderType.STOP_LIMIT, stop_price=D("10.5"), limit_price=D("10.75"),
                       recorded_at=T0 + DAY))
    apply(first, Accepted("c-1", "v-1", T0))
    apply(first, fill("v-1-1", "40", "40"))
    first.save_halt(True, "drawdown")
    expected, owed = first.get("c-1"), first.outbox.unpublished()
    first.close()

    second = SqliteOrderStore(path)
    assert second.get("c-1") == expected and expected.recorded_at == T0 + DAY  # type: ignore[union-attr]
    assert second.seen_fill("v-1-1") and apply(second, fill("v-1-1", "40", "40")) is None
    assert second.positions() == {("sma_cross", "ORCL"): D(40)} and second.halt() == (True, "drawdown")
    assert [(o.seq, o.message) for o in second.outbox.unpublished()] == [(o.seq, o.message) for o in owed]
    second.close()
