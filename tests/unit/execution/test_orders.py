"""The order state machine: legal paths, refused transitions, duplicates, and deterministic client order ids."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest

from services.execution.domain.orders import (
    IllegalTransition,
    Order,
    OrderStatus,
    already_applied,
    client_order_id_for,
    order_for_signal,
    transition,
)
from services.execution.domain.reports import (
    Accepted,
    Canceled,
    Expired,
    Filled,
    Rejected,
    Submitted,
    SubmitUnknown,
    Triggered,
)
from shared.contracts import OrderType, Side, TimeInForce
from tests.factories import signal, submit_order

from .factories import T0, order


def accepted(o: Order) -> Order:
    return transition(o, Accepted(o.client_order_id, "v-1", T0))


def fill(quantity: str, cumulative: str, price: str = "10", fill_id: str = "v-1-1") -> Filled:
    leaves = Decimal(100) - Decimal(cumulative)
    return Filled("c-1", "v-1", fill_id, Decimal(quantity), Decimal(price), Decimal(0), Decimal(cumulative),
                  leaves, T0)


def test_order_goes_from_pending_through_partial_fill_to_filled() -> None:
    o = accepted(transition(order(), Submitted("c-1", T0)))
    o = transition(o, fill("40", "40", price="10"))
    assert (o.status, o.filled_quantity, o.leaves_quantity) == (OrderStatus.PARTIALLY_FILLED, 40, 60)
    o = transition(o, fill("60", "100", price="11", fill_id="v-1-2"))
    assert o.status is OrderStatus.FILLED
    assert o.average_fill_price == Decimal("10.6")
    assert o.venue_order_id == "v-1"


def test_unknown_submit_outcome_leaves_order_in_flight_until_the_broker_answers() -> None:
    o = transition(order(), SubmitUnknown("c-1", T0, "timeout"))
    assert o.status is OrderStatus.IN_FLIGHT
    assert accepted(o).status is OrderStatus.ACCEPTED
    assert transition(o, Rejected("c-1", "no", T0)).status is OrderStatus.REJECTED


def test_fill_may_arrive_before_acceptance() -> None:
    o = transition(transition(order(), Submitted("c-1", T0)), fill("100", "100"))
    assert o.status is OrderStatus.FILLED
    assert o.venue_order_id == "v-1"


@pytest.mark.parametrize("terminal", [
    Canceled("c-1", "v-1", Decimal(0), T0), Expired("c-1", "v-1", Decimal(0), T0)])
def test_fill_after_cancel_or_expiry_is_refused(terminal: Canceled | Expired) -> None:
    o = transition(accepted(order()), terminal)
    with pytest.raises(IllegalTransition):
        transition(o, fill("10", "10"))


def test_accept_after_reject_is_refused() -> None:
    o = transition(order(), Rejected("c-1", "risk", T0))
    with pytest.raises(IllegalTransition):
        transition(o, Accepted("c-1", "v-1", T0))


def test_overfill_is_refused() -> None:
    o = transition(accepted(order()), fill("60", "60"))
    with pytest.raises(IllegalTransition, match="overfill"):
        transition(o, fill("50", "110", fill_id="v-1-2"))


def test_fill_whose_cumulative_disagrees_with_the_order_is_refused() -> None:
    o = transition(accepted(order()), fill("60", "60"))
    with pytest.raises(IllegalTransition, match="says"):
        transition(o, fill("10", "80", fill_id="v-1-2"))


def test_filled_order_cannot_be_canceled() -> None:
    o = transition(accepted(order()), fill("100", "100"))
    with pytest.raises(IllegalTransition):
        transition(o, Canceled("c-1", "v-1", Decimal(100), T0))


def test_accepted_order_cannot_be_resubmitted_or_go_back_in_flight() -> None:
    o = accepted(order())
    for event in (Submitted("c-1", T0), SubmitUnknown("c-1", T0)):
        with pytest.raises(IllegalTransition):
            transition(o, event)


def test_pending_order_can_be_canceled_locally_but_not_expired() -> None:
    assert transition(order(), Canceled("c-1", None, Decimal(0), T0)).status is OrderStatus.CANCELED
    with pytest.raises(IllegalTransition):
        transition(order(), Expired("c-1", None, Decimal(0), T0))


def test_trigger_keeps_a_working_order_working() -> None:
    o = accepted(order(order_type=OrderType.STOP_LIMIT, stop_price=Decimal(11), limit_price=Decimal(12)))
    assert transition(o, Triggered("c-1", "v-1", T0)).status is OrderStatus.ACCEPTED


def test_event_for_another_order_is_refused() -> None:
    with pytest.raises(IllegalTransition):
        transition(order(), Accepted("c-2", "v-2", T0))


def test_repeated_and_overtaken_events_are_recognised_as_already_applied() -> None:
    o = accepted(order())
    assert already_applied(o, Accepted("c-1", "v-1", T0))
    assert already_applied(o, SubmitUnknown("c-1", T0))
    assert not already_applied(o, Accepted("c-1", "v-other", T0))
    assert not already_applied(transition(order(), Rejected("c-1", "x", T0)), Accepted("c-1", "v-1", T0))
    canceled = transition(o, Canceled("c-1", "v-1", Decimal(0), T0))
    assert already_applied(canceled, Canceled("c-1", "v-1", Decimal(0), T0))
    assert not already_applied(o, Canceled("c-1", "v-1", Decimal(0), T0))


def test_order_needs_positive_quantity_and_the_prices_of_its_type() -> None:
    with pytest.raises(ValueError):
        order(quantity=Decimal(0))
    with pytest.raises(ValueError):
        order(order_type=OrderType.LIMIT)
    with pytest.raises(ValueError):
        order(order_type=OrderType.MARKET, limit_price=Decimal(10))


def test_client_order_id_is_the_same_for_a_redelivered_message_and_differs_by_leg() -> None:
    cause = uuid4()
    assert client_order_id_for(cause) == client_order_id_for(str(cause))
    assert client_order_id_for(cause, leg=1) != client_order_id_for(cause)
    assert client_order_id_for(uuid4()) != client_order_id_for(cause)


def test_order_for_a_signal_takes_its_id_from_the_signal() -> None:
    s = signal(order_type="limit", limit_price=Decimal("9.5"))
    o = order_for_signal(s, Side.BUY, Decimal(100), T0)
    assert o.client_order_id == client_order_id_for(s.message_id)
    assert (o.order_type, o.limit_price, o.status) == (OrderType.LIMIT, Decimal("9.5"), OrderStatus.PENDING_SUBMIT)
    assert o.correlation_id == str(s.correlation_id)


def test_exit_signal_without_usable_prices_becomes_a_market_order() -> None:
    s = signal(direction="exit", order_type="limit")
    assert order_for_signal(s, Side.SELL, Decimal(100), T0, reduce_only=True).order_type is OrderType.MARKET


def test_order_from_command_keeps_the_commands_client_id_and_terms() -> None:
    command = submit_order(order_type="stop", stop_price=Decimal(11), time_in_force="DAY", reduce_only=True)
    o = Order.from_command(command, T0)
    assert (o.client_order_id, o.order_type, o.stop_price, o.time_in_force, o.reduce_only) == (
        "c-1", OrderType.STOP, Decimal(11), TimeInForce.DAY, True)
