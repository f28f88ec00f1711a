"""The broker interface the execution service talks to; the paper broker and every venue adapter implement it.

Reports (``Accepted``, ``Rejected``, ``Filled``, ``Canceled``, ``Expired``) reach the service two ways, and the
service treats both alike and idempotently (fill ids, ``already_applied``): returned from ``submit``, ``cancel``
and ``on_market`` (the paper broker, which fills as it is shown market data), or pushed later to the sink set by
``set_report_sink`` (a venue's order stream). The composition root sets the sink and calls ``connect`` before the
service consumes anything. A venue adapter implements the abstract methods; ``ccxt_broker.py`` is the one for
venues reached through ccxt.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import Decimal

from shared.contracts import Message
from shared.messaging.errors import TransientError

from ..domain.orders import Order
from ..domain.reconcile import BrokerView
from ..domain.reports import Filled, Report

ReportSink = Callable[[Sequence[Report]], Awaitable[None]]
"""Where a push-style broker delivers reports that arrive on their own (fills, expiries, cancel answers)."""

_NO_REPORTS: tuple[Report, ...] = ()


class OutcomeUnknown(Exception):
    """Raise from ``submit`` when it cannot tell whether the broker got the order (timeout, lost connection).

    The service then marks the order ``IN_FLIGHT`` and waits for the broker's answer; it never sends it again.
    """


class BrokerUnavailable(TransientError):
    """Raise when the broker cannot be reached for a query or a cancel; the caller may retry later."""


class Broker(abc.ABC):
    """A place orders go to: accept, fill, cancel, and say what it knows for reconciliation."""

    name: str = "broker"

    def __init__(self) -> None:
        self.report_sink: ReportSink | None = None

    def set_report_sink(self, sink: ReportSink) -> None:
        """Register where reports that arrive on their own are delivered (push-style venues use it)."""
        self.report_sink = sink

    async def connect(self) -> None:
        """Open connections and subscribe to the venue's order stream; the default does nothing."""

    async def close(self) -> None:
        """Release connections and files; the default does nothing."""

    @abc.abstractmethod
    async def submit(self, order: Order) -> Sequence[Report]:
        """Send ``order`` (keyed by its client order id) and return the reports already known.

        Return ``()`` when the venue only acknowledged receipt (its verdict comes through the sink). Raise
        ``OutcomeUnknown`` when the order may or may not have arrived. A client id the venue already has must be
        refused, never placed twice.
        """

    @abc.abstractmethod
    async def cancel(self, client_order_id: str) -> Sequence[Report]:
        """Ask to cancel a working order; return the reports already known (``()`` if it is not working)."""

    @abc.abstractmethod
    async def open_orders(self) -> Sequence[Order]:
        """Return the broker's view of every working order, in the shape of the service's ``Order``."""

    @abc.abstractmethod
    async def orders(self, client_order_ids: Iterable[str]) -> Sequence[Order]:
        """Return the broker's view of these orders, whatever their status; unknown ids are left out."""

    @abc.abstractmethod
    async def fills_since(self, cursor: str | None = None) -> tuple[Sequence[Filled], str | None]:
        """Return the fills after ``cursor`` (all when ``None``), oldest first, and the cursor to continue from.

        The cursor is the broker's own bookmark (a sequence, a time with a safety margin): reconciliation keeps
        it, so each round asks only for what is new. Repeats are harmless (fill ids).
        """

    async def balances(self) -> Mapping[str, tuple[Decimal, Decimal, Decimal]] | None:
        """Return the venue's balances, asset -> (free, used, total); ``None`` when the broker keeps none (paper)."""
        return None

    async def on_market(self, event: Message) -> Sequence[Report]:
        """Show the broker a market event; a simulated broker returns the fills it causes, a venue nothing."""
        return _NO_REPORTS

    async def view(self, client_order_ids: Iterable[str], cursor: str | None = None) -> BrokerView:
        """Return what the broker knows for reconciliation.

        That is its open orders, the named orders (pass the store's open ones), the fills after ``cursor``, and
        the orders those fills belong to, so that an order filled while the service was down can be adopted.
        """
        open_orders = tuple(await self.open_orders())
        fills, next_cursor = await self.fills_since(cursor)
        fills = tuple(fills)
        listed = {order.client_order_id for order in open_orders}
        wanted = dict.fromkeys([*client_order_ids, *(fill.client_order_id for fill in fills)])
        asked = [client_id for client_id in wanted if client_id not in listed]
        others = tuple(await self.orders(asked)) if asked else ()
        return BrokerView(open_orders + others, fills, next_cursor)
