"""Turn the timestamp text of a CSV row into a timezone-aware UTC datetime, fast.

Naive times are read in the feed's time zone (UTC unless told otherwise); ISO text with an offset keeps its
offset; epoch numbers are always UTC. Date + time pairs cache each distinct date and time of day, since a day of
intraday bars repeats the same date and a year of them the same times of day.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from .columns import EpochUnit, TimeColumns

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TimeParser = Callable[[Sequence[str]], datetime]
"""Read the timestamp of one row (its fields) as UTC; raise ``ValueError`` (or ``ArithmeticError``) if unparsable."""

_MICROS_PER_UNIT = {"s": Decimal(1_000_000), "ms": Decimal(1_000), "us": Decimal(1), "ns": Decimal("0.001")}
_NUMBER = re.compile(r"-?\d+(\.\d*)?")
_CACHE_LIMIT = 100_000


def make_time_parser(columns: TimeColumns, sample: Sequence[str] | None, tz: tzinfo = UTC) -> TimeParser:
    """Return the parser for ``columns``; ``sample`` (the first data row) tells epoch numbers from ISO text."""
    if columns.second is not None:
        return _pair_parser(columns.first, columns.second, columns.datetime_format, tz)
    value = sample[columns.first].strip() if sample and len(sample) > columns.first else ""
    if columns.force_epoch or (columns.datetime_format is None and looks_like_epoch(value)):
        unit = columns.epoch_unit or (epoch_unit_of(Decimal(value)) if _NUMBER.fullmatch(value) else "s")
        return _epoch_parser(columns.first, unit)
    if columns.datetime_format is not None:
        return _format_parser(lambda row: row[columns.first], columns.datetime_format, tz)
    return _iso_parser(columns.first, value, tz)


def looks_like_epoch(value: str) -> bool:
    """Return whether ``value`` is an epoch number rather than a date (``20060102`` is a date)."""
    return bool(_NUMBER.fullmatch(value)) and not (len(value) == 8 and value.isdigit())


def epoch_unit_of(value: Decimal) -> EpochUnit:
    """Guess the unit of an epoch number from its magnitude (seconds reach 1e11 only in the year 5138)."""
    magnitude = abs(value)
    if magnitude < Decimal("1e11"):
        return "s"
    if magnitude < Decimal("1e14"):
        return "ms"
    return "us" if magnitude < Decimal("1e17") else "ns"


def localise(moment: datetime, tz: tzinfo) -> datetime:
    """Return ``moment`` in UTC, reading it in ``tz`` if it is naive."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


def _iso_parser(index: int, sample: str, tz: tzinfo) -> TimeParser:
    fromisoformat = datetime.fromisoformat
    if tz is not UTC:
        return lambda row: localise(fromisoformat(row[index]), tz)
    # Appending a UTC offset to the text is ten times faster than datetime.replace(tzinfo=...).
    suffix = _utc_suffix(sample)

    def parse(row: Sequence[str]) -> datetime:
        text = row[index]
        try:
            moment = fromisoformat(text + suffix)
        except ValueError:
            return localise(fromisoformat(text), UTC)
        return moment if moment.tzinfo is UTC else localise(moment, UTC)

    return parse


def _utc_suffix(sample: str) -> str:
    try:
        moment = datetime.fromisoformat(sample)
    except ValueError:
        return "+00:00"
    if moment.tzinfo is not None:
        return ""
    return "T00:00+00:00" if len(sample) <= 10 else "+00:00"


def _epoch_parser(index: int, unit: EpochUnit) -> TimeParser:
    scale = _MICROS_PER_UNIT[unit]
    whole = int(scale) if scale >= 1 else None

    def parse(row: Sequence[str]) -> datetime:
        text = row[index]
        try:
            micros = int(text) * whole if whole else int(text) // 1000
        except ValueError:
            micros = int((Decimal(text) * scale).to_integral_value(ROUND_FLOOR))
        return EPOCH + timedelta(microseconds=micros)

    return parse


def _format_parser(text_of: Callable[[Sequence[str]], str], fmt: str, tz: tzinfo) -> TimeParser:
    strptime = datetime.strptime
    return lambda row: localise(strptime(text_of(row), fmt), tz)


def _pair_parser(first: int, second: int, fmt: str | None, tz: tzinfo) -> TimeParser:
    if fmt is not None:
        return _format_parser(lambda row: f"{row[first]} {row[second]}", fmt, tz)
    if tz is not UTC:
        return lambda row: localise(datetime.fromisoformat(f"{row[first]}T{row[second]}"), tz)
    days: dict[str, datetime] = {}
    offsets: dict[str, timedelta] = {}

    def parse(row: Sequence[str]) -> datetime:
        day_text, time_text = row[first], row[second]
        day = days.get(day_text)
        if day is None:
            day = _remember(days, day_text, _midnight(day_text))
        offset = offsets.get(time_text)
        if offset is None:
            offset = _remember(offsets, time_text, _time_of_day(time_text))
        return day + offset

    return parse


def _midnight(text: str) -> datetime:
    return datetime.combine(date.fromisoformat(text), time(), UTC)


def _time_of_day(text: str) -> timedelta:
    clock = time.fromisoformat(text)
    since_midnight = timedelta(hours=clock.hour, minutes=clock.minute, seconds=clock.second,
                               microseconds=clock.microsecond)
    return since_midnight - (clock.utcoffset() or timedelta())


def _remember(cache: dict[str, Any], key: str, value: Any) -> Any:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value
