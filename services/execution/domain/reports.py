"""What happens to an order: the broker's reports, and the two outcomes of sending it.

Brokers (the paper matcher, a venue adapter) produce ``Accepted``, ``Rejected``, ``Filled``, ``Canceled``,
``Expired`` and ``Triggered``; the service itself records ``Submitted`` (the broker acknowledged receipt, its
verdict comes later) and ``SubmitUnknown`` (a timeout or lost connection: the order may or may not be at the
broker). ``orders.transition`` applies any of them to an ``Order``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Submitted:
    """Record that the broker acknowledged receiving the order; acceptance or rejection will follow."""

    client_order_id: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class SubmitUnknown:
    """Record that a submit's outcome is unknown (timeout, lost connection); the order stays in flight."""

    client_order_id: str
    ts: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Accepted:
    """Record that the broker accepted the order under ``venue_order_id``; it is now working."""

    client_order_id: str
    venue_order_id: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class Rejected:
    """Record that the order was refused, and why."""

    client_order_id: str
    reason: str
    ts: datetime
    venue_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class Filled:
    """Record one fill; ``fill_id`` is unique and deterministic, ``cumulative``/``leaves`` are after this fill.

    ``commission_currency`` is the asset the commission was charged in (a venue's fee currency, e.g. BTC on a
    BTC/USDT buy); ``None`` means the account currency (the paper broker's).
    """

    client_order_id: str
    venue_order_id: str
    fill_id: str
    quantity: Decimal
    price: Decimal
    commission: Decimal
    cumulative: Decimal
    leaves: Decimal
    ts: datetime
    commission_currency: str | None = None


@dataclass(frozen=True, slots=True)
class Canceled:
    """Record that the order stopped working on request; ``filled_quantity`` had filled before."""

    client_order_id: str
    venue_order_id: str | None
    filled_quantity: Decimal
    ts: datetime
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Expired:
    """Record that the order's time in force ran out (DAY at a later date, IOC remainder, FOK unfilled)."""

    client_order_id: str
    venue_order_id: str | None
    filled_quantity: Decimal
    ts: datetime


@dataclass(frozen=True, slots=True)
class Triggered:
    """Record that a stop-limit order's stop was reached: it now works as a limit order (no status change)."""

    client_order_id: str
    venue_order_id: str
    ts: datetime


Report = Accepted | Rejected | Filled | Canceled | Expired | Triggered
"""A broker's report about one order."""

OrderEvent = Submitted | SubmitUnknown | Report
"""Anything that moves an order's state."""
