"""The rows the order store and the paper broker keep orders and fills in, and their codecs.

Decimals are stored as text (exact), datetimes as ISO-8601 UTC text.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.contracts import OrderType, Side, TimeInForce

from ..domain.orders import Order, OrderStatus
from ..domain.reports import Filled

ORDER_COLUMNS = """
    client_order_id TEXT PRIMARY KEY,
    strategy_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity TEXT NOT NULL,
    created_at TEXT NOT NULL,
    order_type TEXT NOT NULL,
    limit_price TEXT,
    stop_price TEXT,
    time_in_force TEXT NOT NULL,
    reduce_only INTEGER NOT NULL,
    status TEXT NOT NULL,
    venue_order_id TEXT,
    filled_quantity TEXT NOT NULL,
    average_fill_price TEXT,
    reason TEXT NOT NULL,
    updated_at TEXT,
    correlation_id TEXT,
    recorded_at TEXT
"""

FILL_COLUMNS = """
    fill_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    client_order_id TEXT NOT NULL,
    venue_order_id TEXT NOT NULL,
    quantity TEXT NOT NULL,
    price TEXT NOT NULL,
    commission TEXT NOT NULL,
    cumulative TEXT NOT NULL,
    leaves TEXT NOT NULL,
    ts TEXT NOT NULL
"""

_ORDER_FIELDS = ("client_order_id", "strategy_id", "symbol", "side", "quantity", "created_at", "order_type",
                 "limit_price", "stop_price", "time_in_force", "reduce_only", "status", "venue_order_id",
                 "filled_quantity", "average_fill_price", "reason", "updated_at", "correlation_id", "recorded_at")
_FILL_FIELDS = ("fill_id", "client_order_id", "venue_order_id", "quantity", "price", "commission", "cumulative",
                "leaves", "ts")

UPSERT_ORDER = (f"INSERT OR REPLACE INTO {{table}} ({', '.join(_ORDER_FIELDS)}) "
                f"VALUES ({', '.join('?' * len(_ORDER_FIELDS))})")
INSERT_FILL = (f"INSERT OR IGNORE INTO {{table}} (seq, {', '.join(_FILL_FIELDS)}) "
               f"VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM {{table}}), {', '.join('?' * len(_FILL_FIELDS))})")


def order_row(order: Order) -> tuple[Any, ...]:
    """Return ``order`` as the values of ``UPSERT_ORDER``."""
    return (order.client_order_id, order.strategy_id, order.symbol, order.side.value, str(order.quantity),
            order.created_at.isoformat(), order.order_type.value, _text(order.limit_price),
            _text(order.stop_price), order.time_in_force.value, int(order.reduce_only), order.status.value,
            order.venue_order_id, str(order.filled_quantity), _text(order.average_fill_price), order.reason,
            _time_text(order.updated_at), order.correlation_id, _time_text(order.recorded_at))


def order_from_row(row: sqlite3.Row) -> Order:
    """Return the ``Order`` stored in ``row``."""
    return Order(
        client_order_id=row["client_order_id"], strategy_id=row["strategy_id"], symbol=row["symbol"],
        side=Side(row["side"]), quantity=Decimal(row["quantity"]), created_at=_time(row["created_at"]),
        order_type=OrderType(row["order_type"]), limit_price=_decimal(row["limit_price"]),
        stop_price=_decimal(row["stop_price"]), time_in_force=TimeInForce(row["time_in_force"]),
        reduce_only=bool(row["reduce_only"]), status=OrderStatus(row["status"]),
        venue_order_id=row["venue_order_id"], filled_quantity=Decimal(row["filled_quantity"]),
        average_fill_price=_decimal(row["average_fill_price"]), reason=row["reason"],
        updated_at=_time(row["updated_at"]) if row["updated_at"] else None, correlation_id=row["correlation_id"],
        recorded_at=_time(row["recorded_at"]) if row["recorded_at"] else None)


def fill_row(fill: Filled) -> tuple[Any, ...]:
    """Return ``fill`` as the values of ``INSERT_FILL``."""
    return (fill.fill_id, fill.client_order_id, fill.venue_order_id, str(fill.quantity), str(fill.price),
            str(fill.commission), str(fill.cumulative), str(fill.leaves), fill.ts.isoformat())


def fill_from_row(row: sqlite3.Row) -> Filled:
    """Return the ``Filled`` report stored in ``row``."""
    return Filled(row["client_order_id"], row["venue_order_id"], row["fill_id"], Decimal(row["quantity"]),
                  Decimal(row["price"]), Decimal(row["commission"]), Decimal(row["cumulative"]),
                  Decimal(row["leaves"]), _time(row["ts"]))


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _time_text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)
