"""Order commands (consumed by the execution service) and the order events it publishes."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal, Self

from pydantic import Field, model_validator

from .base import Command, Event, Money, PositiveQuantity, Price, Quantity, Symbol

ClientOrderId = str


class Side(StrEnum):
    """Which way an order trades."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """Return +1 for a buy, -1 for a sell."""
        return 1 if self is Side.BUY else -1


class OrderType(StrEnum):
    """How an order meets the market."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"

    def check_prices(self, limit_price: Decimal | None, stop_price: Decimal | None) -> None:
        """Raise ``ValueError`` unless exactly the prices this order type needs are given."""
        needs_limit = self in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = self in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_limit != (limit_price is not None):
            raise ValueError(f"{self.value} order {'needs' if needs_limit else 'takes no'} limit_price")
        if needs_stop != (stop_price is not None):
            raise ValueError(f"{self.value} order {'needs' if needs_stop else 'takes no'} stop_price")


class TimeInForce(StrEnum):
    """How long an order stays working."""

    GTC = "GTC"
    DAY = "DAY"
    IOC = "IOC"
    FOK = "FOK"


class SubmitOrder(Command):
    """Place an order. ``client_order_id`` is derived from the causing message so a redelivery is not a new order."""

    type: Literal["SubmitOrder"] = "SubmitOrder"
    schema_version: Literal[1] = 1
    client_order_id: ClientOrderId = Field(min_length=1, max_length=128)
    strategy_id: str
    symbol: Symbol
    side: Side
    quantity: PositiveQuantity
    order_type: OrderType = OrderType.MARKET
    limit_price: Price | None = None
    stop_price: Price | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False

    @model_validator(mode="after")
    def _check_prices(self) -> Self:
        self.order_type.check_prices(self.limit_price, self.stop_price)
        return self


class CancelOrder(Command):
    """Cancel a working order."""

    type: Literal["CancelOrder"] = "CancelOrder"
    schema_version: Literal[1] = 1
    client_order_id: ClientOrderId = Field(min_length=1, max_length=128)
    symbol: Symbol
    reason: str = ""


class OrderAccepted(Event):
    """Record that the broker accepted an order; it is now working."""

    type: Literal["OrderAccepted"] = "OrderAccepted"
    schema_version: Literal[1] = 1
    client_order_id: ClientOrderId
    venue_order_id: str
    strategy_id: str
    symbol: Symbol
    side: Side
    quantity: PositiveQuantity
    order_type: OrderType
    limit_price: Price | None = None
    stop_price: Price | None = None
    time_in_force: TimeInForce


class OrderRejected(Event):
    """Record that an order was refused, by pre-trade risk or by the broker, and why."""

    type: Literal["OrderRejected"] = "OrderRejected"
    schema_version: Literal[1] = 1
    client_order_id: ClientOrderId
    strategy_id: str
    symbol: Symbol
    reason: str = Field(min_length=1)


class OrderCanceled(Event):
    """Record that a working order was canceled; ``filled_quantity`` had filled before."""

    type: Literal["OrderCanceled"] = "OrderCanceled"
    schema_version: Literal[1] = 1
    client_order_id: ClientOrderId
    venue_order_id: str | None = None
    strategy_id: str
    symbol: Symbol
    filled_quantity: Quantity = Decimal(0)
    reason: str = ""


class OrderExpired(Event):
    """Record that an order's time in force ran out (DAY at the close, IOC/FOK unfilled)."""

    type: Literal["OrderExpired"] = "OrderExpired"
    schema_version: Literal[1] = 1
    client_order_id: ClientOrderId
    venue_order_id: str | None = None
    strategy_id: str
    symbol: Symbol
    filled_quantity: Quantity = Decimal(0)


class OrderFilled(Event):
    """Record one fill (possibly partial) of an order; ``fill_id`` is unique, so applying a fill is idempotent."""

    type: Literal["OrderFilled"] = "OrderFilled"
    schema_version: Literal[2] = 2
    fill_id: str = Field(min_length=1, max_length=128)
    client_order_id: ClientOrderId
    venue_order_id: str
    strategy_id: str
    symbol: Symbol
    side: Side
    quantity: PositiveQuantity
    price: Price
    commission: Money = Decimal(0)
    commission_currency: str | None = Field(None, min_length=1, max_length=32, description=(
        "The asset the commission was charged in (BTC on a BTC/USDT buy at most crypto venues); None: the "
        "account currency."))
    cumulative_quantity: PositiveQuantity
    leaves_quantity: Quantity

    @property
    def is_final(self) -> bool:
        """Return whether this fill completes the order."""
        return self.leaves_quantity == 0

    @model_validator(mode="after")
    def _check_quantities(self) -> Self:
        if self.commission < 0:
            raise ValueError("commission must not be negative")
        if self.cumulative_quantity < self.quantity:
            raise ValueError("cumulative_quantity is below this fill's quantity")
        return self
