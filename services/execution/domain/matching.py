"""The paper broker's matching engine: working orders filled against the market data it is shown.

Pure and fast: the backtester pushes every bar through ``on_bar``, and with no working order for the bar's
symbol that is a dict lookup returning a shared empty tuple.

Matching is in *event time*: an order is placed as of its ``created_at`` (the time of the market event that
caused it), and only data later than that can fill it (no look-ahead). Data the matcher saw after that time but
before the order arrived (the order travelled slower than the data) is replayed against it at once, from a
window of recent data per symbol, so the same orders fill at the same prices however messages interleave on
the way here. A redelivered old bar fills nothing: each order remembers the last data it was matched against,
and the paper broker persists that with every report, so a bar redelivered after a restart cannot fill twice.

Market orders fill at the next bar's open, trade or quote (``fill_on="next_open"``), or at once at the close of
the last bar seen (``fill_on="close"``; with no bar seen yet they wait for the next data). Limit, stop and
stop-limit prices follow ``pricing``. Time in force: IOC fills what it can on the first data it meets and
expires the rest, FOK fills completely there or expires, DAY expires at the first data of a later UTC date.
Fill ids are ``{venue_order_id}-{n}``, so a replay produces the same ids.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from shared.contracts import BarClosed, OrderType, QuoteTicked, Side, TimeInForce, TradeTicked

from .orders import Order
from .pricing import (
    Commission,
    Slippage,
    Tape,
    limit_price_reached,
    participation_cap,
    slippage_cap,
    stop_limit_price_on_trigger,
    stop_price_reached,
    stop_triggered,
)
from .reports import Accepted, Canceled, Expired, Filled, Rejected, Report, Triggered

FillOn = Literal["next_open", "close"]
_NO_REPORTS: tuple[Report, ...] = ()
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class MatcherConfig:
    """The paper fill model.

    ``replay_window`` is how many recent market events per symbol are kept to match orders that arrive after
    newer data (the backtester, whose bus delivers in causal order, keeps a handful).
    ``max_volume_participation`` (e.g. 0.1) caps each fill at that share of the data's volume, rounded down to
    ``lot_size``; the rest carries to later data. ``timeframe`` restricts matching to bars of one timeframe
    when several are published. Venue order ids are ``{venue}-{client_order_id}``.
    """

    fill_on: FillOn = "next_open"
    slippage_bps: Decimal = _ZERO
    commission: Commission = field(default_factory=Commission)
    max_volume_participation: Decimal | None = None
    lot_size: Decimal = Decimal(1)
    timeframe: str | None = None
    venue: str = "paper"
    replay_window: int = 100_000


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """A working order as the matcher holds it: enough to persist it and ``restore`` it after a restart.

    Data at or before ``not_after`` cannot fill it; ``day`` is the UTC date a DAY order lives on.
    """

    order: Order
    venue_order_id: str
    filled_quantity: Decimal
    fill_count: int
    triggered: bool
    not_after: datetime | None
    day: date


@dataclass(slots=True)
class _Working:
    order: Order
    venue_order_id: str
    filled: Decimal
    fills: int
    triggered: bool
    not_after: datetime | None
    day: date

    @property
    def leaves(self) -> Decimal:
        return self.order.quantity - self.filled

    def snapshot(self) -> WorkingOrder:
        return WorkingOrder(self.order, self.venue_order_id, self.filled, self.fills, self.triggered,
                            self.not_after, self.day)


class PaperMatcher:
    """Fill orders against bars, trades and quotes, realistically and deterministically."""

    def __init__(self, config: MatcherConfig | None = None) -> None:
        self.config = config or MatcherConfig()
        self._slippage = Slippage(self.config.slippage_bps)
        self._timeframe = self.config.timeframe
        self._resting: dict[str, list[_Working]] = {}
        self._by_id: dict[str, _Working] = {}
        self._last_bar: dict[str, BarClosed] = {}
        self._recent: dict[str, deque[BarClosed | TradeTicked | QuoteTicked]] = {}

    # -- orders ------------------------------------------------------------------------------------------------
    def submit(self, order: Order, now: datetime) -> Sequence[Report]:
        """Accept ``order`` (or reject a duplicate client id) and match it against data newer than its time.

        In ``close`` mode a market order fills at the close of the last bar at or before its ``created_at``.
        """
        client_id = order.client_order_id
        if client_id in self._by_id:
            return (Rejected(client_id, f"duplicate client_order_id {client_id}", now),)
        symbol = order.symbol
        as_of = order.created_at
        working = _Working(order, f"{self.config.venue}-{client_id}", _ZERO, 0, False, as_of, as_of.date())
        reports: list[Report] = [Accepted(client_id, working.venue_order_id, now)]
        self._add(working)
        if self.config.fill_on == "close" and order.order_type is OrderType.MARKET:
            bar = self._bar_as_of(symbol, as_of)
            if bar is not None:
                self._match_one(working, Tape(bar.close, bar.high, bar.low, bar.close, bar.volume, as_of), reports)
        for event in self._recent_after(symbol, as_of):
            if self._by_id.get(client_id) is not working:
                break
            buy_tape, sell_tape = _tapes(event)
            self._match_working(working, buy_tape if order.side is Side.BUY else sell_tape, reports)
        self._prune(symbol)
        return reports

    def _recent_after(self, symbol: str, as_of: datetime) -> list[BarClosed | TradeTicked | QuoteTicked]:
        """Return the remembered data of ``symbol`` later than ``as_of``, oldest first (usually none)."""
        later = []
        for event in reversed(self._recent.get(symbol, ())):
            if event.ts_event <= as_of:
                break
            later.append(event)
        later.reverse()
        return later

    def _bar_as_of(self, symbol: str, as_of: datetime) -> BarClosed | None:
        for event in reversed(self._recent.get(symbol, ())):
            if isinstance(event, BarClosed) and event.ts_event <= as_of:
                return event
        return self._last_bar.get(symbol)

    def cancel(self, client_order_id: str, now: datetime, reason: str = "") -> Sequence[Report]:
        """Stop a working order; return its ``Canceled`` report, or nothing if it is not working."""
        working = self._by_id.get(client_order_id)
        if working is None:
            return _NO_REPORTS
        self._remove(working)
        return (Canceled(client_order_id, working.venue_order_id, working.filled, now, reason),)

    def working(self, client_order_id: str) -> WorkingOrder | None:
        """Return the working order with this client id, or ``None``."""
        working = self._by_id.get(client_order_id)
        return None if working is None else working.snapshot()

    def working_orders(self) -> list[WorkingOrder]:
        """Return every working order, oldest first."""
        return [working.snapshot() for working in self._by_id.values()]

    def restore(self, order: WorkingOrder) -> None:
        """Put back a working order saved before a restart."""
        self._add(_Working(order.order, order.venue_order_id, order.filled_quantity, order.fill_count,
                           order.triggered, order.not_after, order.day))

    # -- market data -------------------------------------------------------------------------------------------
    def recall(self, event: BarClosed | TradeTicked | QuoteTicked) -> None:
        """Put a market event seen before a restart back into the window, matching nothing against it."""
        if isinstance(event, BarClosed):
            if self._timeframe is not None and event.timeframe != self._timeframe:
                return
            self._last_bar[event.symbol] = event
        self._remember(event.symbol, event)

    def on_bar(self, bar: BarClosed) -> Sequence[Report]:
        """Match the working orders of the bar's symbol against its open, range and close."""
        if self._timeframe is not None and bar.timeframe != self._timeframe:
            return _NO_REPORTS
        symbol = bar.symbol
        self._last_bar[symbol] = bar
        recent = self._recent.get(symbol)
        if recent is None:
            self._remember(symbol, bar)
        else:
            recent.append(bar)
        resting = self._resting.get(symbol)
        if resting is None:
            return _NO_REPORTS
        return self._match(symbol, resting, *_tapes(bar))

    def on_trade(self, trade: TradeTicked) -> Sequence[Report]:
        """Match the working orders of the trade's symbol against its price and size."""
        symbol = trade.symbol
        self._remember(symbol, trade)
        resting = self._resting.get(symbol)
        if resting is None:
            return _NO_REPORTS
        return self._match(symbol, resting, *_tapes(trade))

    def on_quote(self, quote: QuoteTicked) -> Sequence[Report]:
        """Match buys against the ask and sells against the bid, sized by the quoted sizes."""
        symbol = quote.symbol
        self._remember(symbol, quote)
        resting = self._resting.get(symbol)
        if resting is None:
            return _NO_REPORTS
        return self._match(symbol, resting, *_tapes(quote))

    # -- matching ----------------------------------------------------------------------------------------------
    def _match(self, symbol: str, resting: list[_Working], buy_tape: Tape, sell_tape: Tape) -> Sequence[Report]:
        reports: list[Report] = []
        working_count = len(self._by_id)
        for working in tuple(resting):
            self._match_working(working, buy_tape if working.order.side is Side.BUY else sell_tape, reports)
        if len(self._by_id) != working_count:
            self._prune(symbol)
        return reports

    def _match_working(self, working: _Working, tape: Tape, reports: list[Report]) -> None:
        if working.not_after is not None and tape.ts <= working.not_after:
            return
        if working.order.time_in_force is TimeInForce.DAY and tape.ts.date() > working.day:
            self._expire(working, tape.ts, reports)
            return
        self._match_one(working, tape, reports)
        working.not_after = tape.ts

    def _remember(self, symbol: str, event: BarClosed | TradeTicked | QuoteTicked) -> None:
        recent = self._recent.get(symbol)
        if recent is None:
            recent = self._recent[symbol] = deque(maxlen=self.config.replay_window)
        recent.append(event)

    def _match_one(self, working: _Working, tape: Tape, reports: list[Report]) -> None:
        order = working.order
        tif = order.time_in_force
        price = self._price(working, tape, reports)
        quantity = _ZERO
        if price is not None:
            cap = participation_cap(tape.volume, self.config.max_volume_participation, self.config.lot_size)
            quantity = working.leaves if cap is None else min(working.leaves, cap)
            if tif is TimeInForce.FOK and quantity < working.leaves:
                quantity = _ZERO
        if price is not None and quantity > 0:
            self._fill(working, quantity, price, tape, reports)
        if working.leaves > 0 and tif in (TimeInForce.IOC, TimeInForce.FOK):
            self._expire(working, tape.ts, reports)

    def _price(self, working: _Working, tape: Tape, reports: list[Report]) -> Decimal | None:
        order = working.order
        buy = order.side is Side.BUY
        kind, limit, stop = order.order_type, order.limit_price, order.stop_price
        price: Decimal | None
        if kind is OrderType.MARKET:
            price = tape.open
        elif kind is OrderType.STOP:
            price = stop_price_reached(buy, _given(stop), tape)
        elif kind is OrderType.LIMIT or working.triggered:
            price = limit_price_reached(buy, _given(limit), tape)
        elif stop_triggered(buy, _given(stop), tape):
            working.triggered = True
            reports.append(Triggered(order.client_order_id, working.venue_order_id, tape.ts))
            price = stop_limit_price_on_trigger(buy, _given(stop), _given(limit), tape)
        else:
            return None
        return None if price is None else self._slippage.apply(price, buy, slippage_cap(buy, tape, limit))

    def _fill(self, working: _Working, quantity: Decimal, price: Decimal, tape: Tape, reports: list[Report]) -> None:
        working.filled += quantity
        working.fills += 1
        commission = self.config.commission.for_fill(quantity, price)
        reports.append(Filled(working.order.client_order_id, working.venue_order_id,
                              f"{working.venue_order_id}-{working.fills}", quantity, price, commission,
                              working.filled, working.leaves, tape.ts))
        if working.leaves == 0:
            self._by_id.pop(working.order.client_order_id, None)

    def _expire(self, working: _Working, ts: datetime, reports: list[Report]) -> None:
        self._by_id.pop(working.order.client_order_id, None)
        reports.append(Expired(working.order.client_order_id, working.venue_order_id, working.filled, ts))

    # -- resting orders ----------------------------------------------------------------------------------------
    def _add(self, working: _Working) -> None:
        self._by_id[working.order.client_order_id] = working
        self._resting.setdefault(working.order.symbol, []).append(working)

    def _remove(self, working: _Working) -> None:
        self._by_id.pop(working.order.client_order_id, None)
        self._prune(working.order.symbol)

    def _prune(self, symbol: str) -> None:
        by_id = self._by_id
        resting = [w for w in self._resting.get(symbol, ()) if by_id.get(w.order.client_order_id) is w]
        if resting:
            self._resting[symbol] = resting
        else:
            self._resting.pop(symbol, None)


def _given(price: Decimal | None) -> Decimal:
    """Return a price the order type requires (an ``Order`` is checked for it when made)."""
    assert price is not None, "the order type requires this price"
    return price


def _tapes(event: BarClosed | TradeTicked | QuoteTicked) -> tuple[Tape, Tape]:
    """Return the (buy, sell) tapes an event offers: one for a bar or trade, ask and bid for a quote."""
    if isinstance(event, BarClosed):
        tape = Tape(event.open, event.high, event.low, event.close, event.volume, event.ts_event)
        return tape, tape
    if isinstance(event, TradeTicked):
        tape = Tape.point(event.price, event.size, event.ts_event)
        return tape, tape
    return (Tape.point(event.ask, event.ask_size, event.ts_event),
            Tape.point(event.bid, event.bid_size, event.ts_event))
