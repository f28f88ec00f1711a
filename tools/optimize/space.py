"""The search space: ``--param`` values parsed into dimensions, and a trial's point merged into a run file.

``fast=5:50:5`` is a range (``lo:hi:step``, both ends included; int when all three are integers, else float),
``mode=a,b,c`` a choice, ``fast=10`` a fixed value. A plain name is a strategy parameter (the ``[params]`` table);
``group.field`` is a setting of a group (``sizing``, ``risk``, ``paper``, ``portfolio``), its table in the run file.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from tools.errors import UsageError
from tools.run_options import GROUPS

Value = bool | int | float | str
Kind = Literal["int", "float", "choice", "fixed"]
SETTINGS_TABLES = {group.prefix: group for group in GROUPS}
MAX_GRID = 100_000
"""Points a grid may have before it is refused (a typo in a step, most likely)."""


@dataclass(frozen=True)
class Dimension:
    """One searched (or fixed) parameter: its name as given, its kind and its bounds or choices."""

    name: str
    kind: Kind
    low: float = 0
    high: float = 0
    step: float = 1
    choices: tuple[Value, ...] = ()

    @property
    def table(self) -> str:
        """Return the run file's table the parameter lives in (``params`` for a strategy parameter)."""
        group, dot, _ = self.name.partition(".")
        return group if dot else "params"

    @property
    def field(self) -> str:
        """Return the key inside ``table``."""
        return self.name.partition(".")[2] or self.name

    def distribution(self) -> BaseDistribution:
        """Return optuna's distribution of the dimension."""
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), step=int(self.step))
        if self.kind == "float":
            return FloatDistribution(self.low, self.high, step=self.step)
        return CategoricalDistribution(self.choices)

    def grid(self) -> list[Value]:
        """Return every value of the dimension, in order (exact decimals for a float range)."""
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step)))
        if self.kind == "float":
            low, high, step = (Decimal(str(v)) for v in (self.low, self.high, self.step))
            count = int((high - low) / step) + 1
            return [float(low + i * step) for i in range(count)]
        return list(self.choices)

    def value(self, raw: Any) -> Value:
        """Return a sampled value as the run file holds it: a float rounded to the step's decimals."""
        if self.kind == "float":
            places = max(-Decimal(str(self.step)).normalize().as_tuple().exponent, 0)  # type: ignore[operator]
            return round(float(raw), places)
        return raw  # type: ignore[no-any-return]

    def as_dict(self) -> dict[str, Any]:
        """Return the dimension as JSON (a study's user attribute)."""
        return {"name": self.name, "kind": self.kind, "low": self.low, "high": self.high, "step": self.step,
                "choices": list(self.choices)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Dimension:
        """Return the dimension ``as_dict`` wrote."""
        return cls(data["name"], data["kind"], data["low"], data["high"], data["step"], tuple(data["choices"]))


def parse_dimension(text: str) -> Dimension:
    """Parse one ``--param NAME=SPEC``; a bad one is a ``UsageError`` naming it."""
    name, equals, spec = (part.strip() for part in text.partition("="))
    if not equals or not name or not spec:
        raise UsageError(f"--param {text!r}: give NAME=LO:HI:STEP, NAME=A,B,C or NAME=VALUE")
    group, dot, field = name.partition(".")
    if dot:
        known = SETTINGS_TABLES.get(group)
        if known is None:
            raise UsageError(f"--param {name}: unknown settings group {group!r} (known: {', '.join(SETTINGS_TABLES)})")
        if field not in known.names():
            raise UsageError(f"--param {name}: {group} has no setting {field!r} (known: {', '.join(known.names())})")
    if ":" in spec:
        return _range(name, spec)
    if "," in spec:
        choices = tuple(literal(part.strip()) for part in spec.split(",") if part.strip())
        if len(set(choices)) != len(choices):
            raise UsageError(f"--param {name}={spec}: a choice is listed twice")
        return Dimension(name, "choice", choices=choices)
    return Dimension(name, "fixed", choices=(literal(spec),))


def _range(name: str, spec: str) -> Dimension:
    parts = spec.split(":")
    if len(parts) != 3:
        raise UsageError(f"--param {name}={spec}: a range is LO:HI:STEP, e.g. 5:50:5")
    try:
        low, high, step = (Decimal(part) for part in parts)
    except InvalidOperation:
        raise UsageError(f"--param {name}={spec}: LO, HI and STEP must be numbers") from None
    if step <= 0 or high < low:
        raise UsageError(f"--param {name}={spec}: needs LO <= HI and STEP > 0")
    if (high - low) % step:
        raise UsageError(f"--param {name}={spec}: HI - LO is not a whole number of steps")
    if all(part == part.to_integral_value() and "." not in text for part, text in zip((low, high, step), parts)):
        return Dimension(name, "int", int(low), int(high), int(step))
    return Dimension(name, "float", float(low), float(high), float(step))


def literal(text: str) -> Value:
    """Return ``text`` as the value it reads as: ``true``/``false``, an int, a float, else the text."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)  # type: ignore[no-any-return]
        except ValueError:
            pass
    return text


def parse_space(texts: list[str]) -> tuple[Dimension, ...]:
    """Parse every ``--param``; at least one must be searched, and none given twice."""
    dimensions = tuple(parse_dimension(text) for text in texts)
    names = [dimension.name for dimension in dimensions]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise UsageError(f"--param {', '.join(twice)} given more than once")
    if not any(dimension.kind != "fixed" for dimension in dimensions):
        raise UsageError("give at least one --param to search: a range LO:HI:STEP or choices A,B,C")
    return dimensions


def grid_size(dimensions: tuple[Dimension, ...]) -> int:
    """Return the number of points of the grid over ``dimensions``."""
    size = 1
    for dimension in dimensions:
        size *= len(dimension.grid())
    return size


def searched(dimensions: tuple[Dimension, ...]) -> tuple[Dimension, ...]:
    """Return the dimensions that vary (not fixed)."""
    return tuple(dimension for dimension in dimensions if dimension.kind != "fixed")


def with_point(run: dict[str, Any], dimensions: tuple[Dimension, ...], point: dict[str, Value]) -> dict[str, Any]:
    """Return the run file ``run`` with ``point`` (a name per dimension) and the fixed values written in."""
    merged = copy.deepcopy(run)
    for dimension in dimensions:
        value = dimension.choices[0] if dimension.kind == "fixed" else point[dimension.name]
        merged.setdefault(dimension.table, {})[dimension.field] = value
    return merged
