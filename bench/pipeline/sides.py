"""The two sides of ``bench.pipeline``: the tradebus suite and the raw aio-pika processes, run over one feed."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pika

from services.data.adapters.replay import PUBLISH_WINDOW
from shared.messaging.topology import Topology
from tools.suite.processes import ServiceProcess, SuiteOptions, run_suite
from tools.suite.progress import settled
from tools.suite.run import reset

from . import raw as raw_roles
from .probe import (
    Observer,
    Progress,
    broker_pid,
    consumed,
    cpu_snapshot,
    cpu_used,
    mean_seconds,
    published,
    scrape,
)

LOCAL_BROKER = "amqp://guest:guest@localhost:5672/"
ROLES = ("data", "strategy", "execution", "portfolio")
HANDLER, CONFIRM = "tradebus_handler_duration_seconds", "tradebus_publish_confirm_seconds"
TIMINGS = (  # (service, histogram, message type): the mean times a tradebus run reports
    ("strategy", HANDLER, "BarClosed"), ("execution", HANDLER, "SignalGenerated"), ("execution", HANDLER, "BarClosed"),
    ("portfolio", HANDLER, "BarClosed"), ("portfolio", HANDLER, "OrderFilled"), ("data", CONFIRM, ""),
    ("strategy", CONFIRM, ""), ("execution", CONFIRM, ""))


class BenchFailed(Exception):
    """Raised when a side lost or left behind a message, missed the expected result, or a process failed."""


@dataclass(frozen=True)
class Config:
    """What one run measures."""

    url: str = LOCAL_BROKER
    symbols: int = 8
    bars: int = 3000
    latency_bars: int = 190
    latency_rate: float = 50.0
    rounds: int = 2
    throughput_sma: tuple[int, int] = (10, 30)  # sma_cross (fast, slow): ``tradebus up``'s default
    latency_sma: tuple[int, int] = (2, 3)  # a signal every few bars
    prefetch: int = 64  # the services' default (``ServiceSettings.prefetch``)
    seed: int = 11
    sample_interval: float = 0.25
    timeout: float = 300.0


@dataclass(frozen=True)
class Feed:
    """The CSV files a phase replays and what the backtester makes of them."""

    paths: tuple[Path, ...]
    symbols: tuple[str, ...]
    timeframe: str
    sma: tuple[int, int]
    bars: int
    fills: int
    equity: Decimal

    @property
    def params(self) -> dict[str, str]:
        """Return the ``sma_cross`` parameters the feed is traded with."""
        return {"fast": str(self.sma[0]), "slow": str(self.sma[1])}


@dataclass
class Run:
    """One side's figures in one phase: bars/s and CPU seconds per role, the orders' latencies in seconds."""

    side: str
    bars: int
    rates: dict[str, float]
    cpu: dict[str, float]
    latencies: list[float] = field(default_factory=list)
    orders: int = 0
    duplicates: int = 0
    """Acceptances published more than once for one order."""
    timings: dict[str, float] = field(default_factory=dict)
    """Mean handler and confirm times in ms, by ``"<service> <message type or confirm>"`` (tradebus only)."""

    def cpu_us_per_bar(self, role: str) -> float:
        return self.cpu.get(role, float("nan")) / self.bars * 1e6 if self.bars else float("nan")


# -- tradebus --------------------------------------------------------------------------------------------------
async def run_tradebus(config: Config, feed: Feed, speed: float, observe: bool) -> Run:
    """Run ``tradebus up``'s four processes over ``feed`` at ``speed`` (0 = as fast as possible)."""
    topology = Topology(f"benchtb{uuid.uuid4().hex[:8]}")
    observer = Observer()
    log: deque[str] = deque(maxlen=60)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as state:
        options = SuiteOptions(amqp_url=config.url, namespace=topology.namespace, state_dir=Path(state) / "state",
                               data=feed.paths, symbols=feed.symbols, timeframe=feed.timeframe, speed=speed,
                               params=feed.params)

        async def until(processes: list[ServiceProcess]) -> None:
            runs.append(await watch_suite(processes, options, topology, config, feed, observer, observe))

        try:
            # bound before the data service starts: no bar goes unseen
            await observer.start(config.url, topology.exchange("market"), topology.exchange("order"), bars=observe)
            code = await run_suite(options, until=until, out=log.append)
        except BenchFailed as error:
            raise BenchFailed(f"tradebus: {error}\n" + "\n".join(log)) from None
        finally:
            await observer.close()
            await asyncio.to_thread(reset, options)
    if code != 0 or not runs:
        raise BenchFailed(f"tradebus: the suite stopped (exit {code})\n" + "\n".join(log))
    return runs[0]


def counts(service: ServiceProcess, role: str) -> float:
    """Return the bars ``service`` handled so far (published, for the data service); 0 while it does not answer."""
    try:
        counters = scrape(service.port)
    except OSError:
        return 0.0
    return published(counters, "BarClosed") if role == "data" else consumed(counters, "BarClosed")


async def watch_suite(processes: list[ServiceProcess], options: SuiteOptions, topology: Topology, config: Config,
                      feed: Feed, observer: Observer, observe: bool) -> Run:
    """Sample the services until every bar went through, check the outcome, and return the figures."""
    service = {p.name: p for p in processes}
    # scrapes cost the services (and this process) a little time: rarer while latencies are measured
    interval = 4 * config.sample_interval if observe else config.sample_interval
    progress, cpu = await sample_progress(service, feed.bars, interval, config.timeout)
    if restarted := [p.name for p in processes if p.restarts]:
        raise BenchFailed(f"services restarted during the run: {restarted}")
    await check_outcome(processes, options, topology, feed)
    counters = dict(zip(ROLES, await asyncio.gather(*(asyncio.to_thread(scrape, service[r].port) for r in ROLES))))
    orders = int(published(counters["strategy"], "SignalGenerated") - published(counters["execution"], "OrderRejected"))
    announced = int(published(counters["execution"], "OrderAccepted"))
    latencies = await observed_latencies(observer, orders, announced, observe)
    timings = {f"{name} {kind or 'confirm'}": mean_seconds(counters[name], histogram, kind) * 1000
               for name, histogram, kind in TIMINGS}
    return Run("tradebus", feed.bars, {role: progress[role].rate(feed.bars) for role in ROLES}, cpu, latencies,
               orders, announced - orders, timings)


async def sample_progress(service: dict[str, ServiceProcess], bars: int, interval: float,
                          timeout: float) -> tuple[dict[str, Progress], dict[str, float]]:
    """Sample each service's bar counter until all reached ``bars``; return them and the CPU used meanwhile.

    CPU time counts from the first sample with a bar published, so the processes' start-up is left out.
    """
    pids = {role: service[role].process.pid for role in ROLES} | {"broker": broker_pid()}  # type: ignore[union-attr]
    progress = {role: Progress() for role in ROLES}
    before: dict[str, float] | None = None
    deadline = time.monotonic() + timeout
    while before is None or not all(progress[role].reached(bars) for role in ROLES):
        if time.monotonic() > deadline:
            raise BenchFailed(f"bars handled after {timeout:g} s: "
                              f"{ {r: progress[r].samples[-1][1] for r in ROLES} } of {bars}")
        await asyncio.sleep(interval)
        sampled = await asyncio.gather(*(asyncio.to_thread(counts, service[role], role) for role in ROLES))
        now = time.perf_counter()
        for role, count in zip(ROLES, sampled):
            progress[role].add(now, count)
        if before is None and progress["data"].samples[-1][1] > 0:
            before = cpu_snapshot(pids)
    return progress, cpu_used(before, cpu_snapshot(pids))


async def check_outcome(processes: list[ServiceProcess], options: SuiteOptions, topology: Topology,
                        feed: Feed) -> None:
    """Raise ``BenchFailed`` unless the queues drained, nothing was dead-lettered, and the account is the backtest's."""
    try:
        reports = await asyncio.wait_for(settled(processes, options.amqp_url, topology), 120)
    except TimeoutError:
        raise BenchFailed("the queues did not drain within 120 s of the last bar") from None
    portfolio = reports["portfolio"] or {}
    if (portfolio.get("fills"), Decimal(portfolio.get("equity", "NaN"))) != (feed.fills, feed.equity):
        raise BenchFailed(f"portfolio ended with {portfolio.get('fills')} fills and equity {portfolio.get('equity')}; "
                          f"the backtest of the same bars: {feed.fills} fills, equity {feed.equity}")
    if letters := await asyncio.to_thread(dead_letters, options.amqp_url, topology):
        raise BenchFailed(f"dead letters: {letters}")


def dead_letters(url: str, topology: Topology) -> dict[str, int]:
    """Return the dead-letter queues of the suite that hold messages."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        depths = {spec.dlq: channel.queue_declare(spec.dlq, passive=True).method.message_count
                  for spec in topology.suite_queues() if spec.mode in ("shared", "single_active")}
    finally:
        connection.close()
    return {name: depth for name, depth in depths.items() if depth}


async def observed_latencies(observer: Observer, orders: int, announced: int, measure: bool,
                             timeout: float = 30.0) -> list[float]:
    """Wait until the observer saw the ``announced`` acceptances of ``orders`` orders; return their latencies.

    Return ``[]`` unless ``measure``: the observer then had no queue of bars.
    """
    deadline = time.monotonic() + timeout
    while observer.arrivals < announced and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if (len(observer.accepted), observer.arrivals) != (orders, announced):
        raise BenchFailed(f"{len(observer.accepted)} orders accepted of {orders} signalled and not rejected "
                          f"({observer.arrivals} acceptances observed of {announced} published)")
    if not measure:
        return []
    latencies, unmatched = observer.latencies()
    if unmatched:
        raise BenchFailed(f"{unmatched} acceptances name no bar seen")
    return latencies


# -- raw aio-pika ----------------------------------------------------------------------------------------------
class RawProcesses:
    """The raw roles as child processes, and what they print: ``READY``, ``START``, ``REPORT {json}``."""

    def __init__(self) -> None:
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.ready: set[str] = set()
        self.started = False
        self.reports: dict[str, dict[str, Any]] = {}
        self.log: deque[str] = deque(maxlen=40)
        self._news = asyncio.Event()
        self._pumps: list[asyncio.Task[None]] = []

    async def spawn(self, role: str, *args: str) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.pipeline.raw", role, *args, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        self.processes[role] = process
        self._pumps.append(asyncio.create_task(self._pump(role, process)))

    async def _pump(self, role: str, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for raw_line in process.stdout:
            line = raw_line.decode(errors="replace").rstrip()
            if line == "READY":
                self.ready.add(role)
            elif line == "START":
                self.started = True
            elif line.startswith("REPORT "):
                self.reports[role] = json.loads(line.removeprefix("REPORT "))
            else:
                self.log.append(f"{role} | {line}")
            self._news.set()
        if await process.wait() != 0:
            self.log.append(f"{role} | exited with {process.returncode}")
        self._news.set()

    def failure(self) -> str | None:
        """Return what went wrong if a role exited (every role runs until it is stopped)."""
        for role, process in self.processes.items():
            if process.returncode is not None:
                return f"raw {role} exited with {process.returncode}:\n" + "\n".join(self.log)
        return None

    async def wait_for(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        """Wait until ``done()``; raise ``BenchFailed`` if a role fails first or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not done():
            if (failure := self.failure()) is not None:
                raise BenchFailed(failure)
            if (remaining := deadline - time.monotonic()) <= 0:
                raise BenchFailed(f"raw: no {what} within {timeout:g} s; reports {self.reports}\n"
                                  + "\n".join(self.log))
            self._news.clear()
            try:
                await asyncio.wait_for(self._news.wait(), min(remaining, 0.5))
            except TimeoutError:
                pass

    async def stop(self) -> None:
        for process in self.processes.values():
            if process.returncode is None:
                process.terminate()
        await asyncio.gather(*(p.wait() for p in self.processes.values()))
        await asyncio.gather(*self._pumps, return_exceptions=True)


async def run_raw(config: Config, feed: Feed, speed: float, observe: bool) -> Run:
    """Run the raw pipeline over ``feed`` at ``speed`` (0 = as fast as possible) and return its figures."""
    namespace = f"benchraw{uuid.uuid4().hex[:8]}"
    exchanges, _ = raw_roles.names(namespace, list(feed.symbols))
    observer, raw = Observer(), RawProcesses()
    common = ("--url", config.url, "--namespace", namespace, "--prefetch", str(config.prefetch),
              "--symbols", *feed.symbols)
    await raw_roles.declare(config.url, namespace, list(feed.symbols))
    try:
        await observer.start(config.url, exchanges["market"], exchanges["order"], bars=observe)
        for role in ROLES[1:]:
            await raw.spawn(role, *common, "--bars", str(feed.bars), "--fast", str(feed.sma[0]),
                            "--slow", str(feed.sma[1]))
        await raw.wait_for(lambda: raw.ready == set(ROLES[1:]), 60, "consumers ready")
        await raw.spawn("data", *common, "--csv", *map(str, feed.paths), "--timeframe", feed.timeframe,
                        "--speed", str(speed), "--window", str(PUBLISH_WINDOW))
        await raw.wait_for(lambda: raw.started, 60, "data start")
        pids = {role: p.pid for role, p in raw.processes.items()} | {"broker": broker_pid()}
        before = cpu_snapshot(pids)
        await raw.wait_for(lambda: set(raw.reports) == set(ROLES), config.timeout, "report of every role")
        after = cpu_snapshot(pids)
        signals = raw.reports["strategy"]["signals"]
        await raw.wait_for(lambda: len(observer.accepted) >= signals, 30, f"{signals} acceptances observed")
    finally:
        await raw.stop()
        await observer.close()
        left = await raw_roles.delete(config.url, namespace, list(feed.symbols))
    if any(left.values()):
        raise BenchFailed(f"raw: messages left in queues: {left}; reports {raw.reports}\n" + "\n".join(raw.log))
    return raw_run(raw.reports, feed, cpu_used(before, after), observer, signals, observe)


def raw_run(reports: dict[str, dict[str, Any]], feed: Feed, cpu: dict[str, float], observer: Observer,
            signals: int, measure: bool) -> Run:
    """Return the raw side's figures from its reports; raise ``BenchFailed`` if a bar or an acceptance is missing."""
    rates = {}
    for role, report in reports.items():
        if report["bars"] != feed.bars:
            raise BenchFailed(f"raw {role} handled {report['bars']} of {feed.bars} bars")
        intervals = report["bars"] - (role != "data")  # a consumer's span starts at its first bar
        rates[role] = intervals / max(report["last"] - report["first"], 1e-9)
    if len(observer.accepted) != signals:
        raise BenchFailed(f"raw: {len(observer.accepted)} acceptances observed, {signals} signals sent")
    latencies, unmatched = observer.latencies() if measure else ([], 0)
    if unmatched:
        raise BenchFailed(f"raw: {unmatched} acceptances name no bar seen")
    return Run("raw", feed.bars, rates, cpu, latencies, signals)
