"""Turn a signal into an order size: which side, how many.

A signal with ``target_quantity`` or ``target_weight`` (or a policy in ``target_weight`` mode) names the position
it wants, and the order is the difference, so repeating it changes nothing. Otherwise the signal is an entry:
LONG while flat buys the policy's size, LONG while long does nothing, LONG while short buys back the short plus
the size (a flip). SHORT mirrors LONG and, without ``allow_short``, only closes a long. EXIT closes everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from shared.contracts import Direction, PortfolioSnapshot, Side, SignalGenerated

_ZERO = Decimal(0)


class SizingMode(StrEnum):
    """How an entry's size is chosen (values match the execution settings)."""

    FIXED_QUANTITY = "fixed_quantity"
    FIXED_NOTIONAL = "fixed_notional"
    PERCENT_EQUITY = "percent_equity"
    TARGET_WEIGHT = "target_weight"


@dataclass(frozen=True, slots=True)
class SizingPolicy:
    """Sizing parameters: ``equity_fraction`` serves ``percent_equity`` and is the default weight of ``target_weight``.

    Sizes round down to a multiple of ``lot_size``; with ``scale_by_strength`` a signal's ``strength`` scales them.
    """

    mode: SizingMode = SizingMode.FIXED_QUANTITY
    quantity: Decimal = Decimal(100)
    notional: Decimal = Decimal(10000)
    equity_fraction: Decimal = Decimal("0.1")
    allow_short: bool = False
    lot_size: Decimal = Decimal(1)
    scale_by_strength: bool = False

    def __post_init__(self) -> None:
        if self.lot_size <= 0:
            raise ValueError("lot_size must be positive")


@dataclass(frozen=True, slots=True)
class SizedOrder:
    """An order to place: ``reduce_only`` when it only brings the position closer to flat."""

    side: Side
    quantity: Decimal
    reduce_only: bool


class SizingError(ValueError):
    """Raised when a signal cannot be sized (no price, no equity): the caller rejects the order with this reason."""


def size_order(signal: SignalGenerated, policy: SizingPolicy, *, position: Decimal,
               price: Decimal | None = None, equity: Decimal | None = None) -> SizedOrder | None:
    """Return the order that moves ``position`` (signed) where ``signal`` wants it; ``None`` when none is needed.

    ``price`` (a recent price of the symbol) and ``equity`` are needed only by notional, equity and weight sizing.
    """
    target = _target_position(signal, policy, position, price, equity)
    if target is None or target == position:
        return None
    delta = target - position
    reduce_only = target * position >= 0 and abs(target) < abs(position)
    return SizedOrder(Side.BUY if delta > 0 else Side.SELL, abs(delta), reduce_only)


def position_in(snapshot: PortfolioSnapshot | None, symbol: str, strategy_id: str | None = None) -> Decimal:
    """Return the signed position in ``symbol`` a snapshot shows (one strategy's when ``strategy_id`` is given)."""
    if snapshot is None:
        return _ZERO
    return sum((p.quantity for p in snapshot.positions
                if p.symbol == symbol and (strategy_id is None or p.strategy_id == strategy_id)), _ZERO)


def _target_position(signal: SignalGenerated, policy: SizingPolicy, position: Decimal,
                     price: Decimal | None, equity: Decimal | None) -> Decimal | None:
    if signal.direction is Direction.EXIT:
        return _ZERO
    sign = 1 if signal.direction is Direction.LONG else -1
    if sign < 0 and not policy.allow_short:
        return _ZERO if position > 0 else None
    if _is_target_based(signal, policy):
        return sign * _target_size(signal, policy, price, equity)
    if sign * position > 0:
        return None
    return sign * _entry_size(signal, policy, price, equity)


def _is_target_based(signal: SignalGenerated, policy: SizingPolicy) -> bool:
    return (signal.target_quantity is not None or signal.target_weight is not None
            or policy.mode is SizingMode.TARGET_WEIGHT)


def _target_size(signal: SignalGenerated, policy: SizingPolicy, price: Decimal | None,
                 equity: Decimal | None) -> Decimal:
    if signal.target_quantity is not None:
        return _round_down(signal.target_quantity, policy.lot_size)
    weight = abs(signal.target_weight) if signal.target_weight is not None else policy.equity_fraction
    value = _scaled(weight, signal, policy) * _need_equity(equity, signal)
    return _round_down(value / _need_price(price, signal), policy.lot_size)


def _entry_size(signal: SignalGenerated, policy: SizingPolicy, price: Decimal | None,
                equity: Decimal | None) -> Decimal:
    if policy.mode is SizingMode.FIXED_QUANTITY:
        size = policy.quantity
    elif policy.mode is SizingMode.FIXED_NOTIONAL:
        size = policy.notional / _need_price(price, signal)
    else:
        size = policy.equity_fraction * _need_equity(equity, signal) / _need_price(price, signal)
    return _round_down(_scaled(size, signal, policy), policy.lot_size)


def _scaled(amount: Decimal, signal: SignalGenerated, policy: SizingPolicy) -> Decimal:
    if policy.scale_by_strength and signal.strength is not None:
        return amount * signal.strength
    return amount


def _round_down(quantity: Decimal, lot_size: Decimal) -> Decimal:
    return (quantity // lot_size) * lot_size


def _need_price(price: Decimal | None, signal: SignalGenerated) -> Decimal:
    if price is None or price <= 0:
        raise SizingError(f"no price known for {signal.symbol} to size the order")
    return price


def _need_equity(equity: Decimal | None, signal: SignalGenerated) -> Decimal:
    if equity is None or equity <= 0:
        raise SizingError(f"no positive equity known to size the {signal.symbol} order (equity {equity})")
    return equity
