"""Translate between the service's orders and ccxt's unified records (orders, trades, markets); no I/O here.

Everything money becomes ``Decimal(str(x))`` (ccxt hands out floats and strings), every time a UTC ``datetime``.

Client order ids: Binance takes ``^[.A-Z:/a-z0-9_-]{1,36}$``; the service's ids (``client_order_id_for``: a UUID5,
36 characters) fit and are sent unchanged. An id that does not fit (a ``SubmitOrder`` may carry up to 128 free
characters) is sent as ``tb-`` + the first 32 hex digits of its SHA-256: derivable from ours, never the other way,
so the broker remembers every id it has sent or been asked about (``ClientIds``) to translate answers back.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal
from typing import Any

from shared.contracts import OrderType, Side, TimeInForce

from ..domain.orders import Order, OrderStatus
from ..domain.reports import Filled

VENUE_CLIENT_ID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
ADOPTED_STRATEGY = "venue"
"""The strategy of an order the venue has and the service never placed (made by hand, or a lost store)."""

_TICK_SIZE, _DECIMAL_PLACES = 4, 2  # ccxt's precisionMode constants
_SENT_TIME_IN_FORCE = frozenset({TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK})
_STATUS = {"closed": OrderStatus.FILLED, "canceled": OrderStatus.CANCELED, "expired": OrderStatus.EXPIRED,
           "rejected": OrderStatus.REJECTED}
ZERO = Decimal(0)


def venue_client_id(client_order_id: str) -> str:
    """Return the id the venue knows our order by: ours if the venue accepts it, else a hash of it."""
    if VENUE_CLIENT_ID.match(client_order_id):
        return client_order_id
    return "tb-" + hashlib.sha256(client_order_id.encode()).hexdigest()[:32]


class ClientIds:
    """Translate venue client ids back to ours: every id sent or asked about is remembered."""

    def __init__(self) -> None:
        self._ours: dict[str, str] = {}

    def remember(self, client_order_id: str) -> str:
        """Note ``client_order_id`` and return the id the venue knows it by."""
        venue_id = venue_client_id(client_order_id)
        self._ours[venue_id] = client_order_id
        return venue_id

    def ours(self, venue_id: str | None, venue_order_id: str) -> str:
        """Return our id for a venue client id; an unknown hash or a missing id stays the venue's."""
        if not venue_id:
            return f"venue:{venue_order_id}"
        return self._ours.get(venue_id, venue_id)


def dec(value: Any) -> Decimal | None:
    """Return ``value`` (a ccxt float, int or string) as an exact ``Decimal``, ``None`` for none."""
    return None if value is None or value == "" else Decimal(str(value))


def utc(ms: Any, default: datetime) -> datetime:
    """Return a ccxt millisecond timestamp as an aware UTC datetime (``default`` when there is none)."""
    return default if ms is None else datetime.fromtimestamp(int(ms) / 1000, tz=timezone.utc)


def show(value: Decimal) -> str:
    """Return a decimal written out plainly (``0.000001``, not ``1E-6``)."""
    return format(value.normalize(), "f")


def fill_id(exchange_id: str, trade_id: Any) -> str:
    """Return the fill id of a venue trade: deterministic, so a fill seen twice is applied once."""
    return f"{exchange_id}:{trade_id}"


def fill_from_trade(trade: Mapping[str, Any], client_order_id: str, cumulative: Decimal, ordered: Decimal,
                    exchange_id: str, now: datetime) -> Filled:
    """Return the fill a ccxt trade records, ``cumulative`` after it out of ``ordered``."""
    fee = trade.get("fee") or {}
    return Filled(client_order_id=client_order_id, venue_order_id=str(trade["order"]),
                  fill_id=fill_id(exchange_id, trade["id"]), quantity=dec(trade["amount"]) or ZERO,
                  price=dec(trade["price"]) or ZERO, commission=dec(fee.get("cost")) or ZERO,
                  cumulative=cumulative, leaves=ordered - cumulative, ts=utc(trade.get("timestamp"), now),
                  commission_currency=fee.get("currency"))


def trade_key(trade: Mapping[str, Any]) -> tuple[int, str]:
    """Return the key that sorts trades oldest first (time, then id)."""
    return int(trade.get("timestamp") or 0), str(trade["id"]).rjust(24, "0")


def order_status(raw: Mapping[str, Any]) -> OrderStatus:
    """Return the service's status of a ccxt order."""
    status = _STATUS.get(raw.get("status") or "open")
    if status is not None:
        return status
    return OrderStatus.PARTIALLY_FILLED if (dec(raw.get("filled")) or ZERO) > 0 else OrderStatus.ACCEPTED


def order_from_ccxt(raw: Mapping[str, Any], client_order_id: str, now: datetime) -> Order:
    """Return a ccxt order as the service's ``Order``, for reconciliation."""
    trigger = dec(raw.get("triggerPrice") or raw.get("stopPrice"))
    kind = str(raw.get("type") or "limit")
    if trigger is not None:
        order_type = OrderType.STOP_LIMIT if "limit" in kind else OrderType.STOP
    else:
        order_type = OrderType.MARKET if kind == "market" else OrderType.LIMIT
    limit = dec(raw.get("price")) if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    tif = str(raw.get("timeInForce"))
    created = utc(raw.get("timestamp"), now)
    status = order_status(raw)
    return Order(client_order_id=client_order_id, strategy_id=ADOPTED_STRATEGY, symbol=raw["symbol"],
                 side=Side(raw["side"]), quantity=dec(raw["amount"]) or ZERO, created_at=created,
                 order_type=order_type, limit_price=limit, stop_price=trigger,
                 time_in_force=TimeInForce(tif) if tif in TimeInForce.__members__ else TimeInForce.GTC,
                 status=status, venue_order_id=str(raw["id"]), filled_quantity=dec(raw.get("filled")) or ZERO,
                 average_fill_price=dec(raw.get("average")),
                 reason="rejected by the venue" if status is OrderStatus.REJECTED else "",
                 updated_at=utc(raw.get("lastUpdateTimestamp") or raw.get("lastTradeTimestamp"), created))


def step_of(precision: Any, mode: int) -> Decimal | None:
    """Return the increment a ccxt market precision allows (``None`` when ccxt's mode gives none)."""
    if precision is None:
        return None
    if mode == _TICK_SIZE:
        return Decimal(str(precision))
    if mode == _DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(precision))
    return None


def _to_step(value: Decimal, step: Decimal | None, rounding: str) -> Decimal:
    return value if step is None else (value / step).to_integral_value(rounding) * step


def create_args(order: Order, market: Mapping[str, Any], mode: int,
                venue_client_id: str) -> tuple[str, Decimal, Decimal | None, dict[str, Any]] | str:
    """Return ccxt ``create_order``'s type, amount, price and params for ``order``, or why it cannot be sent.

    The amount rounds down to the market's step (never more than asked); a limit price rounds to the passive side
    (a buy down, a sell up: never a worse price than asked); a stop price to the nearest tick. Then the market's
    limits are checked. A market order's notional is not checked (no price is known here): the venue checks it.
    """
    precision = market.get("precision") or {}
    amount_step, tick = step_of(precision.get("amount"), mode), step_of(precision.get("price"), mode)
    amount = _to_step(order.quantity, amount_step, ROUND_DOWN)
    passive = ROUND_DOWN if order.side is Side.BUY else ROUND_UP
    price = None if order.limit_price is None else _to_step(order.limit_price, tick, passive)
    stop = None if order.stop_price is None else _to_step(order.stop_price, tick, ROUND_HALF_EVEN)
    reason = limits_violation(order.quantity, amount, amount_step, price or stop, market)
    if reason:
        return reason
    params: dict[str, Any] = {"clientOrderId": venue_client_id}
    if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        if order.time_in_force not in _SENT_TIME_IN_FORCE:
            return f"time in force {order.time_in_force.value} is not supported by the venue (GTC, IOC, FOK are)"
        params["timeInForce"] = order.time_in_force.value
    if stop is not None:
        params["triggerPrice"] = float(stop)
    kind = "limit" if order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else "market"
    return kind, amount, price, params


def limits_violation(asked: Decimal, amount: Decimal, step: Decimal | None, price: Decimal | None,
                     market: Mapping[str, Any]) -> str | None:
    """Return why ``amount`` (``asked`` rounded to ``step``) at ``price`` breaks the market's limits, or ``None``."""
    limits, base, quote = market.get("limits") or {}, market.get("base", ""), market.get("quote", "")

    def bound(name: str, side: str) -> Decimal | None:
        return dec((limits.get(name) or {}).get(side))

    rounded = f" (rounded down to {show(amount)} at the step {show(step)})" if step and amount != asked else ""
    minimum, maximum = bound("amount", "min"), bound("amount", "max")
    if minimum is not None and amount < minimum:
        return f"amount {show(asked)} {base}{rounded} is below the market minimum {show(minimum)}"
    if amount <= 0:
        return f"amount {show(asked)} {base}{rounded} is zero"
    if maximum is not None and amount > maximum:
        return f"amount {show(amount)} {base} is above the market maximum {show(maximum)}"
    if price is None:
        return None
    low, high = bound("price", "min"), bound("price", "max")
    if low is not None and price < low:
        return f"price {show(price)} {quote} is below the market minimum {show(low)}"
    if high is not None and high > 0 and price > high:
        return f"price {show(price)} {quote} is above the market maximum {show(high)}"
    cost, least = amount * price, bound("cost", "min")
    if least is not None and cost < least:
        return f"notional {show(cost)} {quote} (amount x price) is below the market minimum {show(least)}"
    most = bound("cost", "max")
    if most is not None and most > 0 and cost > most:
        return f"notional {show(cost)} {quote} (amount x price) is above the market maximum {show(most)}"
    return None
