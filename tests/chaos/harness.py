"""Run the suite as four processes on a private broker while faults are injected, and compare with a fault-free run.

The reference is the backtester on the same data and settings: the same four services' handlers over the in-memory
bus, with no fault. The chaos run replays the data at a pace that leaves room for the faults, injects each one when
the replay reaches a position drawn from a seeded generator, waits until the suite has settled, stops it, and reads
what the services stored: the portfolio's ledger, the paper broker's orders, every dead-letter queue. ``bench/chaos.py``
runs the long version of the same thing.
"""

from __future__ import annotations

import asyncio
import csv
import random
import signal
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pika

from services.portfolio.adapters import LedgerStore
from services.portfolio.domain import ClosedTrade
from shared.messaging.topology import Topology
from shared.runtime.sqlite import connect
from tools.backtest import BacktestConfig, run_backtest
from tools.suite.processes import ServiceProcess, SuiteOptions, health, run_suite
from tools.suite.progress import settled

from .private_broker import PrivateBroker

KILLS = ("data", "strategy", "execution", "portfolio")
FAULT_KINDS = (*(f"kill:{name}" for name in KILLS), "broker_restart", "close_connections")
STARTING_CASH = Decimal(100000)


@dataclass(frozen=True, order=True)
class Fault:
    """A fault to inject once the replay has published ``at`` (a fraction) of its events."""

    at: float
    kind: str


def plan_faults(seed: int, per_kind: int = 1, kinds: Sequence[str] = FAULT_KINDS, start: float = 0.1,
                end: float = 0.85) -> list[Fault]:
    """Return ``per_kind`` faults of every kind at seeded random positions of the replay, in order."""
    rng = random.Random(seed)
    return sorted(Fault(round(rng.uniform(start, end), 4), kind) for kind in kinds for _ in range(per_kind))


@dataclass(frozen=True)
class Ledger:
    """What the portfolio ended with: the comparison of two runs."""

    cash: Decimal
    positions: dict[str, Decimal]
    fill_ids: frozenset[str]
    closed_trades: tuple[ClosedTrade, ...]
    """Sorted by strategy, symbol and entry time (fills of different symbols may be applied in another order)."""


@dataclass
class ChaosRun:
    """What a chaos run did and left behind."""

    injected: list[tuple[Fault, float]] = field(default_factory=list)
    """Each fault with the replay position it was injected at."""
    ledger: Ledger | None = None
    fills_applied: int = 0
    paper_orders: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    services_up: dict[str, bool] = field(default_factory=dict)
    seconds: float = 0.0


def write_replay_data(folder: Path, sources: dict[str, Path], bars: int, since: str) -> tuple[Path, ...]:
    """Write the first ``bars`` rows on or after ``since`` of each source file (symbol -> CSV) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for symbol, source in sources.items():
        with source.open(newline="") as file:
            rows = list(csv.reader(file))
        header, body = rows[0], [row for row in rows[1:] if row and row[0] >= since][:bars]
        path = folder / f"{symbol.lower()}-chaos.csv"
        with path.open("w", newline="") as file:
            csv.writer(file).writerows([header, *body])
        paths.append(path)
    return tuple(paths)


def pace_for(paths: Sequence[Path], seconds: float) -> float:
    """Return the replay speed that plays the files' time span in about ``seconds``."""
    dates = [datetime.fromisoformat(row[0]) for path in paths for row in list(csv.reader(path.open()))[1:]]
    return (max(dates) - min(dates)).total_seconds() / seconds


async def reference(options: SuiteOptions) -> Ledger:
    """Return what the fault-free run of the same data and settings ends with (the backtester)."""
    result = await run_backtest(BacktestConfig(
        data=options.data, symbols=options.symbols, strategy=options.strategy, params=dict(options.params),
        timeframe=options.timeframe, quantity=options.quantity, commission=options.commission, cash=STARTING_CASH))
    return Ledger(result.cash, {f"{p.strategy_id}/{p.symbol}": p.quantity for p in result.open_positions},
                  result.fill_ids, _sorted(result.trades))


def _sorted(trades: Sequence[ClosedTrade]) -> tuple[ClosedTrade, ...]:
    return tuple(sorted(trades, key=lambda t: (t.strategy_id, t.symbol, t.entry_ts)))


async def run_chaos(broker: PrivateBroker, options: SuiteOptions, faults: Sequence[Fault], total_events: int, *,
                    outage_s: float = 3.0, out: Callable[[str], None] = lambda line: None,
                    timeout: float = 900.0) -> ChaosRun:
    """Run the suite on ``broker`` injecting ``faults``; stop it once it settled and read what it left behind."""
    run = ChaosRun()
    topology = Topology(options.namespace)
    started = time.monotonic()

    async def chaos(processes: list[ServiceProcess]) -> None:
        named = {p.name: p for p in processes}
        for fault in faults:
            position = await _reach(named["data"], fault.at * total_events)
            await _inject(fault, named, broker, outage_s)
            run.injected.append((fault, position / total_events))
            out(f"chaos: {fault.kind} at {position}/{total_events}")
        reports = await settled(processes, broker.url, topology)
        run.services_up = {name: (report or {}).get("status") == "ok" for name, report in reports.items()}

    code = await asyncio.wait_for(run_suite(options, until=chaos, out=out), timeout)
    run.seconds = time.monotonic() - started
    if code != 0:
        raise AssertionError(f"the suite stopped with {code}")
    run.ledger, run.fills_applied = read_ledger(options.state_dir / "portfolio" / "ledger.db")
    run.paper_orders = count_rows(options.state_dir / "execution" / "paper.sqlite", "paper_orders")
    run.dead_letters = dead_letter_depths(broker.url, topology)
    return run


async def _reach(data: ServiceProcess, position: float) -> float:
    """Wait until the data service's replay position reaches ``position`` (it may be restarting meanwhile)."""
    while True:
        report = await asyncio.to_thread(health, data) or {}
        if report.get("position", 0) >= position or report.get("replay_done"):
            return float(report.get("position", position))
        await asyncio.sleep(0.05)


async def _inject(fault: Fault, named: dict[str, ServiceProcess], broker: PrivateBroker, outage_s: float) -> None:
    if fault.kind.startswith("kill:"):
        process = named[fault.kind.removeprefix("kill:")].process
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGKILL)  # the supervisor restarts it: crash-only recovery
    elif fault.kind == "broker_restart":
        await asyncio.to_thread(broker.stop_app)
        await asyncio.sleep(outage_s)
        await asyncio.to_thread(broker.start_app)
    elif fault.kind == "close_connections":
        await asyncio.to_thread(broker.close_all_connections, "chaos")
    else:
        raise ValueError(f"no such fault: {fault.kind}")


def read_ledger(path: Path) -> tuple[Ledger, int]:
    """Return the ledger stored at ``path`` and how many fills its store holds."""
    with LedgerStore(path) as store:
        ledger = store.load(STARTING_CASH)
        with closing(connect(path)) as conn:
            ids = frozenset(row[0] for row in conn.execute("SELECT fill_id FROM fills"))
        return (Ledger(ledger.cash, {f"{p.strategy_id}/{p.symbol}": p.quantity for p in ledger.positions()}, ids,
                       _sorted(ledger.closed_trades)), store.fill_count())


def count_rows(path: Path, table: str) -> int:
    """Return the number of rows of ``table`` in the SQLite file at ``path``."""
    with closing(connect(path)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def dead_letter_depths(url: str, topology: Topology) -> dict[str, int]:
    """Return the depth of every dead-letter queue of the suite that exists."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    depths = {}
    try:
        for dlq in topology.dead_letter_queues():
            channel = connection.channel()
            try:
                depths[dlq.name] = channel.queue_declare(dlq.name, passive=True).method.message_count
            except pika.exceptions.ChannelClosedByBroker:
                continue
    finally:
        connection.close()
    return depths
