"""Replay of CSV files: OHLCV bars and trade ticks, with column mapping and the bad-row policy; and the writer
of the synthetic benchmark file.

The header and the first rows are read when the feed is made, so a file that cannot be read as asked fails at
start-up with one ``DataFileError`` naming the file and the option to give, not mid-replay: an empty file, a first
line that is data (a file without a header: name its columns by position, ``--columns date=0,open=1,...``), or
timestamps none of which parse (give ``--datetime-format``). The separator is told from the header unless given.
A file whose rows go back in time (newest first) is replayed in reverse, oldest first, with a warning. Each pass
re-opens the file and reads it line by line: nothing is held beyond the message being yielded, except for a
newest-first file, whose lines are read whole to reverse them.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from shared.contracts import BarClosed, TradeTicked

from ..domain.columns import ColumnError, ColumnMapping, resolve_bar_columns, resolve_tick_columns
from ..domain.rows import BarRows, NumberedLines, TradeRows, detect_separator, looks_like_data, read_header
from ..domain.synthetic import random_walk_bars
from ..domain.validation import BadRow, BadRowGate, BadRowPolicy, BadRowReport
from .feeds import ReplayFeed

log = logging.getLogger("tradebus.data.feeds")

ORCL_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"
SAMPLE_ROWS = 20
"""Data rows read when a feed is made: if none has a readable timestamp, the file's format is wrong, not a row."""
_FORMAT_GUESSES = ("%m/%d/%Y", "%d/%m/%Y", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
                   "%d/%m/%Y %H:%M:%S", "%d.%m.%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%Y/%m/%d",
                   "%Y/%m/%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y%m%d %H%M%S", "%Y%m%d %H:%M:%S", "%d-%b-%Y", "%d-%m-%Y")


class DataFileError(ColumnError):
    """Raised when a file cannot be read as asked: the message names the file and what to give instead."""


def log_bad_row(bad_row: BadRow) -> None:
    """Report ``bad_row`` as a warning log line (the default when a feed is given no report callback)."""
    log.warning("bad row %s | %s", bad_row, bad_row.text)


def time_zone(tz: str | tzinfo | None) -> tzinfo:
    """Return the time zone naive file times are read in: ``None`` and ``"UTC"`` mean UTC."""
    if tz is None or tz == "UTC":
        return timezone.utc
    return tz if isinstance(tz, tzinfo) else ZoneInfo(tz)


class _CsvFeed(ReplayFeed):
    def __init__(self, path: str | Path, symbol: str | None, *, policy: BadRowPolicy | str,
                 on_bad_row: BadRowReport | None, tz: str | tzinfo | None, source: str,
                 mapping: ColumnMapping | None) -> None:
        super().__init__()
        self.path, self.symbol, self.source = Path(path), symbol, source
        self.gate = BadRowGate(on_bad_row or log_bad_row, BadRowPolicy(policy))
        self.tz = time_zone(tz)
        self.mapping = mapping = mapping or ColumnMapping()
        self.newest_first = False
        with self._open() as file:
            lines = enumerate(file, 1)
            first = next(((number, line) for number, line in lines if line.strip()), None)
        if first is None:
            raise DataFileError(f"{self.path}: the file is empty: it has no header line and no rows")
        self.sep = mapping.sep or detect_separator(first[1])
        self.header = read_header(iter([first]), self.sep)
        self.has_header = not looks_like_data(self.header)
        if not self.has_header:
            if not mapping.positional():
                raise DataFileError(
                    f"{self.path}: line {first[0]} is data, not a header ({first[1].strip()[:60]!r}): name the "
                    "columns by position (0 is the first), e.g. --columns date=0,open=1,high=2,low=3,close=4,volume=5")
            self.header = [str(index) for index in range(len(self.header))]

    def _check_order(self) -> None:
        """Read the first rows: refuse timestamps that never parse, and note a file that runs newest first."""
        with self._open() as file:
            sampled = self._rows(BadRowGate(lambda _: None)).sample_times(self._data_lines(file), SAMPLE_ROWS)
        times = [moment for _, _, moment in sampled if moment is not None]
        if sampled and not times:
            number, text, _ = sampled[0]
            raise DataFileError(f"{self.path}:{number}: cannot read the timestamp {text!r}{format_hint(text)}")
        steps = list(zip(times, times[1:]))
        backwards, forwards = sum(a > b for a, b in steps), sum(a < b for a, b in steps)
        if backwards > 4 * forwards:  # nearly every step goes back: the file is newest first, not a bad row
            self.newest_first = True

    @property
    def bad_rows(self) -> int:
        """Return how many bad rows the passes so far have reported."""
        return self.gate.count

    def find_bad_rows(self) -> list[BadRow]:
        """Read the whole file without publishing and return its bad rows (to reject a file before replaying it)."""
        found: list[BadRow] = []
        with self._open() as file:
            for _ in self._rows(BadRowGate(found.append)).parse(self._data_lines(file)):
                pass
        return found

    def _messages(self) -> Iterator[BarClosed | TradeTicked]:
        with self._open() as file:
            yield from self._rows(self.gate).parse(self._data_lines(file))

    def _data_lines(self, file: Iterable[str]) -> NumberedLines:
        lines = enumerate(file, 1)
        if self.has_header:
            read_header(lines, self.sep)
        if not self.newest_first:
            return lines
        log.warning("%s lists its newest row first: read in reverse, oldest first", self.path)
        return reversed(list(lines))

    def _open(self) -> TextIO:
        return self.path.open(encoding="utf-8-sig", newline="")

    @abc.abstractmethod
    def _rows(self, gate: BadRowGate) -> BarRows | TradeRows:
        """Return a fresh row reader reporting to ``gate``."""


class CsvBarFeed(_CsvFeed):
    """Replay the OHLCV bars of one CSV file as ``BarClosed`` messages (``ts_event`` = the row's timestamp).

    Columns are found from the header (``Date`` + ``Time``, ``Datetime``, epoch numbers; ``Open`` ... ``Volume``;
    others ignored) unless ``mapping`` names them. ``symbol`` may be left out only when the file has a symbol
    column. Naive times are read in ``tz`` (default UTC). Bad rows go to ``on_bad_row`` (default: a warning log)
    and are skipped, or stop the replay with ``BadDataError`` under ``policy="reject"``.
    """

    def __init__(self, path: str | Path, symbol: str | None = None, timeframe: str = "1d", *,
                 mapping: ColumnMapping | None = None, policy: BadRowPolicy | str = BadRowPolicy.SKIP,
                 on_bad_row: BadRowReport | None = None, tz: str | tzinfo | None = None,
                 source: str = "replay") -> None:
        super().__init__(path, symbol, policy=policy, on_bad_row=on_bad_row, tz=tz, source=source, mapping=mapping)
        self.timeframe = timeframe
        self.columns = resolve_bar_columns(self.header, mapping)
        self._check_order()

    def _rows(self, gate: BadRowGate) -> BarRows:
        return BarRows(self.columns, file=str(self.path), source=self.source, symbol=self.symbol,
                       timeframe=self.timeframe, gate=gate, tz=self.tz, sep=self.sep)


class CsvTickFeed(_CsvFeed):
    """Replay the trades of one CSV file as ``TradeTicked`` messages; trades may share a timestamp.

    The price comes from a ``Price`` (or ``Last``, or ``Close``) column, the size from ``Size`` (or ``Qty``,
    ``Volume`` ...), unless ``mapping`` names them; the rest works as in ``CsvBarFeed``.
    """

    def __init__(self, path: str | Path, symbol: str | None = None, *, mapping: ColumnMapping | None = None,
                 policy: BadRowPolicy | str = BadRowPolicy.SKIP, on_bad_row: BadRowReport | None = None,
                 tz: str | tzinfo | None = None, source: str = "replay") -> None:
        super().__init__(path, symbol, policy=policy, on_bad_row=on_bad_row, tz=tz, source=source, mapping=mapping)
        self.columns = resolve_tick_columns(self.header, mapping)
        self._check_order()

    def _rows(self, gate: BadRowGate) -> TradeRows:
        return TradeRows(self.columns, file=str(self.path), source=self.source, symbol=self.symbol, gate=gate,
                         tz=self.tz, sep=self.sep)


def format_hint(text: str) -> str:
    """Return advice for a timestamp ``text`` no reader understood: the ``--datetime-format`` that reads it."""
    fitting = []
    for fmt in _FORMAT_GUESSES:
        try:
            datetime.strptime(text, fmt)
        except ValueError:
            continue
        fitting.append(fmt)
    if not fitting:
        return ": give its format with --datetime-format (strptime codes, e.g. '%d.%m.%Y %H:%M')"
    return f": give its format with --datetime-format {' or '.join(repr(fmt) for fmt in fitting[:2])}"


def iter_bars(path: str | Path, symbol: str | None = None, timeframe: str = "1d", **options: object
              ) -> Iterator[BarClosed]:
    """Return a synchronous iterator over the bars of one CSV file (``options`` as for ``CsvBarFeed``)."""
    return CsvBarFeed(path, symbol, timeframe, **options).iter_messages()  # type: ignore[arg-type, return-value]


def write_synthetic_csv(path: str | Path, n: int, seed: int = 7, *, start: datetime | None = None,
                        step: timedelta = timedelta(minutes=1), symbol: str = "SYN") -> Path:
    """Write ``n`` random-walk bars to ``path`` in the ORCL layout (``Date`` holds date and time), for benchmarks."""
    start = start or datetime(2020, 1, 1, tzinfo=timezone.utc)
    path = Path(path)
    bars = random_walk_bars(symbol, seed=seed, start=start, step=step, count=n, vol=0.001)
    width = _timestamp_width(step)
    with path.open("w", encoding="utf-8", newline="") as file:
        file.write(ORCL_HEADER + "\n")
        file.writelines(f"{bar.ts_event.isoformat(' ')[:width]},{bar.open},{bar.high},{bar.low},{bar.close},"
                        f"{bar.close},{bar.volume}\n" for bar in bars)
    return path


def _timestamp_width(step: timedelta) -> int | None:
    if step % timedelta(days=1) == timedelta(0):
        return len("2020-01-01")
    return len("2020-01-01 00:00:00") if step % timedelta(seconds=1) == timedelta(0) else None
