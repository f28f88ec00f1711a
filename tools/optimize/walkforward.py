"""Walk-forward testing: a study per training window, its best parameters run once on the next, unseen window.

The series is cut at its bar times (all symbols' bars of one time stay together). Test windows follow each other
from the end of the first training window: window ``k`` tests bars ``[t_k, t_k + M)``. Its training window is the
``N`` bars before ``t_k`` (rolling: it slides by ``M``) or every bar before ``t_k`` (anchored: it starts at the first
bar). A test window that would run past the data is dropped. Lengths are bar counts (``500``) or durations
(``90d``, ``8w``, ``2y``, ``12h``; a year is 365 days). The test replays its bars from a cold start (the strategy
warms up again), so no bar of a training window is ever replayed out-of-sample.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from rich.table import Table

from tools.errors import UsageError

from .evaluate import Evaluator, Window
from .objective import metric_values
from .report import best_run
from .runfile import backtest_config
from .space import searched, with_point
from .study import StudySpec, point_of, ranked

Mode = Literal["rolling", "anchored"]
Length = int | timedelta
"""A window's length: a number of bars, or a span of time."""
_LENGTH = re.compile(r"^\s*([0-9]+)\s*([hdwy]?)\s*$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1), "y": timedelta(days=365)}


def parse_length(option: str, text: str) -> Length:
    """Parse ``--train``/``--test``: a positive number of bars or a duration; a bad one is a ``UsageError``."""
    match = _LENGTH.match(text)
    if not match or int(match[1]) < 1:
        raise UsageError(f"{option} {text!r}: give a number of bars (500) or a duration (90d, 8w, 2y, 12h)")
    count, unit = int(match[1]), match[2]
    return count * _UNITS[unit] if unit else count


@dataclass(frozen=True)
class Split:
    """One walk-forward window: the bars (indexes into the bar times) it trains on and tests on."""

    number: int
    train: tuple[int, int]
    test: tuple[int, int]


def _forward(times: Sequence[datetime], start: int, length: Length) -> int:
    if isinstance(length, int):
        return start + length
    return bisect.bisect_left(times, times[start] + length) if start < len(times) else start + 1


def _back(times: Sequence[datetime], stop: int, length: Length) -> int:
    if isinstance(length, int):
        return stop - length
    return bisect.bisect_left(times, times[stop] - length)


def splits(times: Sequence[datetime], mode: Mode, train: Length, test: Length) -> list[Split]:
    """Return the windows over the bar times ``times`` (sorted, distinct); ``UsageError`` if none fits."""
    windows: list[Split] = []
    first = _forward(times, 0, train)
    start = first
    while start < len(times):
        stop = _forward(times, start, test)
        complete = stop <= len(times) if isinstance(test, int) else stop < len(times)
        if not complete or stop == start:
            break
        begin = 0 if mode == "anchored" else _back(times, start, train)
        windows.append(Split(len(windows) + 1, (begin, start), (start, stop)))
        start = stop
    if not windows:
        raise UsageError(f"--train {_text(train)} and --test {_text(test)} do not fit in the data's {len(times)} bars "
                         f"({_date(times[0])} to {_date(times[-1])}): shorten them")
    return windows


def _text(length: Length) -> str:
    return f"{length} bars" if isinstance(length, int) else f"{length.days}d" if length.days else str(length)


def _date(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}" if (moment.hour, moment.minute) == (0, 0) else f"{moment:%Y-%m-%d %H:%M}"


def bar_times(events: Sequence[Any]) -> list[datetime]:
    """Return the distinct event times of ``events`` (in time order), each one bar of the series."""
    return sorted({event.ts_event for event in events})


def event_window(events: Sequence[Any], times: Sequence[datetime], bars: tuple[int, int]) -> Window:
    """Return the slice of ``events`` holding the bars ``[bars[0], bars[1])`` of ``times``."""
    stamps = [event.ts_event for event in events]
    start, stop = (bisect.bisect_left(stamps, times[i]) if i < len(times) else len(stamps) for i in bars)
    return start, stop


@dataclass(frozen=True)
class WindowResult:
    """What one window gave: its dates, the parameters its training chose, and both objectives."""

    split: Split
    train_dates: tuple[str, str]
    test_dates: tuple[str, str]
    params: dict[str, Any]
    in_sample: float | None
    out_of_sample: float | None
    oos_trades: float | None


Train = Callable[[Split, StudySpec], Any]
"""Run a window's study to its end and return it (an ``optuna.Study``)."""


@dataclass(frozen=True)
class Plan:
    """The windows of a walk-forward over the market events of its data."""

    events: tuple[Any, ...]
    times: list[datetime]
    splits: list[Split]

    def window(self, bars: tuple[int, int]) -> Window:
        """Return the market events of the bars ``bars``."""
        return event_window(self.events, self.times, bars)


def plan(spec: StudySpec, mode: Mode, train: Length, test: Length, evaluator: Evaluator) -> Plan:
    """Return the windows of ``spec``'s data; ``UsageError`` if none fits."""
    fixed = tuple(d for d in spec.space if d.kind == "fixed")
    events = evaluator.events(backtest_config(with_point(spec.run, fixed, {})))
    if not events:
        raise UsageError("the data has no bars to walk forward over")
    times = bar_times(events)
    return Plan(events, times, splits(times, mode, train, test))


def walk_forward(spec: StudySpec, windows: Plan, run_study: Train, evaluator: Evaluator) -> list[WindowResult]:
    """Run each window: ``run_study`` on its training bars, then its best point once on its test bars."""
    results = []
    for split in windows.splits:
        window_spec = dataclasses.replace(spec, window=windows.window(split.train))
        best = ranked(run_study(split, window_spec))
        params, in_sample, oos, trades = {}, None, None, None
        if best:
            params, in_sample = dict(point_of(best[0])), best[0].value
            config = backtest_config(best_run(window_spec, best[0]))
            values = metric_values(evaluator.run(config, windows.window(split.test)))
            oos, trades = values.get(spec.objective), values.get("trade_count")
        results.append(WindowResult(split, _dates(windows.times, split.train), _dates(windows.times, split.test),
                                    params, in_sample, oos, trades))
    return results


def _dates(times: Sequence[datetime], bars: tuple[int, int]) -> tuple[str, str]:
    return _date(times[bars[0]]), _date(times[bars[1] - 1])


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _params(result: WindowResult) -> str:
    return ", ".join(f"{key}={_shown(value)}" for key, value in result.params.items()) or "(none ranked)"


def results_table(results: Sequence[WindowResult], spec: StudySpec, mode: Mode) -> Table:
    """Return a row per window: its training and test dates, the chosen parameters, in- and out-of-sample."""
    table = Table(title=f"walk-forward ({mode}) by {spec.objective}: in-sample (IS) against out-of-sample (OOS)")
    for column in ("window", "train", "test", "params", "IS", "OOS", "OOS trades"):
        table.add_column(column, justify="left" if column in ("train", "test", "params") else "right")
    for result in results:
        table.add_row(str(result.split.number), " to ".join(result.train_dates), " to ".join(result.test_dates),
                      _params(result), _shown(result.in_sample), _shown(result.out_of_sample),
                      _shown(result.oos_trades))
    return table


def summary(results: Sequence[WindowResult], spec: StudySpec) -> str:
    """Return the mean in-sample and out-of-sample objectives over the windows that have both, and their ratio."""
    pairs = [(r.in_sample, r.out_of_sample) for r in results
             if r.in_sample is not None and r.out_of_sample is not None]
    if not pairs:
        return f"walk-forward: no window has both an in-sample and an out-of-sample {spec.objective}"
    mean_is = math.fsum(p[0] for p in pairs) / len(pairs)
    mean_oos = math.fsum(p[1] for p in pairs) / len(pairs)
    ratio = f"{mean_oos / mean_is:.2f}" if mean_is > 0 else "n/a (mean IS not positive)"
    worse = "well below 1" if spec.direction == "maximize" else "well above 1"
    return (f"walk-forward over {len(pairs)} of {len(results)} windows: mean IS {spec.objective} {mean_is:.4g}, "
            f"mean OOS {mean_oos:.4g}, OOS/IS {ratio} (1: as good out of sample; {worse} hints at overfitting)")


def write_csv(path: Path, results: Sequence[WindowResult], spec: StudySpec) -> Path:
    """Write ``walk_forward.csv``: a row per window with its bars, dates, parameters and both objectives."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [d.name for d in searched(spec.space)]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["window", "train_start", "train_end", "train_bars", "test_start", "test_end", "test_bars",
                         *names, f"is_{spec.objective}", f"oos_{spec.objective}", "oos_trades"])
        for r in results:
            (a, b), (c, d) = r.split.train, r.split.test
            writer.writerow([r.split.number, *r.train_dates, b - a, *r.test_dates, d - c,
                             *(r.params.get(n, "") for n in names), _cell(r.in_sample), _cell(r.out_of_sample),
                             _cell(r.oos_trades)])
    return path


def _cell(value: float | None) -> object:
    return "" if value is None else value
