"""Incremental indicators: each ``update`` costs O(1), whatever the period.

Every indicator has ``update(value)``, which returns the new value or ``None`` while it is still warming up,
and the read-only ``value`` (the last one returned) and ``ready``.

``SMA`` keeps the type of its input: fed ``Decimal`` it is exact (a running sum of Decimals stays exact while it
fits the context's 28 significant digits, and the mean is correctly rounded), so two averages that are equal
compare equal. ``EMA``, ``RollingStd`` and ``RSI`` convert their input to ``float``: they feed decisions, never a
ledger, and their recursions would otherwise grow Decimal digits without bound.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Generic, TypeVar

Number = TypeVar("Number", Decimal, float, int)
Value = TypeVar("Value")


def _check_period(period: int, minimum: int = 1) -> int:
    if isinstance(period, bool) or not isinstance(period, int) or period < minimum:
        raise ValueError(f"period must be an integer >= {minimum}, got {period!r}")
    return period


class _Indicator(Generic[Value]):
    """What every indicator shares: the last value computed, and whether there is one yet."""

    __slots__ = ("_value",)
    _value: Value | None

    @property
    def value(self) -> Value | None:
        """Return the last value computed, or ``None`` while the indicator is still warming up."""
        return self._value

    @property
    def ready(self) -> bool:
        """Return whether enough values were seen for a value."""
        return self._value is not None


class SMA(_Indicator[Number]):
    """Simple moving average of the last ``period`` values, the latest included."""

    __slots__ = ("period", "_window", "_index", "_count", "_sum")

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        # Decimal or float, whichever the caller feeds: the sums are kept in that type
        self._window: list[Any] = [0] * period
        self._index = 0
        self._count = 0
        self._sum: Any = 0
        self._value: Number | None = None


    def update(self, value: Number) -> Number | None:
        """Add ``value`` and return the new average (``None`` while fewer than ``period`` values were seen)."""
        index = self._index
        window = self._window
        self._sum += value - window[index]
        window[index] = value
        index += 1
        if index == self.period:
            index = 0
            # Re-adding the window once per period keeps float input from accumulating rounding error.
            self._sum = sum(window)
        self._index = index
        if self._count < self.period:
            self._count += 1
            if self._count < self.period:
                return None
        self._value = self._sum / self.period
        return self._value


class EMA(_Indicator[float]):
    """Exponential moving average with ``alpha = 2 / (period + 1)``, seeded with the SMA of the first values."""

    __slots__ = ("period", "alpha", "_seed")

    def __init__(self, period: int) -> None:
        self.period = _check_period(period)
        self.alpha = 2.0 / (period + 1)
        self._seed: SMA[float] = SMA(period)
        self._value: float | None = None


    def update(self, value: Decimal | float) -> float | None:
        """Add ``value`` and return the new average (``None`` while fewer than ``period`` values were seen)."""
        value = float(value)
        if self._value is None:
            self._value = self._seed.update(value)
        else:
            self._value += self.alpha * (value - self._value)
        return self._value


class RollingStd(_Indicator[float]):
    """Standard deviation of the last ``period`` values; ``ddof=0`` (population, as Bollinger bands use) or 1."""

    __slots__ = ("period", "ddof", "_window", "_index", "_count", "_mean", "_m2")

    def __init__(self, period: int, ddof: int = 0) -> None:
        if ddof not in (0, 1):
            raise ValueError(f"ddof must be 0 or 1, got {ddof!r}")
        self.period = _check_period(period, minimum=1 + ddof)
        self.ddof = ddof
        self._window = [0.0] * period
        self._index = 0
        self._count = 0
        self._mean = 0.0
        self._m2 = 0.0
        self._value: float | None = None


    def update(self, value: Decimal | float) -> float | None:
        """Add ``value`` and return the new deviation (``None`` while fewer than ``period`` values were seen)."""
        value = float(value)
        index = self._index
        if self._count < self.period:
            self._count += 1
            self._add(value)
        else:
            self._replace(self._window[index], value)
        self._window[index] = value
        index += 1
        if index == self.period:
            index = 0
            self._recompute()
        self._index = index
        if self._count < self.period:
            return None
        self._value = math.sqrt(max(self._m2, 0.0) / (self.period - self.ddof))
        return self._value

    def _add(self, value: float) -> None:
        delta = value - self._mean
        self._mean += delta / self._count
        self._m2 += delta * (value - self._mean)

    def _replace(self, old: float, new: float) -> None:
        old_mean = self._mean
        self._mean += (new - old) / self.period
        self._m2 += (new - old) * (new - self._mean + old - old_mean)

    def _recompute(self) -> None:
        # A two-pass pass over the window once per period stops the rolling update's rounding from drifting.
        mean = math.fsum(self._window) / self.period
        self._mean = mean
        self._m2 = math.fsum((x - mean) ** 2 for x in self._window)


class RSI(_Indicator[float]):
    """Wilder's relative strength index over ``period`` changes (needs ``period + 1`` values).

    The first average gain and loss are simple means of the first ``period`` changes; later ones are smoothed as
    ``avg = (avg * (period - 1) + current) / period``. With no loss the RSI is 100, with no movement at all 50.
    """

    __slots__ = ("period", "_previous", "_changes", "_gain", "_loss")

    def __init__(self, period: int = 14) -> None:
        self.period = _check_period(period)
        self._previous: float | None = None
        self._changes = 0
        self._gain = 0.0
        self._loss = 0.0
        self._value: float | None = None


    def update(self, value: Decimal | float) -> float | None:
        """Add ``value`` and return the new RSI (``None`` while fewer than ``period + 1`` values were seen)."""
        value = float(value)
        previous, self._previous = self._previous, value
        if previous is None:
            return None
        change = value - previous
        gain = change if change > 0 else 0.0
        loss = -change if change < 0 else 0.0
        period = self.period
        if self._changes < period:
            self._changes += 1
            self._gain += gain
            self._loss += loss
            if self._changes < period:
                return None
            self._gain /= period
            self._loss /= period
        else:
            self._gain = (self._gain * (period - 1) + gain) / period
            self._loss = (self._loss * (period - 1) + loss) / period
        self._value = self._index()
        return self._value

    def _index(self) -> float:
        if self._loss == 0:
            return 50.0 if self._gain == 0 else 100.0
        return 100.0 - 100.0 / (1.0 + self._gain / self._loss)


class Crossover:
    """Tell when a fast SMA of closes crosses a slow one: +1 up, -1 down, 0 neither.

    Averages are exact (``Decimal``); a zero difference neither crosses nor resets, and the first side the averages
    settle on is not a cross.
    """

    __slots__ = ("_fast", "_slow", "_last_sign")

    def __init__(self, fast: int, slow: int) -> None:
        self._fast: SMA[Decimal] = SMA(fast)
        self._slow: SMA[Decimal] = SMA(slow)
        self._last_sign = 0

    def update(self, close: Decimal) -> int:
        """Take one close; return the cross it made (+1, -1) or 0."""
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        if slow is None or fast is None:  # the fast average is defined whenever the slow one is
            return 0
        diff = fast - slow
        sign = (diff > 0) - (diff < 0)
        if sign == 0 or sign == self._last_sign:
            return 0
        previous, self._last_sign = self._last_sign, sign
        return sign if previous else 0
