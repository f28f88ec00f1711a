"""Skeleton of a venue adapter: copy to ``adapters/<venue>.py`` and fill in every method marked REQUIRED.

Rules every adapter keeps:

- The client order id is the idempotency key: send it to the venue with the order, and map the venue's
  "duplicate client id" answer to a ``Rejected`` report, never to a second order.
- ``submit`` raises ``OutcomeUnknown`` on a timeout or dropped connection *after* the request may have left; it
  never retries by itself. The service keeps the order in flight and reconciliation asks the venue later.
- Reports carry the venue's fill ids (or ids derived deterministically from them), so a fill seen both in a
  ``submit`` answer and in the order stream is applied once.
- Translate the venue's order records into the service's ``Order`` (status, filled quantity, average price).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..domain.orders import Order
from ..domain.reports import Filled, Report
from .broker import Broker


class TemplateBroker(Broker):
    """A venue adapter to be written; every method here must be implemented."""

    name = "template"

    async def connect(self) -> None:
        """REQUIRED: open the session, subscribe to the order/fill stream, forward reports to ``report_sink``."""
        raise NotImplementedError

    async def close(self) -> None:
        """REQUIRED: unsubscribe and close the session."""
        raise NotImplementedError

    async def submit(self, order: Order) -> Sequence[Report]:
        """REQUIRED: place the order under its client id; raise ``OutcomeUnknown`` when the answer is lost."""
        raise NotImplementedError

    async def cancel(self, client_order_id: str) -> Sequence[Report]:
        """REQUIRED: request a cancel; the ``Canceled`` report usually arrives through the sink."""
        raise NotImplementedError

    async def open_orders(self) -> Sequence[Order]:
        """REQUIRED: list the venue's working orders as ``Order`` records."""
        raise NotImplementedError

    async def orders(self, client_order_ids: Iterable[str]) -> Sequence[Order]:
        """REQUIRED: look up orders by client id, whatever their status; omit the ones the venue does not know."""
        raise NotImplementedError

    async def fills_since(self, cursor: str | None = None) -> tuple[Sequence[Filled], str | None]:
        """REQUIRED: list the account's fills after ``cursor`` (a bookmark this method made), oldest first."""
        raise NotImplementedError
