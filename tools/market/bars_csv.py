"""The bar file ``tradebus download`` writes and ``tradebus backtest`` reads as it is: a header, then one closed bar
a line, oldest first, no duplicates.

``Datetime,Open,High,Low,Close,Volume``; ``Datetime`` is the bar's open time in UTC, ISO 8601 with a ``Z``
(``2024-01-01T00:00:00Z``), and the numbers are plain decimals (the shortest text of the value ccxt gave, no
exponent; an empty field where the exchange gave none).

The file is its own resume point. Opening an existing one reads only its first and last bars; a last line without
its newline (a crash mid-write) is cut off, so the next download writes that bar again, whole. Each page of bars
is written with one call and flushed, so an interrupted download leaves whole lines only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from tools.errors import ToolError

HEADER = "Datetime,Open,High,Low,Close,Volume"
Bar = Sequence[float | int | None]
"""A bar as ccxt gives it: ``[open time in ms, open, high, low, close, volume]``."""

_TAIL_BLOCK = 64 * 1024


def format_time(ms: int) -> str:
    """Return the ``Datetime`` text of an epoch time in milliseconds (``2024-01-01T00:00:00Z``)."""
    moment = datetime.fromtimestamp(ms / 1000, timezone.utc)
    spec = "seconds" if ms % 1000 == 0 else "milliseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def parse_time(text: str) -> int:
    """Return the epoch milliseconds of a ``Datetime`` text (naive text is read as UTC)."""
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return round(moment.timestamp() * 1000)


def format_number(value: float | int | None) -> str:
    """Return a price or volume as plain decimal text: ``1.0716``, ``1413.0``, ``0.00001`` (never ``1e-05``)."""
    return "" if value is None else format(Decimal(repr(value)), "f")


def format_bar(bar: Bar) -> str:
    """Return the CSV line of one ccxt bar, newline included."""
    return ",".join([format_time(int(bar[0] or 0)), *map(format_number, bar[1:6])]) + "\n"


class BarFile:
    """A bar file opened for appending; ``first_ms`` and ``last_ms`` are its first and last bars (``None``: empty).

    Use ``BarFile.open(path)``, which creates the file (and its folder) with the header, or repairs and inspects an
    existing one; raise ``ToolError`` when the file is not a bar file of this layout.
    """

    def __init__(self, path: Path, file: BinaryIO, first_ms: int | None, last_ms: int | None) -> None:
        self.path, self._file, self.first_ms, self.last_ms = path, file, first_ms, last_ms

    @classmethod
    def open(cls, path: Path) -> BarFile:
        """Open ``path`` for appending bars; see the class."""
        if not path.exists() or path.stat().st_size == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            file: BinaryIO = path.open("wb")
            file.write((HEADER + "\n").encode())
            file.flush()
            return cls(path, file, None, None)
        file = path.open("r+b")
        try:
            first, last = _inspect(path, file)
        except BaseException:
            file.close()
            raise
        file.seek(0, os.SEEK_END)
        return cls(path, file, first, last)

    def append(self, bars: Sequence[Bar]) -> None:
        """Write ``bars`` (newer than ``last_ms``, oldest first) with one write, and flush."""
        if not bars:
            return
        self._file.write("".join(map(format_bar, bars)).encode())
        self._file.flush()
        if self.first_ms is None:
            self.first_ms = int(bars[0][0] or 0)
        self.last_ms = int(bars[-1][0] or 0)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _inspect(path: Path, file: BinaryIO) -> tuple[int | None, int | None]:
    head = file.read(_TAIL_BLOCK)
    header = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip().lstrip("\ufeff")
    if b"\n" not in head and (HEADER + "\n").encode().startswith(head):  # a crash while the header was written
        file.seek(0)
        file.truncate()
        file.write((HEADER + "\n").encode())
        return None, None
    if header != HEADER:
        raise ToolError(f"{path} is not a bar file of this layout (its header is {header[:80]!r}, expected "
                        f"{HEADER!r}); choose another --out or move the file away")
    _cut_partial_last_line(file)
    lines = head.split(b"\n")
    if len(lines) < 3 or not lines[1].strip():
        return None, None
    return _time_of(path, lines[1]), _time_of(path, _last_line(file))


def _cut_partial_last_line(file: BinaryIO) -> None:
    size = file.seek(0, os.SEEK_END)
    end = size
    while end > 0:
        start = max(0, end - _TAIL_BLOCK)
        file.seek(start)
        block = file.read(end - start)
        newline = block.rfind(b"\n")
        if newline >= 0:
            if start + newline + 1 < size:
                file.truncate(start + newline + 1)
            return
        end = start


def _last_line(file: BinaryIO) -> bytes:
    end = file.seek(0, os.SEEK_END)
    tail = b""
    while end > 0 and tail.count(b"\n") < 2:
        start = max(0, end - _TAIL_BLOCK)
        file.seek(start)
        tail = file.read(end - start) + tail
        end = start
    return tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]


def _time_of(path: Path, line: bytes) -> int:
    text = line.decode("utf-8", "replace").strip()
    try:
        return parse_time(text.split(",", 1)[0])
    except ValueError:
        raise ToolError(f"{path}: cannot read the time of the line {text[:80]!r}; fix or remove the file") from None
