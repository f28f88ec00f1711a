"""Measure ``tradebus optimize``: trials per minute with 1 and 2 worker processes, and a trial's cost against a
cold ``tradebus backtest`` subprocess of the same data, in one run.

Each study is a random search of ``--trials`` sma_cross points over the ORCL sample (5,036 daily bars), stored in a
fresh SQLite file; its time runs from the first worker's start to the last trial's end (spawning the workers and
parsing the data once per worker included). The cold backtest is ``python -m tools.cli backtest`` of one point,
timed from process start to exit (interpreter start, imports, the CSV read, the run, the files written).

Usage::

    python -m bench.optimize               # 24 trials per study
    python -m bench.optimize --trials 8    # a quick run
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.cli import main as tradebus

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "services" / "data" / "samples" / "orcl-1995-2014.csv"
SPACE = ("--param", "fast=2:40:1", "--param", "slow=20:200:5", "--sampler", "random", "--seed", "1")


def study_seconds(folder: Path, name: str, trials: int, jobs: int) -> float:
    """Return the wall time of a study of ``trials`` random trials with ``jobs`` workers."""
    started = time.perf_counter()
    status = tradebus(["optimize", "--data", str(SAMPLE), "--strategy", "sma_cross", *SPACE, "--trials", str(trials),
                       "--jobs", str(jobs), "--study", name, "--storage", f"sqlite:///{folder / name}.db",
                       "--out", str(folder / name), "--top", "1"])
    if status != 0:
        raise SystemExit(f"study {name} failed with status {status}")
    return time.perf_counter() - started


def cold_backtest_seconds(folder: Path) -> float:
    """Return the wall time of one ``tradebus backtest`` subprocess of the sample."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tools.cli", "backtest", "--data", str(SAMPLE), "--strategy", "sma_cross",
                    "--param", "fast=10", "--param", "slow=50", "--out", str(folder / "cold")], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-optimize-") as name:
        folder = Path(name)
        one = study_seconds(folder, "one", args.trials, 1)
        two = study_seconds(folder, "two", args.trials, 2)
        cold = min(cold_backtest_seconds(folder) for _ in range(3))
    per_minute = {jobs: args.trials / seconds * 60 for jobs, seconds in ((1, one), (2, two))}
    per_trial = one / args.trials
    print(f"\n{args.trials} trials, ORCL 5,036 bars, sma_cross random search")
    print(f"1 job : {per_minute[1]:7.1f} trials/min ({one:.2f} s)")
    print(f"2 jobs: {per_minute[2]:7.1f} trials/min ({two:.2f} s)")
    print(f"speed-up 2 jobs / 1 job: {per_minute[2] / per_minute[1]:.2f}x (goal >= 1.8x)")
    print(f"per trial (1 job): {per_trial * 1000:.0f} ms; cold tradebus backtest: {cold * 1000:.0f} ms; "
          f"a trial costs {per_trial / cold:.2f} of a cold backtest ({cold / per_trial:.1f}x cheaper)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
