"""What a study leaves: the results table, ``trials.csv``, and ``best.toml`` (a run ``tradebus backtest`` reads)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial
from rich.table import Table

from .runfile import dumps
from .space import searched, with_point
from .study import StudySpec, point_of, ranked

SHOWN_METRICS = ("trade_count", "total_return_pct", "sharpe", "max_drawdown_pct")
"""Metrics shown beside the objective in the results table."""


def results_table(study: optuna.Study, spec: StudySpec, top: int = 10) -> Table:
    """Return the ``top`` trials, best first, with their parameters and a few metrics."""
    names = [d.name for d in searched(spec.space)]
    shown = [m for m in SHOWN_METRICS if m != spec.objective]
    table = Table(title=f"best {top} trials by {spec.objective} ({spec.direction})")
    for column in ("#", "trial", spec.objective, *names, *shown):
        table.add_column(column, justify="right")
    for rank, trial in enumerate(ranked(study)[:top], 1):
        point, metrics = point_of(trial), trial.user_attrs.get("metrics", {})
        table.add_row(str(rank), str(trial.number), _shown(trial.value), *(_shown(point[n]) for n in names),
                      *(_shown(metrics.get(m)) for m in shown))
    return table


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def best_run(spec: StudySpec, trial: FrozenTrial) -> dict[str, Any]:
    """Return the run file of ``trial``: the study's base run with the trial's parameters."""
    return with_point(spec.run, spec.space, dict(point_of(trial)))


def write_best(path: Path, name: str, spec: StudySpec, trial: FrozenTrial) -> Path:
    """Write ``best.toml``: ``tradebus backtest --config`` runs it as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (f"# tradebus optimize study {name}: trial {trial.number}, {spec.objective} = {trial.value:.6g}\n"
              f"# run it: tradebus backtest --config {path.name}\n")
    path.write_text(header + dumps(best_run(spec, trial)), encoding="utf-8")
    return path


def write_trials(path: Path, study: optuna.Study, spec: StudySpec) -> Path:
    """Write every trial (number, state, value, parameters, metrics, why pruned) to ``trials.csv``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [d.name for d in searched(spec.space)]
    trials = study.get_trials(deepcopy=False)
    metrics = sorted({key for trial in trials for key in trial.user_attrs.get("metrics", {})})
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["trial", "state", "value", *names, *metrics, "pruned"])
        for trial in trials:
            point, values = point_of(trial), trial.user_attrs.get("metrics", {})
            writer.writerow([trial.number, trial.state.name, "" if trial.value is None else trial.value,
                             *(point.get(n, "") for n in names), *(values.get(m, "") for m in metrics),
                             trial.user_attrs.get("pruned", "")])
    return path
