"""SQLite plumbing shared by the order store and the paper broker: connections, transactions, row codecs.

Files run in WAL mode with ``synchronous=FULL`` by default, so a committed order survives a crash of the process
and of the machine. Decimals are stored as text (exact), datetimes as ISO-8601 UTC text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from shared.contracts import OrderType, Side, TimeInForce

from ..domain.orders import Order, OrderStatus
from ..domain.reports import Accepted, Canceled, Expired, Filled, Rejected, Report, Triggered

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]

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
    correlation_id TEXT
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
                 "filled_quantity", "average_fill_price", "reason", "updated_at", "correlation_id")
_FILL_FIELDS = ("fill_id", "client_order_id", "venue_order_id", "quantity", "price", "commission", "cumulative",
                "leaves", "ts")

UPSERT_ORDER = (f"INSERT OR REPLACE INTO {{table}} ({', '.join(_ORDER_FIELDS)}) "
                f"VALUES ({', '.join('?' * len(_ORDER_FIELDS))})")
INSERT_FILL = (f"INSERT OR IGNORE INTO {{table}} (seq, {', '.join(_FILL_FIELDS)}) "
               f"VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM {{table}}), {', '.join('?' * len(_FILL_FIELDS))})")


def connect(path: str | Path, synchronous: Synchronous = "FULL") -> sqlite3.Connection:
    """Open ``path`` (``":memory:"`` for a throwaway database) in autocommit mode, WAL when on disk."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.row_factory = sqlite3.Row
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in one write transaction: committed if it returns, rolled back if it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def order_row(order: Order) -> tuple[Any, ...]:
    """Return ``order`` as the values of ``UPSERT_ORDER``."""
    return (order.client_order_id, order.strategy_id, order.symbol, order.side.value, str(order.quantity),
            order.created_at.isoformat(), order.order_type.value, _text(order.limit_price),
            _text(order.stop_price), order.time_in_force.value, int(order.reduce_only), order.status.value,
            order.venue_order_id, str(order.filled_quantity), _text(order.average_fill_price), order.reason,
            _time_text(order.updated_at), order.correlation_id)


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
        updated_at=_time(row["updated_at"]) if row["updated_at"] else None, correlation_id=row["correlation_id"])


def fill_row(fill: Filled) -> tuple[Any, ...]:
    """Return ``fill`` as the values of ``INSERT_FILL``."""
    return (fill.fill_id, fill.client_order_id, fill.venue_order_id, str(fill.quantity), str(fill.price),
            str(fill.commission), str(fill.cumulative), str(fill.leaves), fill.ts.isoformat())


def fill_from_row(row: sqlite3.Row) -> Filled:
    """Return the ``Filled`` report stored in ``row``."""
    return Filled(row["client_order_id"], row["venue_order_id"], row["fill_id"], Decimal(row["quantity"]),
                  Decimal(row["price"]), Decimal(row["commission"]), Decimal(row["cumulative"]),
                  Decimal(row["leaves"]), _time(row["ts"]))


_REPORT_TYPES: dict[str, type] = {cls.__name__: cls for cls in (
    Accepted, Rejected, Filled, Canceled, Expired, Triggered)}


def report_json(report: Report) -> str:
    """Return ``report`` as JSON text; decimals and datetimes are tagged so they come back exactly."""
    values = {f.name: _tag(getattr(report, f.name)) for f in fields(report)}
    return json.dumps({"type": type(report).__name__, "fields": values})


def report_from_json(text: str) -> Report:
    """Return the report stored by ``report_json``."""
    data = json.loads(text)
    values = {name: _untag(value) for name, value in data["fields"].items()}
    return _REPORT_TYPES[data["type"]](**values)


def _tag(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"decimal": str(value)}
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    return value


def _untag(value: Any) -> Any:
    if isinstance(value, dict):
        return Decimal(value["decimal"]) if "decimal" in value else datetime.fromisoformat(value["datetime"])
    return value


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _time_text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)
