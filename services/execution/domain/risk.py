"""Pre-trade risk: decide whether an order may go to the broker, and if not, say why in words.

A refusal is a reason string the caller turns into an ``OrderRejected`` event, never an exception. While trading
is halted only orders that bring a position closer to flat pass. Every limit is optional (``None`` = no limit).

Buying power (``max_leverage``): an order that adds to a position may not take the gross exposure, working market
orders included, beyond ``max_leverage`` times equity; at 1 that is: cash may not go below zero buying.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from shared.contracts import Side

from .orders import Order

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Pre-trade limits; ``max_position`` is per symbol in absolute units, exposure is in account currency."""

    max_order_quantity: Decimal | None = None
    max_order_notional: Decimal | None = None
    max_position: Decimal | None = None
    max_gross_exposure: Decimal | None = None
    max_orders_per_window: int | None = None
    rate_window: timedelta = timedelta(seconds=1)
    max_leverage: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AccountExposure:
    """What the check needs to know about the account at the moment of the order.

    ``positions`` are signed per symbol; ``pending_buys``/``pending_sells`` the unfilled quantity of working
    orders per symbol (they count towards the position limit); ``prices`` value orders without a limit or stop
    price and the exposure change; ``recent_orders`` are the times of orders sent lately (the rate limit);
    ``equity`` is the portfolio's latest (``None`` before its first snapshot: buying power is not checked).
    """

    positions: Mapping[str, Decimal] = field(default_factory=dict)
    prices: Mapping[str, Decimal] = field(default_factory=dict)
    gross_exposure: Decimal = _ZERO
    pending_buys: Mapping[str, Decimal] = field(default_factory=dict)
    pending_sells: Mapping[str, Decimal] = field(default_factory=dict)
    recent_orders: Sequence[datetime] = ()
    halted: bool = False
    halt_reason: str = ""
    equity: Decimal | None = None
    pending_market: Mapping[str, Decimal] = field(default_factory=dict)
    """Signed unfilled quantity of working market orders per symbol: they will fill, so buying power counts them
    (resting limit and stop orders may never fill, and do not)."""


def check_order(order: Order, state: AccountExposure, limits: RiskLimits, now: datetime) -> str | None:
    """Return why ``order`` must be rejected, or ``None`` if it passes every check."""
    position = state.positions.get(order.symbol, _ZERO)
    reduces = reduces_position(order.side, order.quantity, position)
    if order.reduce_only and not reduces:
        return f"reduce-only order would not reduce the {order.symbol} position of {position}"
    if state.halted and not reduces:
        return f"trading halted{': ' + state.halt_reason if state.halt_reason else ''}; only reducing orders pass"
    return (_check_rate(state, limits, now) or _check_size(order, state, limits)
            or (None if reduces else _check_position(order, state, limits, position))
            or (None if reduces else _check_exposure(order, state, limits, position))
            or (None if reduces else check_buying_power(order, state, limits, position)))


def reduces_position(side: Side, quantity: Decimal, position: Decimal) -> bool:
    """Return whether trading ``quantity`` on ``side`` brings ``position`` closer to flat without crossing it."""
    return position != 0 and (side is Side.SELL) == (position > 0) and quantity <= abs(position)


def orders_in_window(times: Sequence[datetime], now: datetime, window: timedelta) -> list[datetime]:
    """Return the times in ``times`` that lie in the sliding window ``(now - window, now]``."""
    start = now - window
    return [t for t in times if start < t <= now]


def _check_rate(state: AccountExposure, limits: RiskLimits, now: datetime) -> str | None:
    if limits.max_orders_per_window is None:
        return None
    count = len(orders_in_window(state.recent_orders, now, limits.rate_window))
    if count >= limits.max_orders_per_window:
        return (f"order rate limit: {count} orders in the last {limits.rate_window.total_seconds():g}s "
                f"(max {limits.max_orders_per_window})")
    return None


def _check_size(order: Order, state: AccountExposure, limits: RiskLimits) -> str | None:
    if limits.max_order_quantity is not None and order.quantity > limits.max_order_quantity:
        return f"order quantity {order.quantity} exceeds max {limits.max_order_quantity}"
    if limits.max_order_notional is None:
        return None
    price = _order_price(order, state)
    if price is None:
        return f"no price known for {order.symbol} to check the order notional"
    notional = price * order.quantity
    if notional > limits.max_order_notional:
        return f"order notional {notional} exceeds max {limits.max_order_notional}"
    return None


def _check_position(order: Order, state: AccountExposure, limits: RiskLimits, position: Decimal) -> str | None:
    if limits.max_position is None:
        return None
    if order.side is Side.BUY:
        projected = position + state.pending_buys.get(order.symbol, _ZERO) + order.quantity
    else:
        projected = position - state.pending_sells.get(order.symbol, _ZERO) - order.quantity
    if abs(projected) > limits.max_position:
        return (f"{order.symbol} position would reach {projected} with working orders "
                f"(max {limits.max_position})")
    return None


def _check_exposure(order: Order, state: AccountExposure, limits: RiskLimits, position: Decimal) -> str | None:
    if limits.max_gross_exposure is None:
        return None
    price = _order_price(order, state)
    if price is None:
        return f"no price known for {order.symbol} to check gross exposure"
    after = position + order.side.sign * order.quantity
    projected = state.gross_exposure + (abs(after) - abs(position)) * price
    if projected > limits.max_gross_exposure:
        return f"gross exposure would reach {projected} (max {limits.max_gross_exposure})"
    return None


def check_buying_power(order: Order, state: AccountExposure, limits: RiskLimits, position: Decimal) -> str | None:
    """Return why ``order`` needs more cash (or leverage) than the account has, or ``None`` when it fits."""
    if limits.max_leverage is None or state.equity is None:
        return None
    price = _order_price(order, state)
    if price is None:
        return None  # nothing to value it with yet; the first bar prices the account
    symbol = order.symbol
    after = position + state.pending_market.get(symbol, _ZERO) + order.side.sign * order.quantity
    projected = state.gross_exposure - abs(position) * state.prices.get(symbol, price) + abs(after) * price
    if projected <= limits.max_leverage * state.equity:
        return None
    cost = order.quantity * price
    cash = state.equity - sum((q * state.prices.get(s, _ZERO) for s, q in state.positions.items()), _ZERO)
    return (f"insufficient buying power: {order.side.value.lower()} {order.quantity} {symbol} at {price} is "
            f"{cost:.2f}, cash is {cash:.2f} (equity {state.equity:.2f}, gross exposure would be {projected:.2f}, "
            f"max leverage {limits.max_leverage})")


def _order_price(order: Order, state: AccountExposure) -> Decimal | None:
    return order.limit_price or order.stop_price or state.prices.get(order.symbol)
