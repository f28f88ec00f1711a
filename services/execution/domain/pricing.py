"""Where an order trades within a piece of market data, what slippage does to that price, and what it costs.

A ``Tape`` is the price action one order meets: a bar's open/high/low/close, or a tick seen as a bar whose four
prices are equal. Prices are the touch-and-gap rules of bar simulators (backtrader's among them): a limit buy
fills when the low reaches the limit, at the open if the bar opened below it (a gap through the limit), else at
the limit; a stop buy triggers when the high reaches the stop, at the open if the bar gapped above it, else at
the stop. Sells mirror buys. All arithmetic is exact ``Decimal``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

_ZERO = Decimal(0)
_BPS = Decimal(10000)


class Tape(NamedTuple):
    """The price action an order meets: OHLC, the volume traded (``None``/0: unknown), and when it began.

    ``bounded`` says the prices are a bar's range, so slipped prices stay inside ``[low, high]``.
    """

    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal | None
    ts: datetime
    bounded: bool = True

    @classmethod
    def point(cls, price: Decimal, size: Decimal | None, ts: datetime) -> Tape:
        """Return the tape of one price seen at ``ts`` (a trade, or one side of a quote)."""
        return cls(price, price, price, price, size, ts, bounded=False)


@dataclass(frozen=True, slots=True)
class Commission:
    """Commission per fill: ``per_share`` x quantity plus ``rate`` x price x quantity, at least ``minimum``."""

    per_share: Decimal = _ZERO
    rate: Decimal = _ZERO
    minimum: Decimal = _ZERO

    def for_fill(self, quantity: Decimal, price: Decimal) -> Decimal:
        """Return the commission on one fill of ``quantity`` at ``price``."""
        fee = self.per_share * quantity + self.rate * price * quantity
        return fee if fee >= self.minimum else self.minimum


@dataclass(frozen=True, slots=True)
class Slippage:
    """Adverse slippage in basis points: buys pay more, sells receive less, never beyond ``cap``."""

    bps: Decimal = _ZERO

    def apply(self, price: Decimal, buy: bool, cap: Decimal | None) -> Decimal:
        """Return ``price`` moved against the trader by ``bps``, limited to ``cap`` (a limit price or bar edge)."""
        if not self.bps:
            return price
        if buy:
            slipped = price * (1 + self.bps / _BPS)
            return slipped if cap is None or slipped <= cap else max(cap, price)
        slipped = price * (1 - self.bps / _BPS)
        return slipped if cap is None or slipped >= cap else min(cap, price)


def limit_price_reached(buy: bool, limit: Decimal, tape: Tape) -> Decimal | None:
    """Return where a limit order fills on ``tape`` (the open when it gapped through), or ``None``."""
    if buy:
        return (tape.open if tape.open < limit else limit) if tape.low <= limit else None
    return (tape.open if tape.open > limit else limit) if tape.high >= limit else None


def stop_price_reached(buy: bool, stop: Decimal, tape: Tape) -> Decimal | None:
    """Return where a stop order triggers and fills on ``tape`` (the open when it gapped through), or ``None``."""
    if buy:
        return (tape.open if tape.open > stop else stop) if tape.high >= stop else None
    return (tape.open if tape.open < stop else stop) if tape.low <= stop else None


def stop_triggered(buy: bool, stop: Decimal, tape: Tape) -> bool:
    """Return whether ``tape`` reaches a stop price."""
    return tape.high >= stop if buy else tape.low <= stop


def stop_limit_price_on_trigger(buy: bool, stop: Decimal, limit: Decimal, tape: Tape) -> Decimal | None:
    """Return where a stop-limit order fills on the tape that triggers it, or ``None`` (it then works as a limit).

    Triggered at the open (a gap), the whole bar is a limit order's bar. Triggered inside the bar at the stop, it
    fills at the stop if the limit allows that price; otherwise only if the close, which comes after the
    trigger, is back within the limit, and then at the limit.
    """
    gapped = tape.open >= stop if buy else tape.open <= stop
    if gapped:
        return limit_price_reached(buy, limit, tape)
    if (limit >= stop) if buy else (limit <= stop):
        return stop
    return limit if ((tape.close <= limit) if buy else (tape.close >= limit)) else None


def slippage_cap(buy: bool, tape: Tape, limit: Decimal | None) -> Decimal | None:
    """Return the worst price a slipped fill may reach: the limit price, and a bar's high (buy) or low (sell)."""
    edge = (tape.high if buy else tape.low) if tape.bounded else None
    if limit is None:
        return edge
    if edge is None:
        return limit
    return min(edge, limit) if buy else max(edge, limit)


def participation_cap(volume: Decimal | None, participation: Decimal | None, lot_size: Decimal) -> Decimal | None:
    """Return the most one tape may fill (a share of its volume, in whole lots); ``None`` when unlimited.

    Unknown volume (``None`` or 0, as in index data) puts no limit on fills.
    """
    if participation is None or not volume:
        return None
    return (volume * participation // lot_size) * lot_size
