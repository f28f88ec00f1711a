"""Signals published by the strategy service."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, Self

from pydantic import model_validator

from .base import Event, Fraction, PositiveQuantity, Price, Symbol
from .orders import OrderType


class Direction(StrEnum):
    """What a strategy wants: be long, be short, or be flat."""

    LONG = "long"
    SHORT = "short"
    EXIT = "exit"


class SignalGenerated(Event):
    """Record that a strategy wants a position change in ``symbol``.

    ``strength`` (0..1) or a target (``target_quantity`` or ``target_weight``) guides sizing in the execution
    service; ``order_type`` with ``limit_price``/``stop_price`` says how the strategy wants to enter.
    """

    type: Literal["SignalGenerated"] = "SignalGenerated"
    schema_version: Literal[1] = 1
    strategy_id: str
    symbol: Symbol
    direction: Direction
    strength: Fraction | None = None
    target_quantity: PositiveQuantity | None = None
    target_weight: Fraction | None = None
    reference_price: Price | None = None
    order_type: OrderType = OrderType.MARKET
    limit_price: Price | None = None
    stop_price: Price | None = None

    @model_validator(mode="after")
    def _check_prices(self) -> Self:
        if self.strength is not None and self.strength < 0:
            raise ValueError("strength must lie in [0, 1]")
        if self.direction is not Direction.EXIT:
            self.order_type.check_prices(self.limit_price, self.stop_price)
        return self
