"""Reconciliation: what the store must adopt, apply or leave in flight, given what the broker says; never a resend."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

from services.execution.domain.orders import Order, OrderStatus, transition
from services.execution.domain.reconcile import NEVER_RECEIVED, BrokerView, reconcile
from services.execution.domain.reports import Accepted, Canceled, Filled, Rejected, SubmitUnknown

from .factories import T0, order

D = Decimal
LOST_AFTER = timedelta(minutes=1)
NOW = T0 + timedelta(minutes=5)


def accepted(o: Order) -> Order:
    return transition(o, Accepted(o.client_order_id, f"v-{o.client_order_id}", T0))


def fill(client_id: str, n: int, quantity: str, cumulative: str, total: str = "100") -> Filled:
    return Filled(client_id, f"v-{client_id}", f"v-{client_id}-{n}", D(quantity), D(10), D(0), D(cumulative),
                  D(total) - D(cumulative), T0)


def broker_order(o: Order, *fills: Filled, status: OrderStatus | None = None) -> Order:
    theirs = accepted(o)
    for f in fills:
        theirs = transition(theirs, f)
    return theirs if status is None else replace(theirs, status=status)


def never_seen(fill_id: str) -> bool:
    return False


def test_order_the_broker_has_and_the_store_lacks_is_adopted_with_its_fills() -> None:
    f1 = fill("c-1", 1, "100", "100")
    plan = reconcile({}, BrokerView([broker_order(order(), f1)], [f1]), never_seen, NOW, LOST_AFTER)
    (adopted,) = plan.adopt
    assert (adopted.client_order_id, adopted.status, adopted.filled_quantity) == ("c-1", OrderStatus.PENDING_SUBMIT, 0)
    assert plan.events == (Accepted("c-1", "v-c-1", NOW), f1)
    assert plan.discrepancies == ()


def test_unknown_outcome_submit_takes_the_brokers_acceptance() -> None:
    ours = transition(order(), SubmitUnknown("c-1", T0, "timeout"))
    plan = reconcile({"c-1": ours}, BrokerView([broker_order(order())]), never_seen, NOW, LOST_AFTER)
    assert plan.events == (Accepted("c-1", "v-c-1", NOW),)
    assert plan.adopt == () and plan.still_in_flight == ()


def test_pending_order_the_broker_rejected_is_rejected_with_the_brokers_reason() -> None:
    theirs = transition(order(), Rejected("c-1", "insufficient buying power", T0))
    plan = reconcile({"c-1": order()}, BrokerView([theirs]), never_seen, NOW, LOST_AFTER)
    assert [(type(e), e.reason) for e in plan.events] == [(Rejected, "insufficient buying power")]


def test_submit_unknown_to_the_broker_stays_in_flight_until_lost_after_then_is_rejected() -> None:
    ours = transition(order(updated_at=NOW), SubmitUnknown("c-1", NOW - timedelta(seconds=10)))
    early = reconcile({"c-1": ours}, BrokerView(), never_seen, NOW, LOST_AFTER)
    assert early.still_in_flight == ("c-1",) and early.events == ()
    late = reconcile({"c-1": ours}, BrokerView(), never_seen, NOW + LOST_AFTER, LOST_AFTER)
    assert late.events == (Rejected("c-1", NEVER_RECEIVED, NOW + LOST_AFTER),)


def test_only_fills_not_yet_recorded_are_applied() -> None:
    f1, f2 = fill("c-1", 1, "40", "40"), fill("c-1", 2, "60", "100")
    ours = transition(accepted(order()), f1)
    plan = reconcile({"c-1": ours}, BrokerView([broker_order(order(), f1, f2)], [f1, f2]),
                     lambda fill_id: fill_id == f1.fill_id, NOW, LOST_AFTER)
    assert plan.events == (f2,)


def test_order_canceled_at_the_broker_after_a_partial_fill_gets_the_fill_then_the_cancel() -> None:
    f1 = fill("c-1", 1, "40", "40")
    theirs = broker_order(order(), f1, status=OrderStatus.CANCELED)
    plan = reconcile({"c-1": accepted(order())}, BrokerView([theirs], [f1]), never_seen, NOW, LOST_AFTER)
    assert [type(e) for e in plan.events] == [Filled, Canceled]
    assert plan.events[1].filled_quantity == D(40)


def test_working_order_unknown_to_the_broker_is_a_discrepancy_not_a_guess() -> None:
    plan = reconcile({"c-1": accepted(order())}, BrokerView(), never_seen, NOW, LOST_AFTER)
    assert plan.events == () and "unknown to the broker" in plan.discrepancies[0]


def test_broker_fill_quantity_not_covered_by_known_fills_is_a_discrepancy() -> None:
    theirs = broker_order(order(), fill("c-1", 1, "40", "40"))
    plan = reconcile({"c-1": accepted(order())}, BrokerView([theirs]), never_seen, NOW, LOST_AFTER)
    assert plan.events == () and "40 filled" in plan.discrepancies[0]


def test_order_terminal_here_but_working_at_the_broker_is_a_discrepancy() -> None:
    ours = transition(order(), Canceled("c-1", None, D(0), T0))
    plan = reconcile({"c-1": ours}, BrokerView([broker_order(order())]), never_seen, NOW, LOST_AFTER)
    assert plan.events == () and "still accepted at the broker" in plan.discrepancies[0]


def test_illegal_broker_history_becomes_a_discrepancy() -> None:
    overfill = fill("c-1", 1, "150", "150")
    theirs = broker_order(order(quantity=D(200)), fill("c-1", 1, "150", "150", total="200"))
    plan = reconcile({"c-1": accepted(order())}, BrokerView([theirs], [overfill]), never_seen, NOW, LOST_AFTER)
    assert plan.events == () and "overfill" in plan.discrepancies[0]


def test_fills_of_an_order_nobody_describes_are_a_discrepancy() -> None:
    plan = reconcile({}, BrokerView([], [fill("ghost", 1, "1", "1")]), never_seen, NOW, LOST_AFTER)
    assert plan.adopt == () and plan.events == () and "ghost" in plan.discrepancies[0]
