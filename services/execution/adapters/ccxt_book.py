"""What the ccxt broker knows of each venue order: the fills it reported, so every fill states the right cumulative.

A venue trade does not say how much of its order had filled before it; the service checks that it does
(``Filled.cumulative`` must be what it holds plus this fill). So the book counts, per venue order, the fills it
has reported, and reports a trade only when it *knows* the count is complete: the order is new (placed in this
process), or an order update's ``filled`` agrees with the fills held, or the order's whole trade list was fetched
(``sync``). A trade of an order in doubt (after a restart or a dropped stream) is held until one of those is true;
``needs_trades`` tells the broker to fetch the list. Terminal statuses wait for their fills in the same way, so a
cancel never overtakes the last fill (which the service would refuse as a fill after a cancel). No I/O here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..domain.orders import OrderStatus
from ..domain.reports import Accepted, Canceled, Expired, Filled, Rejected, Report
from .ccxt_records import ZERO, dec, fill_from_trade, order_status, show, trade_key, utc

Trade = Mapping[str, Any]
KEEP = 10_000
"""Venue orders remembered at most (the oldest are forgotten; a question about one is asked of the venue again)."""


@dataclass
class Tracked:
    """One venue order: our client id, the amounts, the fills reported and the trades held back."""

    venue_order_id: str
    client_order_id: str
    symbol: str
    amount: Decimal
    ordered: Decimal
    """The quantity the service asked for: above ``amount`` when the amount was rounded down to the step."""
    complete: bool
    """Whether ``fills`` holds every fill the order has had so far."""
    fills: dict[str, Filled] = field(default_factory=dict)
    held: dict[str, Trade] = field(default_factory=dict)
    accepted: bool = False
    ended: bool = False

    @property
    def filled(self) -> Decimal:
        """Return the quantity of the fills reported."""
        return sum((fill.quantity for fill in self.fills.values()), ZERO)


class Book:
    """Every venue order the broker has seen lately, and the fills it reported for each."""

    def __init__(self, exchange_id: str) -> None:
        self.exchange_id = exchange_id
        self._orders: OrderedDict[str, Tracked] = OrderedDict()
        self._orphans: dict[str, dict[str, Trade]] = {}

    def get(self, venue_order_id: str) -> Tracked | None:
        """Return the tracked order, if any."""
        return self._orders.get(venue_order_id)

    def by_client_id(self, client_order_id: str) -> Tracked | None:
        """Return the tracked order placed under ``client_order_id``, if any."""
        return next((o for o in self._orders.values() if o.client_order_id == client_order_id), None)

    def track(self, raw: Mapping[str, Any], client_order_id: str, ordered: Decimal | None = None) -> Tracked:
        """Return the tracked order for a ccxt order, tracking it if new (``ordered``: we just placed it)."""
        venue_id = str(raw["id"])
        tracked = self._orders.get(venue_id)
        amount = dec(raw.get("amount")) or ZERO
        if tracked is None:
            tracked = Tracked(venue_id, client_order_id, raw["symbol"], amount, ordered or amount,
                              complete=ordered is not None)
            self._orders[venue_id] = tracked
            while len(self._orders) > KEEP:
                self._orders.popitem(last=False)
        elif ordered is not None:
            tracked.ordered = ordered
        tracked.held.update(self._orphans.pop(venue_id, {}))
        return tracked

    def forget_doubtful(self) -> None:
        """Mark every order incomplete (the stream dropped: trades may have been missed)."""
        for tracked in self._orders.values():
            if not tracked.ended:
                tracked.complete = False

    def working(self) -> list[Tracked]:
        """Return the tracked orders not known to have ended."""
        return [tracked for tracked in self._orders.values() if not tracked.ended]

    def on_trade(self, trade: Trade, now: datetime) -> list[Report]:
        """Take a trade from the stream; return its fill if the count is known, else hold it."""
        venue_id, trade_id = str(trade["order"]), str(trade["id"])
        tracked = self._orders.get(venue_id)
        if tracked is None:
            self._orphans.setdefault(venue_id, {})[trade_id] = trade
            return []
        if trade_id in tracked.fills:
            return []
        tracked.held[trade_id] = trade
        return self._release(tracked, now) if tracked.complete else []

    def needs_trades(self, tracked: Tracked, raw: Mapping[str, Any]) -> bool:
        """Return whether the order's trade list must be fetched to report what ``raw`` says was filled."""
        filled = dec(raw.get("filled")) or ZERO
        held = sum((dec(t["amount"]) or ZERO for t in tracked.held.values()), ZERO)
        if tracked.filled + held == filled:
            tracked.complete = True
        return tracked.filled + (held if tracked.complete else ZERO) < filled

    def on_order(self, tracked: Tracked, raw: Mapping[str, Any], now: datetime) -> list[Report]:
        """Take an order update (after ``needs_trades``/``sync``): the fills it releases, then its status."""
        reports: list[Report] = self._release(tracked, now) if tracked.complete else []
        status, filled = order_status(raw), dec(raw.get("filled")) or ZERO
        at = utc(raw.get("lastUpdateTimestamp") or raw.get("timestamp"), now)
        client_id, venue_id = tracked.client_order_id, tracked.venue_order_id
        if tracked.ended or tracked.filled < filled:
            return reports  # a status waits for its fills: the service refuses a fill after a cancel
        if status is OrderStatus.REJECTED:
            reports.append(Rejected(client_id, "rejected by the venue", at, venue_id))
        elif status is OrderStatus.CANCELED:
            reports.append(Canceled(client_id, venue_id, filled, at))
        elif status is OrderStatus.EXPIRED:
            reports.append(Expired(client_id, venue_id, filled, at))
        elif status is OrderStatus.FILLED and tracked.ordered > tracked.amount:
            residue = tracked.ordered - tracked.amount
            reports.append(Canceled(client_id, venue_id, filled, at, f"the remaining {show(residue)} is below the "
                                    "market's amount step and was never sent"))
        elif not tracked.accepted and status is not OrderStatus.FILLED and not tracked.fills:
            reports.append(Accepted(client_id, venue_id, at))
        tracked.accepted = True
        tracked.ended = status.is_terminal
        return reports

    def sync(self, tracked: Tracked, trades: Iterable[Trade], now: datetime) -> list[Filled]:
        """Take the order's whole trade list from the venue; return the fills not reported before."""
        new: list[Filled] = []
        cumulative = ZERO
        for trade in sorted(trades, key=trade_key):
            trade_id = str(trade["id"])
            cumulative += dec(trade["amount"]) or ZERO
            tracked.held.pop(trade_id, None)
            if trade_id not in tracked.fills:
                fill = fill_from_trade(trade, tracked.client_order_id, cumulative, tracked.ordered,
                                       self.exchange_id, now)
                tracked.fills[trade_id] = fill
                new.append(fill)
        tracked.complete = True
        return new

    def _release(self, tracked: Tracked, now: datetime) -> list[Report]:
        released: list[Report] = []
        for trade in sorted(tracked.held.values(), key=trade_key):
            fill = fill_from_trade(trade, tracked.client_order_id, tracked.filled + (dec(trade["amount"]) or ZERO),
                                   tracked.ordered, self.exchange_id, now)
            tracked.fills[str(trade["id"])] = fill
            released.append(fill)
        tracked.held.clear()
        return released
