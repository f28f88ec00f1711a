"""Throughput of a CPU-heavy strategy with 1 and with 2 strategy workers, on the local broker, in one run.

Each configuration runs on a fresh namespace that is deleted afterwards:

1. the data service replays ``--symbols`` x ``--bars`` synthetic bars with no strategy worker running, so every
   bar waits in the 16 market partitions (and the data service keeps them as history for warm-ups);
2. ``--workers`` strategy workers start together, agree on the split of the partitions, and work the backlog off
   with ``BusyStrategy``: a fixed amount of pure-Python work per bar (``--work`` iterations), a signal every
   100th bar of a symbol;
3. throughput is the bars handled per second of wall time while the workers' ``tradebus_events_consumed_total``
   counters (sampled every 0.05 s) rise from 10% to 90% of all bars: start-up and the tail are left out. The
   CPU time of the workers and of the local broker over the same stretch is shown per bar.

A round measures 1 and 2 workers back to back (which goes first alternates); the result is the median of the
per-round ratios. The symbols are chosen one per partition, so two workers own the same number of symbols
(8 partitions each); with symbols spread by the hash alone the split is as even as the hash makes it. Every bar
must be handled, and both runs of a round must publish as many signals, or the run exits 1.

Usage::

    python -m bench.scale_out                 # 3 rounds of 16 symbols x 300 bars; ~3 min
    python -m bench.scale_out --quick         # smoke run: 16 x 100 bars, tiny work, 1 round
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pika

from services.strategy.domain import Strategy, StrategyParams
from shared.contracts import BarClosed
from shared.messaging.topology import Topology, partition_of
from tools.suite.processes import ServiceProcess, free_port, health, process_env

DEFAULT_URL = "amqp://guest:guest@localhost:5672/"
SIGNAL_EVERY = 100


class BusyParams(StrategyParams):
    """How much work ``BusyStrategy`` does per bar."""

    work: int = 50_000


class BusyStrategy(Strategy[BusyParams]):
    """Spend a fixed amount of CPU on every bar (a linear congruential walk), and signal every 100th bar."""

    def __init__(self, params: BusyParams, context) -> None:  # type: ignore[no-untyped-def]
        super().__init__(params, context)
        self.bars = 0
        self.state = 1

    def on_bar(self, bar: BarClosed) -> None:
        self.state = busy(self.state, self.params.work)
        self.bars += 1
        if self.bars % SIGNAL_EVERY == 0:
            self.long() if self.bars % (2 * SIGNAL_EVERY) else self.exit()


def busy(state: int, work: int) -> int:
    """Return ``state`` after ``work`` steps of a linear congruential generator: work that cannot be skipped."""
    for _ in range(work):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
    return state


def one_symbol_per_partition(partitions: int) -> list[str]:
    found: dict[int, str] = {}
    index = 0
    while len(found) < partitions:
        found.setdefault(partition_of(f"B{index:03d}", partitions), f"B{index:03d}")
        index += 1
    return [found[p] for p in range(partitions)]


@dataclass
class Run:
    workers: int
    bars: int
    seconds: float
    signals: int
    worker_cpu_ms: float
    broker_cpu_ms: float

    @property
    def rate(self) -> float:
        return 0.8 * self.bars / self.seconds


class Cluster:
    """A data service and strategy workers as processes on one fresh namespace."""

    def __init__(self, url: str, symbols: list[str], bars: int, work: int, logs: Path) -> None:
        self.url = url
        self.topology = Topology(f"bench-scale-{uuid.uuid4().hex[:8]}")
        self.symbols, self.bars, self.work, self.logs = symbols, bars, work, logs
        self.processes: list[ServiceProcess] = []

    def env(self, service: str, port: int, extra: dict[str, str]) -> dict[str, str]:
        return process_env(self.url, self.topology.namespace, service, port, extra)

    async def spawn(self, service: str, extra: dict[str, str]) -> ServiceProcess:
        port = free_port()
        process = ServiceProcess(f"{service}-{len(self.processes)}", f"services.{service}", port,
                                 self.env(service, port, extra))
        log = (self.logs / f"{self.topology.namespace}-{process.name}.log").open("ab")
        process.process = await asyncio.create_subprocess_exec(sys.executable, "-m", process.module, env=process.env,
                                                               stdout=log, stderr=asyncio.subprocess.STDOUT)
        log.close()
        self.processes.append(process)
        return process

    async def replay(self) -> None:
        data = await self.spawn("data", {"SYNTHETIC_SYMBOLS": json.dumps(self.symbols),
                                         "SYNTHETIC_BARS": str(self.bars),
                                         "STATE_DIR": str(self.logs / f"{self.topology.namespace}-data")})
        await until(lambda: (health(data) or {}).get("replay_done"), 120)

    async def run_workers(self, count: int) -> Run:
        strategies = json.dumps([{"id": "busy", "name": "bench.scale_out:BusyStrategy",
                                  "params": {"work": str(self.work)}}])
        workers = [await self.spawn("strategy", {"STRATEGIES": strategies}) for _ in range(count)]
        total = len(self.symbols) * self.bars
        samples: list[tuple[float, int]] = []
        cpu: list[tuple[int, float, float]] = []  # (bars handled, CPU of the workers, CPU of the broker)
        deadline = time.monotonic() + 600
        pids, broker = [w.process.pid for w in workers], broker_pid()  # type: ignore[union-attr]
        while not samples or samples[-1][1] < total:
            exited = any(w.process.returncode is not None for w in workers)  # type: ignore[union-attr]
            if exited or time.monotonic() > deadline:
                raise SystemExit(f"the workers did not handle {total} bars; see {self.logs}")
            samples.append((time.monotonic(), sum(consumed_bars(w) for w in workers)))
            cpu.append((samples[-1][1], sum(map(cpu_seconds, pids)), cpu_seconds(broker)))
            await asyncio.sleep(0.05)
        first = next(c for c in cpu if c[0] >= 0.1 * total)
        last = next(c for c in cpu if c[0] >= 0.9 * total)
        bars = max(last[0] - first[0], 1)
        return Run(count, total, span(samples, 0.1 * total, 0.9 * total), self.signals(),
                   1000 * (last[1] - first[1]) / bars, 1000 * (last[2] - first[2]) / bars)

    def signals(self) -> int:
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            queue = self.topology.queue("execution", "signals").name
            return connection.channel().queue_declare(queue, passive=True).method.message_count
        finally:
            connection.close()

    async def stop(self) -> None:
        alive = [p.process for p in self.processes if p.process and p.process.returncode is None]
        for process in alive:
            process.send_signal(signal.SIGTERM)
        await asyncio.gather(*(p.wait() for p in alive))
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            channel = connection.channel()
            for spec in self.topology.suite_queues():
                for name in (spec.name, spec.dlq):
                    channel.queue_delete(name)
            for exchange in (*self.topology.topic_exchanges(), self.topology.partitioned_market_exchange,
                             self.topology.dead_letter_exchange):
                channel.exchange_delete(exchange)
        finally:
            connection.close()


def consumed_bars(worker: ServiceProcess) -> int:
    """Return the bars a worker acknowledged, from its Prometheus counter (0 while it does not answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return 0
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
               if line.startswith("tradebus_events_consumed_total{")
               and 'type="BarClosed"' in line and 'outcome="ack"' in line)


def cpu_seconds(pid: int | None) -> float:
    """Return the CPU time (user + system) process ``pid`` used so far; 0 when unknown (not Linux, gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def broker_pid() -> int | None:
    """Return the pid of a local RabbitMQ node (its Erlang VM), if one runs on this machine."""
    for stat in Path("/proc").glob("[0-9]*/comm"):
        try:
            if stat.read_text().strip() == "beam.smp":
                return int(stat.parent.name)
        except OSError:
            continue
    return None


def span(samples: list[tuple[float, int]], low: float, high: float) -> float:
    """Return the seconds between the first samples at or above ``low`` and ``high`` (interpolated)."""
    def crossing(level: float) -> float:
        for (t0, n0), (t1, n1) in zip(samples, samples[1:]):
            if n0 < level <= n1:
                return t0 + (t1 - t0) * (level - n0) / (n1 - n0)
        return samples[0][0]
    return crossing(high) - crossing(low)


async def until(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the data replay")
        await asyncio.sleep(0.1)


async def measure(url: str, workers: int, bars: int, work: int, logs: Path) -> Run:
    cluster = Cluster(url, one_symbol_per_partition(Topology().partitions), bars, work, logs)
    try:
        await cluster.replay()
        return await cluster.run_workers(workers)
    finally:
        await cluster.stop()


def per_bar_ms(work: int) -> float:
    started = time.perf_counter()
    busy(1, work * 20)
    return (time.perf_counter() - started) / 20 * 1000


async def main(args: argparse.Namespace) -> int:
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    print(f"{len(one_symbol_per_partition(16))} symbols x {args.bars} bars; BusyStrategy work={args.work} "
          f"(~{per_bar_ms(args.work):.2f} ms of CPU per bar here); {os.cpu_count()} CPUs; {args.rounds} rounds",
          flush=True)
    rates: dict[int, list[float]] = {1: [], 2: []}
    ratios, failed = [], False
    for round_ in range(1, args.rounds + 1):
        runs = {}
        for workers in ((1, 2) if round_ % 2 else (2, 1)):  # alternate which goes first
            run = runs[workers] = await measure(args.url, workers, args.bars, args.work, logs)
            rates[workers].append(run.rate)
            print(f"round {round_}, {workers} worker{'s' if workers > 1 else ' '}: {run.rate:7.1f} bars/s "
                  f"({0.8 * run.bars:.0f} bars in {run.seconds:.2f} s; {run.signals} signals; CPU per bar: "
                  f"workers {run.worker_cpu_ms:.2f} ms, broker {run.broker_cpu_ms:.2f} ms)", flush=True)
        ratios.append(runs[2].rate / runs[1].rate)
        if runs[1].signals != runs[2].signals:
            print(f"signals differ: {runs[1].signals} with one worker, {runs[2].signals} with two")
            failed = True
    print(f"median bars/s: 1 worker {statistics.median(rates[1]):.1f}, 2 workers {statistics.median(rates[2]):.1f}; "
          f"per-round ratios {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"ratio 2 workers / 1 worker: {statistics.median(ratios):.2f}x (goal >= 1.6x)")
    return 1 if failed else 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("AMQP_URL", DEFAULT_URL))
    parser.add_argument("--bars", type=int, default=300, help="bars per symbol (16 symbols)")
    parser.add_argument("--work", type=int, default=50_000, help="iterations of BusyStrategy's loop per bar")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of one measurement per worker count")
    parser.add_argument("--logs", default="var/bench-scale-out", help="folder for the processes' logs")
    parser.add_argument("--quick", action="store_true", help="smoke run: 100 bars, little work, one round")
    args = parser.parse_args(argv)
    if args.quick:
        args.bars, args.work, args.rounds = 100, 2_000, 1
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
