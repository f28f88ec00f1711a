"""``tradebus optimize``: search strategy and settings parameters over backtests, with optuna.

A study's settings (the base run, the space, the objective) are stored with it, so ``--worker --study NAME
--storage URL`` joins it from any machine. See ``tools.optimize.study`` for what is deterministic.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

import optuna
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from tools.errors import UsageError
from tools.run_options import add_data_arguments, add_settings_arguments

from .objective import metric_name, spec_constraints
from .pool import Tick, TrialPool
from .report import results_table, write_best, write_trials
from .runfile import backtest_config, run_from_args
from .space import MAX_GRID, grid_size, parse_space, searched, with_point
from .study import HEARTBEAT_S, STUDIES, StudySpec, create_study, finished, open_storage, ranked, sqlite_url, work
from .walkforward import Length, Split, parse_length, plan, walk_forward
from .walkforward import results_table as walk_forward_table
from .walkforward import summary as walk_forward_summary
from .walkforward import write_csv as write_walk_forward


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="base run: a TOML file as tradebus backtest --config reads; options here override it")
    parser.add_argument("--data", type=Path, action="append", help="CSV file of OHLCV bars (repeat for several)")
    parser.add_argument("--symbol", action="append", help="symbol of each --data file (default: from the file name)")
    parser.add_argument("--strategy", help="registry name (sma_cross, ...) or module:Class")
    parser.add_argument("--timeframe", help="timeframe label of the bars (default 1d)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=SPEC",
                        help="a parameter to search: LO:HI:STEP (ends included), A,B,C (choices) or VALUE (fixed); "
                             "NAME is a strategy parameter (fast) or GROUP.SETTING (portfolio.stop_loss, "
                             "sizing.quantity)")
    parser.add_argument("--objective", default="sharpe",
                        help="metric to optimise, named as in tradebus backtest --json (default sharpe)")
    parser.add_argument("--direction", choices=("maximize", "minimize"), default="maximize")
    parser.add_argument("--constraint", action="append", default=[], metavar="METRIC OP NUMBER",
                        help="e.g. trades>=20: a trial that breaks one is pruned and never ranks (repeatable)")
    parser.add_argument("--sampler", choices=("grid", "random", "tpe"), default="tpe")
    parser.add_argument("--trials", type=int, help="trials to run (default 100; grid: the whole grid)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="worker processes (default: the number of cores); 0 creates the study and leaves its "
                             "trials to --worker processes")
    parser.add_argument("--seed", type=int, default=0, help="seed of the samplers (default 0)")
    parser.add_argument("--storage", metavar="URL",
                        help="optuna RDB storage, e.g. postgresql://user@host/db (default: SQLite, "
                             "var/optimize/<study>.db)")
    parser.add_argument("--study", metavar="NAME", help="study name (default <strategy>-<UTC time>)")
    parser.add_argument("--worker", action="store_true",
                        help="join the existing --study at --storage and run its trials (its settings are stored)")
    parser.add_argument("--heartbeat", type=int, default=HEARTBEAT_S, metavar="SECONDS",
                        help=f"heartbeat of a running trial; a trial silent for two is redone (default {HEARTBEAT_S})")
    parser.add_argument("--top", type=int, default=10, help="trials shown in the results table (default 10)")
    parser.add_argument("--out", type=Path, help="folder for best.toml and trials.csv (default var/optimize/<study>)")
    parser.add_argument("--walk-forward", choices=("rolling", "anchored"),
                        help="out-of-sample test: a study per --train window, its best parameters run on the --test "
                             "window after it (rolling: the training window slides; anchored: it starts at the "
                             "first bar); writes walk_forward.csv")
    parser.add_argument("--train", metavar="LENGTH", help="walk-forward training window: bars (500) or a duration "
                                                          "(90d, 8w, 2y, 12h)")
    parser.add_argument("--test", metavar="LENGTH", help="walk-forward test window, and the step between windows")
    add_data_arguments(parser)
    add_settings_arguments(parser)


def spec_from(args: argparse.Namespace) -> StudySpec:
    """Return the study the options describe; every problem is a ``UsageError`` before any trial runs."""
    run = run_from_args(args)
    space = parse_space(args.param)
    objective = metric_name(args.objective)
    constraints = spec_constraints(args.constraint)
    size = grid_size(searched(space))
    if args.sampler == "grid" and size > MAX_GRID:
        raise UsageError(f"the grid has {size:,} points (more than {MAX_GRID:,}): widen the steps")
    trials = args.trials or (size if args.sampler == "grid" else 100)
    if trials < 1:
        raise UsageError("--trials must be at least 1")
    if args.sampler == "grid":
        trials = min(trials, size)
    backtest_config(with_point(run, tuple(d for d in space if d.kind == "fixed"), {}))  # data, strategy, settings
    return StudySpec(run=run, space=space, objective=objective, direction=args.direction,
                     constraints=tuple(str(c) for c in constraints), sampler=args.sampler, trials=trials,
                     seed=args.seed)


def study_name(args: argparse.Namespace, run: dict[str, object]) -> str:
    """Return ``--study``, else ``<strategy>-<UTC time>``."""
    if args.study:
        return str(args.study)
    strategy = str(run.get("strategy", "study")).replace(":", "-").replace("/", "-").replace(".", "-")
    return f"{strategy}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"


@contextmanager
def progress_bar(total: int, label: str, study: optuna.Study, stream: IO[str] | None = None) -> Iterator[Tick | None]:
    """Yield a callback that redraws a bar of finished trials on a terminal's stderr (``None`` elsewhere)."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("trials"), TimeRemainingColumn())
    with Progress(*columns, console=Console(file=stream), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.update(task, completed=finished(study))


def run(args: argparse.Namespace) -> int:
    if args.worker:
        return run_worker(args)
    lengths = walk_forward_lengths(args)
    spec = spec_from(args)
    name = study_name(args, spec.run)
    url = args.storage or sqlite_url(name)
    if lengths:
        return run_walk_forward(args, spec, name, url, lengths)
    study = create_study(name, open_storage(url, args.heartbeat), spec)
    console = Console(width=None if sys.stdout.isatty() else 120)
    console.print(f"study {name} at {url}: {spec.trials} trials, {spec.sampler} sampler, {args.jobs} jobs; join "
                  f"from another machine with: tradebus optimize --worker --study {name} --storage URL",
                  highlight=False, soft_wrap=True)
    if args.jobs == 0:
        return 0
    with progress_bar(spec.trials, "optimize", study) as tick, TrialPool(args.jobs, args.heartbeat) as pool:
        pool.run(url, name, tick)
    return report(console, study, name, spec, args.out or STUDIES / name, args.top)


def report(console: Console, study: optuna.Study, name: str, spec: StudySpec, out: Path, top: int) -> int:
    """Print the results table and the best parameters; write ``best.toml`` and ``trials.csv`` into ``out``."""
    trials = write_trials(out / "trials.csv", study, spec)
    best = ranked(study)
    if not best:
        console.print(f"no trial ranked: every one was pruned (see {trials})", highlight=False)
        return 1
    console.print(results_table(study, spec, top))
    params = ", ".join(f"{key}={value}" for key, value in best[0].user_attrs["point"].items())
    path = write_best(out / "best.toml", name, spec, best[0])
    console.print(f"best: trial {best[0].number}, {spec.objective} {best[0].value:.6g} with {params}\n"
                  f"best run: {path} (tradebus backtest --config {path})\ntrials: {trials}",
                  highlight=False, soft_wrap=True)
    return 0


def walk_forward_lengths(args: argparse.Namespace) -> tuple[Length, Length] | None:
    """Return the ``--train`` and ``--test`` lengths of ``--walk-forward`` (``None`` without it)."""
    if not args.walk_forward:
        if args.train or args.test:
            raise UsageError("--train and --test go with --walk-forward rolling|anchored")
        return None
    if not (args.train and args.test):
        raise UsageError("--walk-forward needs --train LENGTH and --test LENGTH (bars, or a duration like 2y)")
    if args.worker or args.jobs < 1:
        raise UsageError("--walk-forward runs its windows' trials itself: give --jobs 1 or more, not --worker")
    return parse_length("--train", args.train), parse_length("--test", args.test)


def run_walk_forward(args: argparse.Namespace, spec: StudySpec, name: str, url: str,
                     lengths: tuple[Length, Length]) -> int:
    """Run a study per training window (``<study>-wfNN``), test each best point on its window, report them all."""
    console = Console(width=None if sys.stdout.isatty() else 160)
    out = args.out or STUDIES / name
    with TrialPool(args.jobs, args.heartbeat) as pool:
        windows = plan(spec, args.walk_forward, *lengths, pool.evaluator)
        storage = open_storage(url, args.heartbeat)
        console.print(f"walk-forward {args.walk_forward} --train {args.train} --test {args.test}: "
                      f"{len(windows.splits)} windows, a study each ({name}-wfNN at {url}) of {spec.trials} "
                      f"trials, {spec.sampler} sampler, {args.jobs} jobs", highlight=False, soft_wrap=True)

        def run_study(split: Split, window_spec: StudySpec) -> optuna.Study:
            window_name = f"{name}-wf{split.number:02d}"
            study = create_study(window_name, storage, window_spec)
            with progress_bar(window_spec.trials, f"window {split.number}", study) as tick:
                pool.run(url, window_name, tick)
            write_trials(out / f"wf{split.number:02d}" / "trials.csv", study, window_spec)
            return study

        results = walk_forward(spec, windows, run_study, pool.evaluator)
    console.print(walk_forward_table(results, spec, args.walk_forward))
    path = write_walk_forward(out / "walk_forward.csv", results, spec)
    console.print(f"{walk_forward_summary(results, spec)}\nwindows: {path}", highlight=False, soft_wrap=True)
    return 0


def run_worker(args: argparse.Namespace) -> int:
    """Join the study ``--study`` at ``--storage`` and run trials until it is done."""
    if not args.study:
        raise UsageError("--worker needs --study NAME (and --storage URL unless it is the local SQLite default)")
    url = args.storage or sqlite_url(args.study)
    ran = work(url, args.study, worker=os.getpid(), heartbeat_s=args.heartbeat)
    print(f"worker {os.getpid()}: ran {ran} trials of study {args.study}")
    return 0
