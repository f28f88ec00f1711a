"""Turn the text lines of a market-data CSV into checked messages, reporting every bad row with its line.

Lines come in numbered (``enumerate(file, 1)``), so a report names the physical line. Each symbol's stream must
move forward in time: strictly for bars, except a one-price bar (open = high = low = close: a trade tick written as
a bar), which may share its timestamp with the row before, as trades may. Blank lines carry no data and are
passed over; every other line that does not become a message goes to the ``BadRowGate``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone, tzinfo
from decimal import Decimal
from itertools import chain

from pydantic import TypeAdapter, ValidationError

from shared.contracts import BarClosed, TradeTicked
from shared.contracts.base import Symbol

from .columns import BarColumns, TickColumns, TimeColumns
from .messages import new_bar, new_trade, replay_id, stream_id_base
from .timestamps import TimeParser, make_time_parser
from .validation import BadRow, BadRowGate, bar_problem, order_problem, tick_problem

NumberedLines = Iterable[tuple[int, str]]
"""Lines of a file with their 1-based line numbers, as ``enumerate(file, 1)`` gives them."""

_ZERO = Decimal(0)
_DAWN = datetime.min.replace(tzinfo=timezone.utc)
_SYMBOL = TypeAdapter(Symbol)
_PARSE_ERRORS = (ValueError, IndexError, ArithmeticError)


SEPARATORS = (",", ";", "\t", "|")
"""The field separators ``detect_separator`` considers, in order of preference on a tie."""


def split_row(line: str, sep: str = ",") -> list[str]:
    """Split one CSV line into fields, honouring quotes only when the line has any (the rare, slow case)."""
    if '"' in line:
        return next(csv.reader([line], delimiter=sep), [])
    return line.rstrip("\r\n").split(sep)


def detect_separator(line: str) -> str:
    """Return the separator that splits ``line`` (a header) into the most fields: ``,`` ``;`` tab or ``|``."""
    return max(SEPARATORS, key=lambda sep: (line.count(sep), -SEPARATORS.index(sep)))


def read_header(lines: Iterator[tuple[int, str]], sep: str = ",") -> list[str]:
    """Return the fields of the first non-blank line (the header); raise ``ValueError`` if there is none."""
    for _, line in lines:
        if line.strip():
            return [name.strip().lstrip("\ufeff") for name in split_row(line, sep)]
    raise ValueError("the file is empty: it has no header line and no rows")


def looks_like_data(fields: Sequence[str]) -> bool:
    """Return whether a first line is a row of data rather than a header: half its fields or more are numbers."""
    numbers = 0
    for text in fields:
        try:
            numbers += Decimal(text.strip()).is_finite()
        except ArithmeticError:
            pass
    return numbers * 2 >= len(fields) > 0


DECIMAL_CACHE_SIZE = 1 << 16
"""Distinct number texts a reader remembers: bar files repeat prices, and a hit costs a fraction of a parse."""


class Decimals(dict[str, Decimal]):
    """Parse number texts into ``Decimal`` once each: ``decimals[text]``; raises what ``Decimal(text)`` raises.

    Decimals are immutable, so messages may share them. The cache holds at most ``size`` texts, then is emptied.
    """

    def __init__(self, size: int = DECIMAL_CACHE_SIZE) -> None:
        super().__init__()
        self.size = size

    def __missing__(self, text: str) -> Decimal:
        value = Decimal(text)
        if len(self) >= self.size:
            self.clear()
        self[text] = value
        return value


class _Stream:
    __slots__ = ("symbol", "id_base", "last", "same_time", "count", "same_at")

    def __init__(self, symbol: str, id_base: int) -> None:
        self.symbol = symbol
        self.id_base = id_base
        self.last = _DAWN
        self.same_time = 0  # messages before this one at the same timestamp (trades may share one)
        self.count = 0  # messages yielded: the stream sequence of the last one
        self.same_at = _DAWN  # bars: the timestamp ``same_time`` counts at (ticks written as one-price bars)


class _RowReader:
    kind = ""

    def __init__(self, time: TimeColumns, prices: dict[str, int | None], symbol_column: int | None, *, file: str,
                 source: str, symbol: str | None, gate: BadRowGate, tz: tzinfo, timeframe: str = "",
                 sep: str = ",") -> None:
        if symbol_column is None and symbol is None:
            raise ValueError(f"{file}: no symbol column, so the feed needs a symbol")
        self.time, self.prices, self.symbol_column = time, prices, symbol_column
        self.file, self.source, self.timeframe, self.gate, self.tz = file, source, timeframe, gate, tz
        self.sep = sep
        self.streams: dict[str, _Stream] = {}
        self.fixed = self.stream_of(symbol) if symbol_column is None and symbol is not None else None
        used = [i for i in (time.first, time.second, symbol_column, *prices.values()) if i is not None]
        self.width = max(used) + 1

    def stream_of(self, symbol: str) -> _Stream:
        stream = self.streams.get(symbol)
        if stream is None:
            _SYMBOL.validate_python(symbol)
            stream = self.streams[symbol] = _Stream(symbol, stream_id_base(self.kind, self.source, symbol,
                                                                           self.timeframe))
        return stream

    def symbol_index(self) -> int:
        """Return the symbol column (read only when the reader has no fixed symbol, which means it has one)."""
        return self.symbol_column if self.symbol_column is not None else -1

    def start(self, lines: Iterator[tuple[int, str]]) -> tuple[TimeParser, list[tuple[int, str]]]:
        """Read up to the first data line; return the time parser it implies and the lines read."""
        taken = []
        for number, line in lines:
            taken.append((number, line))
            if line.strip():
                return make_time_parser(self.time, split_row(line, self.sep), self.tz), taken
        return make_time_parser(self.time, None, self.tz), taken

    def sample_times(self, lines: NumberedLines, count: int) -> list[tuple[int, str, datetime | None]]:
        """Return the first ``count`` data lines (number, timestamp text) with their time, ``None`` if unparsable."""
        lines = iter(lines)
        parse_time, taken = self.start(lines)
        sampled: list[tuple[int, str, datetime | None]] = []
        for number, line in chain(taken, lines):
            if len(sampled) >= count:
                break
            if not line.strip():
                continue
            row = split_row(line, self.sep)
            text = " ".join(row[i] for i in (self.time.first, self.time.second) if i is not None and i < len(row))
            try:
                sampled.append((number, text, parse_time(row)))
            except _PARSE_ERRORS:
                sampled.append((number, text, None))
        return sampled

    def reject(self, number: int, line: str, reason: str) -> None:
        self.gate(BadRow(self.file, number, reason, line.rstrip("\r\n")[:200]))

    def why_unparsable(self, row: Sequence[str], parse_time: TimeParser) -> str:
        if len(row) < self.width:
            return f"expected at least {self.width} fields, found {len(row)}"
        try:
            parse_time(row)
        except _PARSE_ERRORS:
            text = " ".join(row[i] for i in (self.time.first, self.time.second) if i is not None)
            return f"unparsable timestamp {text!r}"
        for name, index in self.prices.items():
            if index is not None:
                try:
                    Decimal(row[index])
                except _PARSE_ERRORS:
                    return f"unparsable {name} {row[index]!r}"
        if self.symbol_column is not None:
            try:
                self.stream_of(row[self.symbol_column])
            except ValidationError:
                return f"invalid symbol {row[self.symbol_column]!r}"
        return "unparsable row"


class BarRows(_RowReader):
    """Read OHLCV bar lines into ``BarClosed`` messages (``ts_event`` = the row's timestamp)."""

    kind = "BarClosed"

    def __init__(self, columns: BarColumns, *, file: str, source: str, symbol: str | None, timeframe: str,
                 gate: BadRowGate, tz: tzinfo = timezone.utc, sep: str = ",") -> None:
        prices = {"open": columns.open, "high": columns.high, "low": columns.low, "close": columns.close,
                  "volume": columns.volume}
        super().__init__(columns.time, prices, columns.symbol, file=file, source=source, symbol=symbol,
                         gate=gate, tz=tz, timeframe=timeframe, sep=sep)
        self.columns = columns

    def parse(self, lines: NumberedLines) -> Iterator[BarClosed]:
        """Yield a bar per good line of ``lines`` (data lines, header already read); report the bad ones."""
        lines = iter(lines)
        parse_time, taken = self.start(lines)
        c = self.columns
        io, ih, il, ic, iv = c.open, c.high, c.low, c.close, c.volume
        fixed, stream_of, source, timeframe = self.fixed, self.stream_of, self.source, self.timeframe
        isym, sep = self.symbol_index(), self.sep
        D, problem, new, make_id = Decimals(), bar_problem, new_bar, replay_id
        for number, line in chain(taken, lines):
            row = line.rstrip("\r\n").split(sep) if '"' not in line else split_row(line, sep)
            try:
                ts = parse_time(row)
                o, h, lo, cl = D[row[io]], D[row[ih]], D[row[il]], D[row[ic]]
                v = D[row[iv]] if iv is not None else _ZERO
                stream = fixed if fixed is not None else stream_of(row[isym])
            except _PARSE_ERRORS:
                if line.strip():
                    self.reject(number, line, self.why_unparsable(row, parse_time))
                continue
            reason = problem(o, h, lo, cl, v)
            same_time = 0
            if reason is None and ts <= stream.last:
                if ts == stream.last and o == h == lo == cl:  # a tick as a one-price bar: ticks share timestamps
                    stream.same_time = stream.same_time + 1 if stream.same_at == ts else 1
                    stream.same_at, same_time = ts, stream.same_time
                else:
                    reason = order_problem(stream.last, ts)
            if reason is not None:
                self.reject(number, line, reason)
                continue
            stream.last = ts
            stream.count += 1
            yield new(make_id(stream.id_base, ts, same_time), ts, source, stream.symbol, stream.count, timeframe, o,
                      h, lo, cl, v)


class TradeRows(_RowReader):
    """Read trade lines into ``TradeTicked`` messages; trades may share a timestamp, never go back in time."""

    kind = "TradeTicked"

    def __init__(self, columns: TickColumns, *, file: str, source: str, symbol: str | None, gate: BadRowGate,
                 tz: tzinfo = timezone.utc, sep: str = ",") -> None:
        super().__init__(columns.time, {"price": columns.price, "size": columns.size}, columns.symbol, file=file,
                         source=source, symbol=symbol, gate=gate, tz=tz, sep=sep)
        self.columns = columns

    def parse(self, lines: NumberedLines) -> Iterator[TradeTicked]:
        """Yield a trade per good line of ``lines`` (data lines, header already read); report the bad ones."""
        lines = iter(lines)
        parse_time, taken = self.start(lines)
        ip, isz = self.columns.price, self.columns.size
        fixed, stream_of, source = self.fixed, self.stream_of, self.source
        isym, sep = self.symbol_index(), self.sep
        D = Decimals()
        for number, line in chain(taken, lines):
            row = line.rstrip("\r\n").split(sep) if '"' not in line else split_row(line, sep)
            try:
                ts = parse_time(row)
                price, size = D[row[ip]], D[row[isz]]
                stream = fixed if fixed is not None else stream_of(row[isym])
            except _PARSE_ERRORS:
                if line.strip():
                    self.reject(number, line, self.why_unparsable(row, parse_time))
                continue
            reason = tick_problem(price, size) or order_problem(stream.last, ts, strict=False)
            if reason is not None:
                self.reject(number, line, reason)
                continue
            stream.same_time = stream.same_time + 1 if ts == stream.last else 0
            stream.last = ts
            stream.count += 1
            yield new_trade(replay_id(stream.id_base, ts, stream.same_time), ts, source, stream.symbol, stream.count,
                            price, size)
