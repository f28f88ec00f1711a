"""Fill factories for the portfolio tests: every fill gets a fresh id unless one is given."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.contracts import OrderFilled
from tests.factories import T0, fill

_ids = itertools.count(1)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def filled(side: str, quantity: str | int, price: str, **overrides: Any) -> OrderFilled:
    n = next(_ids)
    size = Decimal(quantity)
    fields: dict[str, Any] = dict(fill_id=f"fill-{n}", client_order_id=f"c-{n}", side=side, quantity=size,
                                  price=Decimal(price), commission=Decimal(0), cumulative_quantity=size,
                                  leaves_quantity=Decimal(0))
    return fill(**(fields | overrides))


def buy(quantity: str | int, price: str, **overrides: Any) -> OrderFilled:
    return filled("buy", quantity, price, **overrides)


def sell(quantity: str | int, price: str, **overrides: Any) -> OrderFilled:
    return filled("sell", quantity, price, **overrides)
