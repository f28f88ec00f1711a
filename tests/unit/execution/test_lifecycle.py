"""The order lifecycle's one rule: what a report changes, or that it is already applied, or impossible."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.execution.domain.lifecycle import UnknownOrder, decide
from services.execution.domain.orders import IllegalTransition, OrderStatus
from services.execution.domain.reports import Accepted, Filled, Rejected, Submitted, SubmitUnknown
from shared.contracts import Side

from .factories import T0, order

D = Decimal


def fill(fill_id: str, quantity: str, cumulative: str) -> Filled:
    return Filled("c-1", "v-1", fill_id, D(quantity), D("10.5"), D("0.01"), D(cumulative), D(100) - D(cumulative),
                  T0)


def test_a_fill_moves_the_order_and_the_position_and_is_announced() -> None:
    accepted = decide(order(), Accepted("c-1", "v-1", T0))
    assert accepted is not None
    change = decide(accepted.order, fill("v-1-1", "40", "40"))

    assert change is not None and change.announced
    assert (change.order.status, change.filled, change.position_delta) == (OrderStatus.PARTIALLY_FILLED, 40, 40)
    sell = decide(order(side=Side.SELL, status=OrderStatus.ACCEPTED), fill("v-1-1", "40", "40"))
    assert sell is not None and sell.position_delta == -40


def test_a_fill_already_seen_changes_nothing() -> None:
    assert decide(order(status=OrderStatus.ACCEPTED), fill("v-1-1", "40", "40"), fill_seen=True) is None


def test_repeated_or_overtaken_reports_are_already_applied() -> None:
    accepted = order(status=OrderStatus.ACCEPTED, venue_order_id="v-1")

    assert decide(accepted, Accepted("c-1", "v-1", T0)) is None
    assert decide(accepted, Submitted("c-1", T0)) is None
    assert decide(accepted, SubmitUnknown("c-1", T0)) is None


def test_the_service_s_own_reports_are_not_announced() -> None:
    change = decide(order(), SubmitUnknown("c-1", T0, "timeout"))

    assert change is not None and not change.announced and change.order.status is OrderStatus.IN_FLIGHT


def test_an_impossible_report_raises() -> None:
    with pytest.raises(IllegalTransition):
        decide(order(status=OrderStatus.REJECTED), fill("v-1-1", "40", "40"))
    with pytest.raises(IllegalTransition):
        decide(order(status=OrderStatus.FILLED, filled_quantity=D(100)), Rejected("c-1", "late", T0))


def test_a_report_about_an_order_never_recorded_raises() -> None:
    with pytest.raises(UnknownOrder):
        decide(None, Accepted("nope", "v", T0))
