"""Which CSV column holds which field: auto-detected from the header, overridable field by field.

A timestamp comes from a ``date`` + ``time`` pair, one ``datetime`` column (ISO 8601, or epoch numbers detected
from the first row), or an ``epoch`` column (seconds, milliseconds, microseconds or nanoseconds). Columns the
mapping does not name are ignored. A column may also be named by its position (``0`` is the first), which is how
the columns of a file without a header line are named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

EpochUnit = Literal["s", "ms", "us", "ns"]

_TIME_ALIASES = ("time", "tradetime")
_DATE_ALIASES = ("date", "day", "tradedate", "dtyyyymmdd")
_DATETIME_ALIASES = (
    "datetime", "timestamp", "ts", "dt", "datetimeutc", "timeutc", "epoch", "unix", "unixtime", "opentime",
    *_DATE_ALIASES, *_TIME_ALIASES,
)
_ALIASES: dict[str, tuple[str, ...]] = {
    "open": ("open", "o", "openprice"),
    "high": ("high", "h", "highprice"),
    "low": ("low", "l", "lowprice"),
    "close": ("close", "c", "closeprice", "last"),
    "volume": ("volume", "vol", "v", "basevolume"),
    "symbol": ("symbol", "ticker", "instrument", "sym", "pair"),
    "price": ("price", "tradeprice", "lastprice", "px", "last", "close"),
    "size": ("size", "qty", "quantity", "amount", "tradesize", "lastsize", "volume"),
}


class ColumnError(ValueError):
    """Raised when a header lacks a column the mapping names or a field needs."""


@dataclass(frozen=True)
class ColumnMapping:
    """Name the header of each field; a field left ``None`` is found in the header by its usual names.

    Give at most one timestamp source: ``date`` (with an optional ``time``), ``datetime``, or ``epoch``.
    ``epoch_unit`` fixes the unit of epoch numbers (otherwise told from their magnitude); ``datetime_format`` is a
    ``strptime`` format for non-ISO text (for a date + time pair it applies to ``"<date> <time>"``); ``sep`` is
    the field separator (``None``: told from the first line, one of ``,`` ``;`` tab ``|``).
    """

    date: str | None = None
    time: str | None = None
    datetime: str | None = None
    epoch: str | None = None
    epoch_unit: EpochUnit | None = None
    datetime_format: str | None = None
    open: str | None = None
    high: str | None = None
    low: str | None = None
    close: str | None = None
    volume: str | None = None
    symbol: str | None = None
    price: str | None = None
    size: str | None = None
    sep: str | None = None

    def __post_init__(self) -> None:
        sources = [name for name in ("date", "datetime", "epoch") if getattr(self, name)]
        if len(sources) > 1:
            raise ColumnError(f"give one timestamp source, not {' and '.join(sources)}")
        if self.time and (self.datetime or self.epoch):
            raise ColumnError("a time column pairs with a date column, not with datetime or epoch")
        if self.sep is not None and len(self.sep) != 1:
            raise ColumnError(f"the separator must be one character, not {self.sep!r}")

    def positional(self) -> bool:
        """Return whether every column this mapping names is named by its position (a file without a header)."""
        names = [getattr(self, name) for name in COLUMN_FIELDS if getattr(self, name)]
        return bool(names) and all(name.isdigit() for name in names)


COLUMN_FIELDS = ("date", "time", "datetime", "epoch", "open", "high", "low", "close", "volume", "symbol", "price",
                 "size")
"""The fields of ``ColumnMapping`` that name a column."""


@dataclass(frozen=True, slots=True)
class TimeColumns:
    """Where the timestamp is: ``first`` (date, datetime or epoch) and, for a date + time pair, ``second``."""

    first: int
    second: int | None = None
    force_epoch: bool = False
    epoch_unit: EpochUnit | None = None
    datetime_format: str | None = None


@dataclass(frozen=True, slots=True)
class BarColumns:
    """Column positions of an OHLCV bar row; ``volume`` ``None`` means volume 0, ``symbol`` ``None`` one symbol."""

    time: TimeColumns
    open: int
    high: int
    low: int
    close: int
    volume: int | None
    symbol: int | None


@dataclass(frozen=True, slots=True)
class TickColumns:
    """Column positions of a trade tick row."""

    time: TimeColumns
    price: int
    size: int
    symbol: int | None


def normalise(name: str) -> str:
    """Return ``name`` lower-cased without BOM, brackets, spaces, underscores, hyphens or dots."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def resolve_bar_columns(header: Sequence[str], mapping: ColumnMapping | None = None) -> BarColumns:
    """Find each bar field's column in ``header``; raise ``ColumnError`` naming what is missing."""
    finder = _Finder(header, mapping or ColumnMapping())
    return BarColumns(
        time=finder.time(),
        open=finder.required("open"),
        high=finder.required("high"),
        low=finder.required("low"),
        close=finder.required("close"),
        volume=finder.optional("volume"),
        symbol=finder.optional("symbol"),
    )


def resolve_tick_columns(header: Sequence[str], mapping: ColumnMapping | None = None) -> TickColumns:
    """Find each trade-tick field's column in ``header``; raise ``ColumnError`` naming what is missing."""
    finder = _Finder(header, mapping or ColumnMapping())
    return TickColumns(
        time=finder.time(), price=finder.required("price"), size=finder.required("size"),
        symbol=finder.optional("symbol"),
    )


class _Finder:
    def __init__(self, header: Sequence[str], mapping: ColumnMapping) -> None:
        self.header = list(header)
        self.mapping = mapping
        self.normalised = [normalise(name) for name in header]

    def explicit(self, field: str) -> int | None:
        name = getattr(self.mapping, field)
        if name is None:
            return None
        if name in self.header:
            return self.header.index(name)
        if normalise(name) in self.normalised:
            return self.normalised.index(normalise(name))
        if name.isdigit() and int(name) < len(self.header):
            return int(name)
        raise ColumnError(f"column {name!r} (mapped to {field}) is not in the header {self.header}: name a column "
                          f"of the header, or its position (0 is the first), with --columns {field}=...")

    def alias(self, aliases: Sequence[str]) -> int | None:
        return next((self.normalised.index(a) for a in aliases if a in self.normalised), None)

    def optional(self, field: str) -> int | None:
        index = self.explicit(field)
        return index if index is not None else self.alias(_ALIASES[field])

    def required(self, field: str) -> int:
        index = self.optional(field)
        if index is None:
            raise ColumnError(
                f"no {field} column in the header {self.header}; name it with --columns {field}=COLUMN")
        return index

    def time(self) -> TimeColumns:
        m = self.mapping

        def columns(first: int | None, second: int | None = None, *, force_epoch: bool = False) -> TimeColumns:
            if first is None:
                raise ColumnError(
                    f"no timestamp column in the header {self.header}; name one with --columns date=COLUMN "
                    "(and time=COLUMN), --columns datetime=COLUMN or --columns epoch=COLUMN")
            return TimeColumns(first, second, force_epoch, m.epoch_unit, m.datetime_format)

        if m.epoch:
            return columns(self.explicit("epoch"), force_epoch=True)
        if m.datetime:
            return columns(self.explicit("datetime"))
        if m.date:
            second = self.explicit("time") if m.time else self.alias(_TIME_ALIASES)
            return columns(self.explicit("date"), second)
        date = self.alias(_DATE_ALIASES)
        time = self.explicit("time") if m.time else self.alias(_TIME_ALIASES)
        if date is not None and time is not None:
            return columns(date, time)
        if m.time:
            return columns(time)
        return columns(self.alias(_DATETIME_ALIASES))
