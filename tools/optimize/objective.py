"""What a trial is worth: a metric of its backtest (named as in ``tradebus backtest --json``) and constraints.

A constraint (``trades>=20``, ``max_drawdown_pct<15``) that a trial breaks prunes it: the trial is kept, marked
``pruned`` with the reason, and never ranks. So does a trial whose objective is undefined (a Sharpe ratio with no
trades) and a point the strategy refuses (``fast`` not below ``slow``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tools.backtest.engine import BacktestResult
from tools.backtest.views import METRICS, metrics_view
from tools.errors import UsageError

ALIASES = {"trades": "trade_count", "return": "total_return_pct", "drawdown": "max_drawdown_pct"}
"""Short names accepted for a metric."""
EXTRA = ("bars", "fills", "closed_trades", "final_value")
"""Numbers of the result besides its metrics (keys of the backtest's JSON)."""
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq, "!=": operator.ne}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(-?[0-9.]+(?:[eE]-?[0-9]+)?)\s*$")
NUMERIC = tuple(m.key for m in METRICS if m.unit not in ("date",)) + EXTRA


def metric_name(name: str) -> str:
    """Return the metric ``name`` stands for; a ``UsageError`` lists the known ones."""
    name = ALIASES.get(name, name)
    if name not in NUMERIC:
        raise UsageError(f"unknown metric {name!r} (known: {', '.join(NUMERIC)}; "
                         f"or {', '.join(f'{a}={m}' for a, m in ALIASES.items())})")
    return name


def metric_values(result: BacktestResult) -> dict[str, float | None]:
    """Return every numeric metric of ``result`` under the backtest JSON's names."""
    view = metrics_view(result)
    values: dict[str, float | None] = {key: view[key] for key in NUMERIC if key in view}
    values.update(bars=result.bars, fills=result.fills, closed_trades=len(result.trades),
                  final_value=float(result.final_value))
    return values


@dataclass(frozen=True)
class Constraint:
    """``metric op bound``: a trial must satisfy it to rank."""

    metric: str
    op: str
    bound: float

    def holds(self, values: Mapping[str, float | None]) -> bool:
        """Return whether ``values`` satisfy the constraint (an undefined metric does not)."""
        value = values.get(self.metric)
        return value is not None and _OPERATORS[self.op](value, self.bound)

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.bound:g}"


def parse_constraint(text: str) -> Constraint:
    """Parse ``trades>=20``; a bad one is a ``UsageError``."""
    match = _CONSTRAINT.match(text)
    if not match:
        raise UsageError(f"--constraint {text!r}: give METRIC OP NUMBER, e.g. trades>=20 (OP: >= <= > < == !=)")
    return Constraint(metric_name(match[1]), match[2], float(match[3]))


@dataclass(frozen=True)
class Verdict:
    """A trial's outcome: its objective value, or why it does not rank."""

    value: float | None
    reason: str = ""


def judge(values: Mapping[str, float | None], objective: str, constraints: tuple[Constraint, ...]) -> Verdict:
    """Return the objective of a trial with ``values``, or the first reason it is pruned."""
    for constraint in constraints:
        if not constraint.holds(values):
            found = values.get(constraint.metric)
            return Verdict(None, f"constraint {constraint} broken ({constraint.metric}={found})")
    value = values.get(objective)
    if value is None:
        return Verdict(None, f"{objective} is undefined for this run")
    return Verdict(float(value))


def spec_constraints(texts: list[str] | tuple[str, ...]) -> tuple[Constraint, ...]:
    """Parse every ``--constraint``."""
    return tuple(parse_constraint(text) for text in texts)


def as_text(constraints: tuple[Constraint, ...]) -> list[str]:
    """Return ``constraints`` as the texts ``parse_constraint`` reads."""
    return [str(constraint) for constraint in constraints]


