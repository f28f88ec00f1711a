"""Reports become the contract events the service publishes, keeping the order's correlation chain."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from services.execution.domain.events import order_event
from services.execution.domain.orders import order_for_signal, transition
from services.execution.domain.reports import Accepted, Canceled, Expired, Filled, Rejected, Submitted, Triggered
from shared.contracts import OrderAccepted, OrderCanceled, OrderExpired, OrderFilled, OrderRejected, Side
from tests.factories import signal

from .factories import DAY, T0, bar, order

D = Decimal
T1 = T0 + DAY


def test_fill_event_carries_the_fill_and_the_signals_correlation_caused_by_the_bar() -> None:
    s = signal()
    o = order_for_signal(s, Side.BUY, D(100), T0)
    accepted = Accepted(o.client_order_id, "v-1", T0)
    o = transition(o, accepted)
    filled = Filled(o.client_order_id, "v-1", "v-1-1", D(100), D("10.13"), D("1.013"), D(100), D(0), T1)
    o = transition(o, filled)
    cause = bar(T1)
    event = order_event(o, filled, causation_id=cause.message_id, source="execution", now=T1)
    assert isinstance(event, OrderFilled)
    assert (event.fill_id, event.quantity, event.price, event.commission, event.side) == (
        "v-1-1", D(100), D("10.13"), D("1.013"), Side.BUY)
    assert (event.cumulative_quantity, event.leaves_quantity, event.ts_event) == (D(100), D(0), T1)
    assert (event.correlation_id, event.causation_id) == (s.correlation_id, cause.message_id)


def test_each_report_maps_to_its_event_and_internal_steps_to_none() -> None:
    o = order(correlation_id=str(UUID(int=7)))
    cases = [(Accepted("c-1", "v-1", T0), OrderAccepted), (Rejected("c-1", "risk: halted", T0), OrderRejected),
             (Canceled("c-1", "v-1", D(0), T0, "user"), OrderCanceled), (Expired("c-1", "v-1", D(0), T0), OrderExpired)]
    for report, event_type in cases:
        event = order_event(o, report, causation_id=None, source="execution", now=T0)
        assert type(event) is event_type and event.correlation_id == UUID(int=7)
    assert order_event(o, Submitted("c-1", T0), causation_id=None, source="execution", now=T0) is None
    assert order_event(o, Triggered("c-1", "v-1", T0), causation_id=None, source="execution", now=T0) is None


def test_rejection_keeps_its_reason() -> None:
    event = order_event(order(), Rejected("c-1", "order quantity 500 exceeds max 100", T0), causation_id=None,
                        source="execution", now=T0)
    assert isinstance(event, OrderRejected) and event.reason == "order quantity 500 exceeds max 100"
