"""The order lifecycle's one rule: what a report changes, decided in one place for every store and broker.

``decide`` takes an order as stored and a report about it (a broker's answer, a fill, the service's own
``Submitted``/``SubmitUnknown``) and returns the ``Change``: the order after it, the quantity it filled, and
whether it is announced (an event to publish). ``None`` means the report is already applied: a fill id seen
before, or a report the order's state has overtaken. An impossible report raises ``IllegalTransition``; one about
an order never recorded raises ``UnknownOrder``. Stores only persist what this decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.contracts.fees import booked

from .orders import Order, already_applied, transition
from .reports import Accepted, Canceled, Expired, Filled, OrderEvent, Rejected

ANNOUNCED = (Accepted, Rejected, Filled, Canceled, Expired)
"""The reports the service announces as order events; ``Submitted``, ``SubmitUnknown`` and ``Triggered`` are not."""


class UnknownOrder(LookupError):
    """Raised when a report names a client order id the service has never recorded."""


@dataclass(frozen=True, slots=True)
class Change:
    """What one report did: the order after it, the report, the quantity it filled, whether it is announced."""

    order: Order
    report: OrderEvent
    filled: Decimal
    announced: bool

    @property
    def position_delta(self) -> Decimal:
        """Return how the report moved the strategy's position in the symbol (signed): a fee charged in the base
        asset leaves less of it than was filled (``fees.booked``)."""
        report = self.report
        if isinstance(report, Filled) and report.commission_currency is not None:
            order = self.order
            moved = booked(order.symbol, order.side, self.filled, report.price, report.commission,
                           report.commission_currency).quantity
            return order.side.sign * moved
        return self.order.side.sign * self.filled


def decide(order: Order | None, report: OrderEvent, *, fill_seen: bool = False) -> Change | None:
    """Return what ``report`` changes about ``order``, or ``None`` when it is already applied.

    ``fill_seen``: the report is a fill whose id was applied before.
    """
    if order is None:
        raise UnknownOrder(report.client_order_id)
    if fill_seen or already_applied(order, report):
        return None
    updated = transition(order, report)
    return Change(updated, report, updated.filled_quantity - order.filled_quantity, isinstance(report, ANNOUNCED))
