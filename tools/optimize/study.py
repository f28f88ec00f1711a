"""A study: its settings (kept in the storage, so a worker needs only its name), samplers, storage, workers.

Determinism. A study has N original trials (the storage numbers trials in the order they start; a dead worker's
trial redone is a copy, not an original). The grid sampler gives the originals the N first points of its (seeded)
shuffled grid, and the random sampler draws the n-th original's point from a generator seeded by (seed, n): the
points a study evaluates are the same whatever the number of workers, their timing and deaths, so the same seed
and data give the same best parameters (ties go by parameters). A trial started beyond the N (two workers asking
at once for the last one) is pruned as surplus without running. TPE proposes from the trials finished so far:
with one job it is deterministic; with several, which trials have finished when a worker asks depends on timing,
so it is not (each worker seeds its sampler with seed + worker index).

A worker killed mid-trial leaves that trial RUNNING; its heartbeat stops, and after the grace period any worker
marks it FAIL and queues a copy of it (same parameters, ``RetryFailedTrialCallback``), which the next free worker
runs. A trial records its value only when it is complete, so nothing half-written is ever ranked.
"""

from __future__ import annotations

import inspect
import json
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import optuna
from optuna.samplers import BaseSampler, GridSampler, RandomSampler, TPESampler
from optuna.storages import RDBStorage, RetryFailedTrialCallback, fail_stale_trials

try:
    from optuna.storages import RetryHeartbeatStaleTrialCallback
except ImportError:  # optuna < 4.9
    RetryHeartbeatStaleTrialCallback = RetryFailedTrialCallback
from optuna.trial import FrozenTrial, Trial, TrialState

from tools.errors import UsageError

from .evaluate import Evaluator, Window
from .objective import judge, metric_values, spec_constraints
from .runfile import backtest_config
from .space import Dimension, searched, with_point

SamplerName = Literal["grid", "random", "tpe"]
SPEC_ATTR = "tradebus"
"""The study's user attribute holding its ``StudySpec`` (JSON)."""
STUDIES = Path("var/optimize")
"""Where the default SQLite storage lives: ``var/optimize/<study>.db``."""
HEARTBEAT_S = 10
"""Seconds between two heartbeats of a running trial; one missing for two of them marks the trial stale."""
ORPHAN_AFTER_BEATS = 6
MAX_RETRY = 3
"""Times a trial whose worker died is run again."""
ORIGINAL = "failed_trial"
"""The system attribute optuna's retry callback gives a copy: the number of the trial it redoes."""


@dataclass(frozen=True)
class StudySpec:
    """Everything a worker needs to run a study's trials: the base run, the space, what to optimise."""

    run: dict[str, Any]
    space: tuple[Dimension, ...]
    objective: str
    direction: Literal["maximize", "minimize"] = "maximize"
    constraints: tuple[str, ...] = ()
    sampler: SamplerName = "tpe"
    trials: int = 100
    seed: int = 0
    window: Window | None = None
    """The market events the trials replay (a walk-forward training window); ``None``: all of them."""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """Return the spec as JSON (stored with the study)."""
        return json.dumps({"run": self.run, "space": [d.as_dict() for d in self.space], "objective": self.objective,
                           "direction": self.direction, "constraints": list(self.constraints),
                           "sampler": self.sampler, "trials": self.trials, "seed": self.seed,
                           "window": list(self.window) if self.window else None, "extra": self.extra},
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StudySpec:
        """Return the spec ``to_json`` wrote."""
        data = json.loads(text)
        window = data["window"]
        return cls(run=data["run"], space=tuple(Dimension.from_dict(d) for d in data["space"]),
                   objective=data["objective"], direction=data["direction"],
                   constraints=tuple(data["constraints"]), sampler=data["sampler"], trials=data["trials"],
                   seed=data["seed"], window=(window[0], window[1]) if window else None, extra=data["extra"])


def sqlite_url(study: str, folder: Path = STUDIES) -> str:
    """Return the default storage of ``study``: a SQLite file under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / f'{study}.db'}"


def open_storage(url: str, heartbeat_s: int = HEARTBEAT_S) -> RDBStorage:
    """Return optuna's RDB storage at ``url`` with heartbeats on and dead workers' trials retried."""
    engine: dict[str, Any] = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else \
        {"pool_pre_ping": True}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if "heartbeat_stale_trial_callback" in inspect.signature(RDBStorage).parameters:  # optuna >= 4.9
        kwargs: dict[str, Any] = {"heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(MAX_RETRY)}
    else:
        kwargs = {"failed_trial_callback": RetryFailedTrialCallback(max_retry=MAX_RETRY)}
    try:
        return RDBStorage(url, engine_kwargs=engine, heartbeat_interval=heartbeat_s,
                          grace_period=2 * heartbeat_s, **kwargs)
    except Exception as error:  # SQLAlchemy: bad URL, server unreachable, driver missing
        raise UsageError(f"--storage {url}: {type(error).__name__}: {str(error).splitlines()[0]}") from None


def plan_index(study: optuna.Study, number: int) -> int | None:
    """Return the place of trial ``number`` among the study's original trials (``None`` for a dead worker's trial
    redone: it keeps the parameters of the one it redoes). Trial numbers alone would not do: a redone trial takes
    the next number."""
    index = 0
    for trial in study.get_trials(deepcopy=False):
        if trial.number == number:
            return None if ORIGINAL in trial.system_attrs else index
        index += ORIGINAL not in trial.system_attrs
    return index


class PerTrialRandomSampler(BaseSampler):
    """``RandomSampler`` seeded by (seed, the trial's place in the plan): the n-th trial gets the same point on any
    worker, killed workers or not."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._samplers: dict[int, RandomSampler] = {}

    def _for(self, study: optuna.Study, trial: FrozenTrial) -> RandomSampler:
        if trial.number not in self._samplers:
            index = plan_index(study, trial.number)
            self._samplers = {trial.number: RandomSampler(seed=self.seed * 1_000_003 + (index or 0))}
        return self._samplers[trial.number]

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, Any]
                        ) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: Any) -> Any:
        return self._for(study, trial).sample_independent(study, trial, param_name, param_distribution)


def make_sampler(spec: StudySpec, worker: int = 0) -> BaseSampler:
    """Return the sampler of ``spec`` for worker number ``worker``."""
    if spec.sampler == "grid":
        return GridSampler({d.name: d.grid() for d in searched(spec.space)}, seed=spec.seed)
    if spec.sampler == "random":
        return PerTrialRandomSampler(spec.seed)
    return TPESampler(seed=spec.seed + worker)


def create_study(name: str, storage: RDBStorage, spec: StudySpec) -> optuna.Study:
    """Create the study ``name`` with ``spec``, or open it if it exists with the same spec (to resume it)."""
    study = optuna.create_study(study_name=name, storage=storage, direction=spec.direction, load_if_exists=True,
                                sampler=make_sampler(spec))
    stored = study.user_attrs.get(SPEC_ATTR)
    if stored is None:
        study.set_user_attr(SPEC_ATTR, spec.to_json())
    elif StudySpec.from_json(stored) != StudySpec.from_json(spec.to_json()):
        raise UsageError(f"study {name!r} exists in this storage with other settings: give another --study")
    return study


def load_spec(name: str, storage: RDBStorage) -> StudySpec:
    """Return the spec of the existing study ``name``."""
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise UsageError(f"--study {name}: no such study in this storage") from None
    stored = study.user_attrs.get(SPEC_ATTR)
    if stored is None:
        raise UsageError(f"--study {name}: not a tradebus optimize study (no {SPEC_ATTR} attribute)")
    return StudySpec.from_json(stored)


class Objective:
    """The function optuna calls per trial: the trial's point, its backtest, its value or why it is pruned."""

    def __init__(self, spec: StudySpec, evaluator: Evaluator | None = None) -> None:
        self.spec, self.evaluator = spec, evaluator or Evaluator()
        self.constraints = spec_constraints(spec.constraints)

    def __call__(self, trial: Trial) -> float:
        index = plan_index(trial.study, trial.number) if trial.number >= self.spec.trials else trial.number
        if index is not None and index >= self.spec.trials:
            trial.set_user_attr("pruned", "surplus: the study already has its trials")
            raise optuna.TrialPruned("surplus")
        point = {d.name: d.value(suggest(trial, d)) for d in searched(self.spec.space)}
        trial.set_user_attr("point", point)
        try:
            config = backtest_config(with_point(self.spec.run, self.spec.space, point))
        except UsageError as error:
            trial.set_user_attr("pruned", f"invalid: {error}")
            raise optuna.TrialPruned(str(error)) from None
        values = metric_values(self.evaluator.run(config, self.spec.window))
        trial.set_user_attr("metrics", values)
        verdict = judge(values, self.spec.objective, self.constraints)
        if verdict.value is None:
            trial.set_user_attr("pruned", verdict.reason)
            raise optuna.TrialPruned(verdict.reason)
        return verdict.value


def suggest(trial: Trial, dimension: Dimension) -> Any:
    """Return the trial's value of ``dimension``, drawn by the study's sampler."""
    if dimension.kind == "int":
        return trial.suggest_int(dimension.name, int(dimension.low), int(dimension.high), step=int(dimension.step))
    if dimension.kind == "float":
        return trial.suggest_float(dimension.name, dimension.low, dimension.high, step=dimension.step)
    return trial.suggest_categorical(dimension.name, list(dimension.choices))


def originals(trials: list[FrozenTrial]) -> int:
    """Return how many of ``trials`` are not copies of a dead worker's trial."""
    return sum(1 for trial in trials if ORIGINAL not in trial.system_attrs)


def work(url: str, name: str, worker: int = 0, heartbeat_s: int = HEARTBEAT_S,
         evaluator: Evaluator | None = None, on_trial: Callable[[], None] | None = None) -> int:
    """Run trials of study ``name`` until it has all of them and none is left to redo; return how many ran here.

    When every trial has started, a worker stays until the running ones finish, failing stale ones (a dead
    worker's) so that their copies run here.
    """
    storage = open_storage(url, heartbeat_s)
    spec = load_spec(name, storage)
    study = optuna.load_study(study_name=name, storage=storage, sampler=make_sampler(spec, worker))
    objective, ran = Objective(spec, evaluator), 0
    while True:
        trials = study.get_trials(deepcopy=False)
        waiting = any(trial.state == TrialState.WAITING for trial in trials)
        if waiting or originals(trials) < spec.trials:
            study.optimize(objective, n_trials=1, catch=())
            ran += 1
            if on_trial:
                on_trial()
            continue
        if not any(trial.state == TrialState.RUNNING for trial in trials):
            return ran
        fail_stale_trials(study)
        fail_orphans(study, storage, heartbeat_s)
        time.sleep(min(1.0, heartbeat_s / 2))  # others' trials still run: poll until they end or go stale


def fail_orphans(study: optuna.Study, storage: RDBStorage, heartbeat_s: int) -> None:
    """Fail (and queue again) running trials that never began their backtest, long after they started.

    A worker killed between optuna creating its trial and the trial's first heartbeat leaves a RUNNING trial that
    optuna never calls stale (it has no heartbeat). A live trial records its point within milliseconds of
    starting, so one without it after ``ORPHAN_AFTER_BEATS`` heartbeats (and a minute, for clock skew between
    machines) is such an orphan.
    """
    limit = timedelta(seconds=max(60, ORPHAN_AFTER_BEATS * heartbeat_s))
    retry = RetryHeartbeatStaleTrialCallback(MAX_RETRY)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = trial.datetime_start
        if "point" in trial.user_attrs or started is None or datetime.now() - started < limit:
            continue
        try:
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                retry(study, trial)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # another worker got there first


def ranked(study: optuna.Study) -> list[FrozenTrial]:
    """Return the complete trials, best first; ties go by parameters (so the order does not depend on timing)."""
    done = [trial for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    sign = -1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else 1.0
    return sorted(done, key=lambda t: (sign * float(t.value or 0.0), json.dumps(t.params, sort_keys=True)))


def finished(study: optuna.Study) -> int:
    """Return how many trials of ``study`` are complete or pruned (surplus ones not counted)."""
    return sum(1 for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
               if not str(trial.user_attrs.get("pruned", "")).startswith("surplus"))


def point_of(trial: FrozenTrial) -> Mapping[str, Any]:
    """Return the parameters of ``trial`` as the run file holds them."""
    return trial.user_attrs.get("point", trial.params)
