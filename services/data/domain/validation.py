"""Checks of market-data rows, and what happens to a row that fails them.

A bad row is reported (file, line, reason) to a callback and then skipped or, under the ``reject`` policy, stops
the replay with ``BadDataError``. It is never published and never dropped without a report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum


class BadRowPolicy(StrEnum):
    """What a feed does with a bad row once it has reported it."""

    SKIP = "skip"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row that cannot be published: where it is, why, and its text (cut to 200 characters)."""

    file: str
    line: int
    reason: str
    text: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"

    @property
    def kind(self) -> str:
        """Return a low-cardinality label of the reason, for metrics: ``unparsable``, ``out_of_order`` ..."""
        return next((kind for prefix, kind in _KINDS if self.reason.startswith(prefix)), "other")


class BadDataError(ValueError):
    """Raised under the ``reject`` policy at the first bad row; ``bad_row`` says where and why."""

    def __init__(self, bad_row: BadRow) -> None:
        super().__init__(str(bad_row))
        self.bad_row = bad_row


_KINDS = (
    ("unparsable", "unparsable"), ("expected at least", "unparsable"), ("invalid symbol", "unparsable"),
    ("non-finite", "non_finite"), ("non-positive", "non_positive"), ("high ", "high_below_low"),
    ("open ", "outside_range"), ("close ", "outside_range"), ("negative volume", "negative_volume"),
    ("duplicate", "duplicate_timestamp"), ("out-of-order", "out_of_order"),
)

BadRowReport = Callable[[BadRow], None]
"""Receive each bad row (the data service logs it and counts a metric)."""


class BadRowGate:
    """Report each bad row, count it, then let the feed skip it or raise ``BadDataError`` under ``reject``."""

    def __init__(self, report: BadRowReport, policy: BadRowPolicy = BadRowPolicy.SKIP) -> None:
        self.report = report
        self.policy = BadRowPolicy(policy)
        self.count = 0

    def __call__(self, bad_row: BadRow) -> None:
        """Handle ``bad_row``: report it, then return (skip) or raise ``BadDataError`` (reject)."""
        self.count += 1
        self.report(bad_row)
        if self.policy is BadRowPolicy.REJECT:
            raise BadDataError(bad_row)


def bar_problem(open: Decimal, high: Decimal, low: Decimal, close: Decimal, volume: Decimal) -> str | None:
    """Return why these values cannot form a bar, or ``None`` when they can."""
    try:
        if 0 < low <= open <= high and low <= close <= high and volume >= 0 and high.is_finite() \
                and volume.is_finite():
            return None
    except InvalidOperation:
        pass
    return _describe_bar_problem(open, high, low, close, volume)


def tick_problem(price: Decimal, size: Decimal) -> str | None:
    """Return why this price and size cannot form a trade, or ``None`` when they can."""
    if not (price.is_finite() and size.is_finite()):
        return f"non-finite price or size: {price} x {size}"
    if price <= 0:
        return f"non-positive price {price}"
    return None if size > 0 else f"non-positive size {size}"


def order_problem(previous: datetime | None, current: datetime, *, strict: bool = True) -> str | None:
    """Return why ``current`` cannot follow ``previous`` in one symbol's stream, or ``None`` when it can.

    ``strict`` (bars) forbids equal timestamps; trades may share one.
    """
    if previous is None or current > previous:
        return None
    if current == previous:
        return f"duplicate timestamp {current.isoformat()}" if strict else None
    return f"out-of-order timestamp {current.isoformat()} after {previous.isoformat()}"


def _describe_bar_problem(open: Decimal, high: Decimal, low: Decimal, close: Decimal, volume: Decimal) -> str:
    prices = {"open": open, "high": high, "low": low, "close": close}
    for name, value in {**prices, "volume": volume}.items():
        if not value.is_finite():
            return f"non-finite {name} {value}"
    for name, value in prices.items():
        if value <= 0:
            return f"non-positive price: {name} {value}"
    if high < low:
        return f"high {high} is below low {low}"
    for name in ("open", "close"):
        if not low <= prices[name] <= high:
            return f"{name} {prices[name]} is outside [low {low}, high {high}]"
    return f"negative volume {volume}"
