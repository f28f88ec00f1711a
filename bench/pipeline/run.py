"""Measure the four services as processes over the local broker against raw aio-pika doing the same hops.

Each round runs two phases on each side, the sides back to back (which goes first alternates), each phase on
a fresh namespace that is deleted afterwards:

1. **throughput**: ``--symbols`` x ``--bars`` synthetic bars replayed as fast as the data service publishes them,
   traded by ``sma_cross`` fast=10 slow=30 (``tradebus up``'s default): the sustained bars/s that each consumer
   of bars (strategy, execution, portfolio) handles, from its Prometheus counter sampled every 0.25 s, and the
   CPU time each process and the broker spent per bar.
2. **latency**: ``--symbols`` x ``--latency-bars`` bars paced at ``--latency-rate`` bars/s, traded by
   ``sma_cross`` fast=2 slow=3 (a signal every third bar or so). Tick-to-order latency is the arrival of an
   order's acceptance at a queue of the bench minus the arrival of its bar at another (see
   ``bench.pipeline.probe.Observer``: both arrivals are their publications, to the broker's routing time),
   matched by the chain id: ``OrderAccepted.correlation_id`` is the ``message_id`` of the bar that began it.

The tradebus side is ``tradebus up``'s suite (``tools.suite.processes.run_suite``) replaying CSV files of
seeded random-walk bars (symbol k's bars start k seconds late and are ``--symbols`` seconds apart, so the merged
replay has one bar per second of event time and ``--latency-rate`` is the replay speed). The raw side is
``bench.pipeline.raw``: four processes of plain aio-pika consumers forwarding bar -> signal -> accepted through
the same broker hops. Nothing may be lost: each consumer must see every bar, the tradebus portfolio must end
with the backtester's fills and equity on the same files, each order must be announced accepted, and no
message may be left in a work queue or dead-lettered; otherwise the run exits 1. Acceptances published more
than once for one order are counted and shown (``dup. accepted``), not treated as a failure.

Usage::

    python -m bench.pipeline            # 2 rounds, 8 symbols: 24,000 bars, then 1,520 at 50 bars/s; ~5 min
    python -m bench.pipeline --quick    # smoke run: 4 symbols, 1 round; under a minute
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from services.data.adapters.csv_feeds import write_synthetic_csv
from tools.backtest import BacktestConfig, run_backtest

from .probe import percentile
from .sides import LOCAL_BROKER, ROLES, BenchFailed, Config, Feed, Run, run_raw, run_tradebus

START = datetime(2024, 1, 2, tzinfo=timezone.utc)


async def make_feed(directory: Path, config: Config, bars: int, sma: tuple[int, int]) -> Feed:
    """Write one CSV per symbol and run the backtester over them for the expected fills and equity."""
    directory.mkdir(parents=True)
    count = config.symbols
    symbols = tuple(f"SYM{k:02d}" for k in range(count))
    paths = tuple(write_synthetic_csv(directory / f"{symbol}.csv", bars, seed=config.seed, symbol=symbol,
                                      start=START + timedelta(seconds=k), step=timedelta(seconds=count))
                  for k, symbol in enumerate(symbols))
    timeframe = f"{count}s"
    params = {"fast": str(sma[0]), "slow": str(sma[1])}
    result = await run_backtest(BacktestConfig(data=paths, symbols=symbols, params=params, timeframe=timeframe))
    return Feed(paths, symbols, timeframe, sma, bars * count, result.fills, result.final_value)


# -- rounds and the report -------------------------------------------------------------------------------------
async def run_side(side: str, config: Config, feed: Feed, speed: float, observe: bool) -> Run:
    if side == "raw":
        return await run_raw(config, feed, speed, observe)
    return await run_tradebus(config, feed, speed, observe)


async def run(config: Config) -> tuple[list[dict[str, Run]], list[dict[str, Run]], Feed, Feed]:
    """Run ``config.rounds`` rounds of both phases on both sides (which side goes first alternates)."""
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        flood = await make_feed(Path(tmp) / "flood", config, config.bars, config.throughput_sma)
        paced = await make_feed(Path(tmp) / "paced", config, config.latency_bars, config.latency_sma)
        for name, feed, pace in (("throughput", flood, "as fast as possible"),
                                 ("latency", paced, f"at {config.latency_rate:g} bars/s")):
            print(f"{name} feed: {config.symbols} symbols x {feed.bars // config.symbols:,} bars {pace}, sma_cross "
                  f"fast={feed.sma[0]} slow={feed.sma[1]}; the backtest of it: {feed.fills} fills", flush=True)
        throughput, latency = [], []
        for number in range(1, config.rounds + 1):
            sides = ("tradebus", "raw") if number % 2 else ("raw", "tradebus")
            runs = {side: await run_side(side, config, flood, 0.0, False) for side in sides}
            print_throughput(f"round {number}", runs)
            throughput.append(runs)
            runs = {side: await run_side(side, config, paced, config.latency_rate, True) for side in sides}
            print_latency(f"round {number}", runs)
            latency.append(runs)
    return throughput, latency, flood, paced


CPU_ROLES = (*ROLES, "broker")


def ratios(runs: dict[str, Run]) -> tuple[dict[str, float], dict[str, float]]:
    """Return tradebus/raw of each role's bars/s and of each process's CPU per bar."""
    tradebus, raw = runs["tradebus"], runs["raw"]
    return ({r: tradebus.rates[r] / raw.rates[r] for r in ROLES},
            {r: tradebus.cpu_us_per_bar(r) / raw.cpu_us_per_bar(r) for r in CPU_ROLES})


def print_throughput(title: str, runs: dict[str, Run],
                     ratio: tuple[dict[str, float], dict[str, float]] | None = None) -> None:
    rates, cpu = ratio or ratios(runs)
    print(f"\n{title}: throughput, bars/s handled (sustained) | CPU us per bar")
    print(f"{'side':<9}" + "".join(f"{r:>11}" for r in ROLES) + " |" + "".join(f"{r:>10}" for r in CPU_ROLES))
    for side in ("tradebus", "raw"):
        run = runs[side]
        print(f"{side:<9}" + "".join(f"{run.rates[r]:>11,.0f}" for r in ROLES) + " |"
              + "".join(f"{run.cpu_us_per_bar(r):>10,.0f}" for r in CPU_ROLES))
    print(f"{'ratio':<9}" + "".join(f"{rates[r]:>11.2f}" for r in ROLES) + " |"
          + "".join(f"{cpu[r]:>10.2f}" for r in CPU_ROLES))
    print_timings(runs["tradebus"])


def print_timings(run: Run) -> None:
    if run.timings:
        print("tradebus mean ms: " + ", ".join(f"{name} {ms:.2f}" for name, ms in run.timings.items()), flush=True)


def print_latency(title: str, runs: dict[str, Run]) -> None:
    print(f"\n{title}: tick-to-order latency (bar published -> order accepted published), ms", flush=True)
    print(f"{'side':<9}{'orders':>8}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}{'data bars/s':>13}{'dup. accepted':>15}")
    for side in ("tradebus", "raw"):
        run = runs[side]
        ms = [x * 1000 for x in run.latencies]
        print(f"{side:<9}{run.orders:>8}{percentile(ms, .5):>8.2f}{percentile(ms, .9):>8.2f}"
              f"{percentile(ms, .99):>8.2f}{max(ms, default=float('nan')):>8.2f}{run.rates['data']:>13,.0f}"
              f"{run.duplicates:>15}")
    print_timings(runs["tradebus"])
    print(flush=True)


def combined(runs: list[Run]) -> Run:
    """Return one run: the median over ``runs`` of each rate, CPU time and timing; latencies and orders pooled."""
    first = runs[0]

    def median(values: list[float]) -> float:
        return statistics.median(values)

    return Run(first.side, first.bars, {k: median([r.rates[k] for r in runs]) for k in first.rates},
               {k: median([r.cpu.get(k, float("nan")) for r in runs]) for k in first.cpu},
               [x for r in runs for x in r.latencies], sum(r.orders for r in runs), sum(r.duplicates for r in runs),
               {k: median([r.timings[k] for r in runs]) for k in first.timings})


def summarise(config: Config, throughput: list[dict[str, Run]], latency: list[dict[str, Run]], flood: Feed,
              paced: Feed) -> None:
    """Print the medians over rounds (latencies pooled over rounds) and the ratios tradebus/raw."""
    flows = {side: combined([r[side] for r in throughput]) for side in ("tradebus", "raw")}
    paces = {side: combined([r[side] for r in latency]) for side in ("tradebus", "raw")}
    # the sides of a round run back to back: the median of the per-round ratios cancels the load drift that
    # the ratio of the medians does not
    per_round = [ratios(r) for r in throughput]
    ratio = ({k: statistics.median(rates[k] for rates, _ in per_round) for k in ROLES},
             {k: statistics.median(cpu[k] for _, cpu in per_round) for k in CPU_ROLES})
    print_throughput(f"median of {config.rounds} round(s) of {flood.bars:,} bars (ratio: median of the rounds')",
                     flows, ratio)
    print_latency(f"{config.rounds} round(s) of {paced.bars:,} bars at {config.latency_rate:g} bars/s", paces)
    tradebus, raw = ([x * 1000 for x in paces[side].latencies] for side in ("tradebus", "raw"))
    print(f"ratio tradebus/raw: strategy bars/s {ratio[0]['strategy']:.2f}, portfolio bars/s "
          f"{ratio[0]['portfolio']:.2f}; latency p50 {percentile(tradebus, .5) / percentile(raw, .5):.2f}, "
          f"p99 {percentile(tradebus, .99) / percentile(raw, .99):.2f}")


def parse_args(argv: list[str] | None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("AMQP_URL", LOCAL_BROKER))
    parser.add_argument("--symbols", type=int, default=Config.symbols)
    parser.add_argument("--bars", type=int, default=Config.bars, help="bars per symbol, throughput phase")
    parser.add_argument("--latency-bars", type=int, default=Config.latency_bars, help="bars per symbol, latency phase")
    parser.add_argument("--latency-rate", type=float, default=Config.latency_rate, help="bars/s of the latency phase")
    parser.add_argument("--rounds", type=int, default=Config.rounds)
    parser.add_argument("--timeout", type=float, default=Config.timeout, help="seconds a phase may take")
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 symbols, a few hundred bars, < 60 s")
    args = parser.parse_args(argv)
    config = Config(args.url, args.symbols, args.bars, args.latency_bars, args.latency_rate, args.rounds,
                    timeout=args.timeout)
    if args.quick:
        config = replace(config, symbols=4, bars=300, latency_bars=60, rounds=1, timeout=60.0)
    return config


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables; return 1 if anything was lost or a process failed."""
    config = parse_args(argv)
    try:
        throughput, latency, flood, paced = asyncio.run(run(config))
    except BenchFailed as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    summarise(config, throughput, latency, flood, paced)
    return 0

