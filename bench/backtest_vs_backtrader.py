"""Compare ``tradebus backtest`` with backtrader on one seeded file of one-minute bars: same trades, speed, memory.

The file is a seeded random walk in the ORCL layout (``services.data.adapters.write_synthetic_csv``), cached in
``var/bench/``. Both engines run the same strategy on it: SMA(10) and SMA(30) of closes, long only, 100 shares,
buy on an up-cross while flat, sell on a down-cross while long, market orders filled at the next bar's open, no
commission, 100,000 cash. Backtrader reads the file with its own CSV reader (``GenericCSVData``) and runs in
its fastest configuration (``stdstats=False``: no observers; ``--stdstats`` keeps its defaults), its float
averages rounded before the crossover so that an exact tie does not cross (``TIE_DECIMALS``); tradebus runs the
``tradebus backtest`` command's own code (its argument parser, ``config_from``, ``run_backtest``), which is the
four services' handlers over the in-memory bus, event by event.

Each run of each engine is a fresh subprocess, so start-up is paid every time and the peak resident memory
(``ru_maxrss`` of that child, from ``wait4``) is the engine's own. Speed is bars per second of the engine loop
(backtrader: ``cerebro.run()``, which loads the CSV; tradebus: the replay loop, which parses it); the wall time
of the whole process is reported too. The trade lists (entry and exit times and prices), the open position and
the final value must agree, or the script exits 1. ``--quick`` first runs the script's own tests
(``bench/test_backtest_vs_backtrader.py``: the comparison and the tradebus side) and stops if one fails.

Usage::

    pip install -e ".[bench]"                      # backtrader, into the environment that runs this script
    python bench/backtest_vs_backtrader.py                       # 1,000,000 bars, 3 runs per engine
    python bench/backtest_vs_backtrader.py --bars 200000 --runs 5
    python bench/backtest_vs_backtrader.py --quick               # smoke run: its own tests, then 20,000 bars, 1 run
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SYMBOL = "SYN"
FAST, SLOW, QUANTITY, CASH = 10, 30, 100, 100_000
GOAL_RATIO = 10.0
MEMORY_GOAL_MB = 300
PRICE_TOLERANCE = Decimal("1e-9")
VALUE_TOLERANCE = Decimal("0.01")  # backtrader keeps cash in floats
INSTALL_BENCH = 'pip install -e ".[bench]"'
TIE_DECIMALS = 9
"""Backtrader's SMAs are floats: two averages that are exactly equal (a tie: no cross) can differ by 1e-14 and
cross. Rounded to 9 decimals they compare exactly for prices of up to 6 decimals (distinct averages then differ
by at least 1e-6 / 30), as tradebus's Decimal averages do."""


@dataclass(frozen=True)
class Run:
    """One engine's run: what it traded, how fast, how much memory."""

    engine: str
    bars: int
    loop_seconds: float
    wall_seconds: float
    peak_mb: float
    final_value: Decimal
    trades: list[tuple[str, Decimal, str, Decimal]]
    open_entry: tuple[str, Decimal] | None

    @property
    def rate(self) -> float:
        return self.bars / self.loop_seconds


# -- the workers, each in its own process ------------------------------------------------------------------------

def backtrader_worker(data: Path, stdstats: bool = False) -> dict[str, Any]:
    """Run the strategy in backtrader on ``data`` and return what it traded (``stdstats``: with observers)."""
    try:
        import backtrader as bt
    except ImportError:
        raise SystemExit(f"backtrader is not installed: {INSTALL_BENCH}") from None

    class Rounded(bt.Indicator):  # type: ignore[misc]
        lines = ("value",)

        def next(self) -> None:
            self.lines.value[0] = round(self.data[0], TIE_DECIMALS)

        def once(self, start: int, end: int) -> None:
            source, target = self.data.array, self.lines.value.array
            for i in range(start, end):
                target[i] = round(source[i], TIE_DECIMALS)

    class SmaCross(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            fast, slow = bt.ind.SMA(self.data.close, period=FAST), bt.ind.SMA(self.data.close, period=SLOW)
            self.cross = bt.ind.CrossOver(Rounded(fast), Rounded(slow))
            self.fills: list[tuple[str, float]] = []

        def next(self) -> None:
            if not self.position and self.cross[0] > 0:
                self.buy(size=QUANTITY)
            elif self.position and self.cross[0] < 0:
                self.sell(size=QUANTITY)

        def notify_order(self, order: Any) -> None:
            if order.status == order.Completed:
                self.fills.append((bt.num2date(order.executed.dt).isoformat(), order.executed.price))

    cerebro = bt.Cerebro(stdstats=stdstats)
    cerebro.adddata(bt.feeds.GenericCSVData(
        dataname=str(data), dtformat="%Y-%m-%d %H:%M:%S", timeframe=bt.TimeFrame.Minutes, compression=1,
        datetime=0, open=1, high=2, low=3, close=4, volume=6, openinterest=-1))
    cerebro.addstrategy(SmaCross)
    cerebro.broker.setcash(CASH)
    started = time.perf_counter()
    strategy, = cerebro.run()
    loop_seconds = time.perf_counter() - started
    fills = strategy.fills
    trades = [(entry[0], repr(entry[1]), exit_[0], repr(exit_[1])) for entry, exit_ in zip(fills[::2], fills[1::2])]
    open_entry = (fills[-1][0], repr(fills[-1][1])) if len(fills) % 2 else None
    return {"bars": len(strategy.data), "loop_seconds": loop_seconds, "final_value": repr(cerebro.broker.getvalue()),
            "trades": trades, "open_entry": open_entry}


def tradebus_worker(data: Path, stdstats: bool = False) -> dict[str, Any]:
    """Run the strategy through ``tradebus backtest``'s own code on ``data`` and return what it traded.

    ``stdstats`` is backtrader's option; it is accepted so that every worker takes the same arguments.
    """
    import asyncio

    from tools.backtest.command import add_arguments, config_from
    from tools.backtest.engine import run_backtest

    parser = argparse.ArgumentParser(prog="tradebus backtest")
    add_arguments(parser)
    args = parser.parse_args(["--data", str(data), "--symbol", SYMBOL, "--strategy", "sma_cross",
                              "--param", f"fast={FAST}", "--param", f"slow={SLOW}", "--timeframe", "1m",
                              "--quantity", str(QUANTITY), "--cash", str(CASH), "--json"])
    result = asyncio.run(run_backtest(config_from(args)))
    trades = [(t.entry_ts.replace(tzinfo=None).isoformat(), str(t.entry_price),
               t.exit_ts.replace(tzinfo=None).isoformat(), str(t.exit_price)) for t in result.trades]
    opened = [(p.opened_at.replace(tzinfo=None).isoformat(), str(p.average_price))
              for p in result.open_positions if p.opened_at]
    return {"bars": result.bars, "loop_seconds": result.loop_seconds, "final_value": str(result.final_value),
            "trades": trades, "open_entry": opened[0] if opened else None}


WORKERS = {"backtrader": backtrader_worker, "tradebus": tradebus_worker}


# -- the parent -------------------------------------------------------------------------------------------------

def data_file(bars: int, seed: int) -> Path:
    """Return the cached file of ``bars`` seeded one-minute bars, writing it the first time."""
    path = ROOT / "var" / "bench" / f"bars-{bars}-seed{seed}.csv"
    if not path.exists():
        from services.data.adapters import write_synthetic_csv

        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        write_synthetic_csv(partial, bars, seed, symbol=SYMBOL)
        partial.rename(path)
    return path


def run_engine(engine: str, data: Path, stdstats: bool = False) -> Run:
    """Run ``engine`` on ``data`` in a fresh subprocess; return its result, wall time and peak memory."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, "--data", str(data),
               *(["--stdstats"] if stdstats else [])]
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{engine} failed with exit status {child.returncode}")
    report = json.loads(output.strip().splitlines()[-1])
    opened = report["open_entry"]
    return Run(engine, report["bars"], report["loop_seconds"], wall, usage.ru_maxrss / 1024,
               Decimal(report["final_value"]),
               [(entry, Decimal(p), exit_, Decimal(q)) for entry, p, exit_, q in report["trades"]],
               (opened[0], Decimal(opened[1])) if opened else None)


def differences(reference: Run, other: Run) -> list[str]:
    """Return how ``other`` trades differently from ``reference`` (empty when they agree)."""
    found = []
    if len(reference.trades) != len(other.trades):
        found.append(f"trade count: {reference.engine} {len(reference.trades)}, {other.engine} {len(other.trades)}")
    for number, (mine, theirs) in enumerate(zip(reference.trades, other.trades), 1):
        if mine[0] != theirs[0] or mine[2] != theirs[2] or not all(
                abs(mine[i] - theirs[i]) <= PRICE_TOLERANCE for i in (1, 3)):
            found.append(f"trade {number}: {reference.engine} {mine}, {other.engine} {theirs}")
            break
    if (reference.open_entry is None) != (other.open_entry is None) or (
            reference.open_entry and other.open_entry and (reference.open_entry[0] != other.open_entry[0] or
                                                           abs(reference.open_entry[1] - other.open_entry[1])
                                                           > PRICE_TOLERANCE)):
        found.append(f"open position: {reference.engine} {reference.open_entry}, {other.engine} {other.open_entry}")
    if abs(reference.final_value - other.final_value) > VALUE_TOLERANCE:
        found.append(f"final value: {reference.engine} {reference.final_value}, {other.engine} {other.final_value}")
    return found


def report(runs: dict[str, list[Run]], bars: int) -> float:
    """Print the table of medians and return the ratio of the median loop speeds, tradebus over backtrader."""
    print(f"\n{'engine':<11} {'bars':>9} {'trades':>7} {'loop bars/s':>12} {'loop s':>7} {'wall s':>7} "
          f"{'peak MB':>8}   runs")
    medians = {}
    for engine, mine in runs.items():
        medians[engine] = statistics.median(run.rate for run in mine)
        print(f"{engine:<11} {bars:>9,} {len(mine[0].trades):>7,} {medians[engine]:>12,.0f} "
              f"{statistics.median(r.loop_seconds for r in mine):>7.2f} "
              f"{statistics.median(r.wall_seconds for r in mine):>7.2f} {max(r.peak_mb for r in mine):>8.0f}   "
              f"{', '.join(f'{r.rate:,.0f}' for r in mine)}")
    ratio = medians["tradebus"] / medians["backtrader"]
    print(f"final value: {runs['tradebus'][0].final_value} (backtrader {runs['backtrader'][0].final_value})")
    print(f"peak memory: tradebus {max(r.peak_mb for r in runs['tradebus']):.0f} MB "
          f"(goal < {MEMORY_GOAL_MB} MB), backtrader {max(r.peak_mb for r in runs['backtrader']):.0f} MB")
    print(f"ratio tradebus/backtrader bars/s: {ratio:.1f}x (goal >= {GOAL_RATIO:g}x)")
    return ratio


def self_check() -> int:
    """Run the script's own tests (``bench/test_backtest_vs_backtrader.py``); return pytest's exit status."""
    import pytest

    tests = Path(__file__).with_name("test_backtest_vs_backtrader.py")
    return int(pytest.main(["-q", "-p", "no:cacheprovider", str(tests)]))


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; return 1 when the engines trade differently (or, with ``--quick``, a self-test fails)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000, help="one-minute bars in the file")
    parser.add_argument("--seed", type=int, default=7, help="seed of the random walk")
    parser.add_argument("--runs", type=int, default=3, help="runs per engine (the median is reported)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: the script's own tests, then 20,000 bars, 1 run")
    parser.add_argument("--stdstats", action="store_true",
                        help="run backtrader with its default observers (cash/value, trades, buy/sell marks)")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](args.data, args.stdstats)))
        return 0
    if importlib.util.find_spec("backtrader") is None:
        print(f"backtrader is not installed here: {INSTALL_BENCH}", file=sys.stderr)
        return 2
    if args.quick:
        if self_check() != 0:
            print("the bench's own tests failed", file=sys.stderr)
            return 1
        args.bars, args.runs = 20_000, 1
    data = data_file(args.bars, args.seed)
    print(f"{args.bars:,} one-minute bars, seed {args.seed}: {data}"
          f"{' (backtrader with its default observers)' if args.stdstats else ''}")
    runs: dict[str, list[Run]] = {"backtrader": [], "tradebus": []}
    for number in range(1, args.runs + 1):
        for engine in runs:  # alternate, so a slow spell of the machine hits both
            run = run_engine(engine, data, args.stdstats)
            runs[engine].append(run)
            print(f"run {number} {engine:<10} {run.rate:>10,.0f} bars/s  loop {run.loop_seconds:6.2f} s  "
                  f"wall {run.wall_seconds:6.2f} s  peak {run.peak_mb:5.0f} MB  {len(run.trades):,} trades")
    report(runs, args.bars)
    problems = differences(runs["backtrader"][0], runs["tradebus"][0])
    for problem in problems:
        print(f"MISMATCH {problem}")
    if not problems:
        print(f"same trades: {len(runs['tradebus'][0].trades):,} round trips, same open position and final value")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
