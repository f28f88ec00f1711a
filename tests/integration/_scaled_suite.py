"""A data service and strategy workers as processes on the real broker, and a collector of their signals.

Used by ``test_scale_out.py``: start workers, replay synthetic bars, kill or add workers mid-stream, stop, and read
every signal the workers published, in the order the broker received them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import aio_pika
import pika

from services.data.bootstrap import build_feed
from services.data.settings import DataSettings
from services.strategy.domain import StrategyEngine, prepare_strategy
from shared.contracts import BarClosed
from shared.messaging.amqp import AmqpBus
from shared.messaging.topology import Topology, partition_of
from tools.suite.processes import ServiceProcess, free_port, health, process_env

STRATEGY_ID = "sma"
PARAMS = {"fast": "3", "slow": "8"}
SEED = 11
TIMEOUT = 90.0


@dataclass(frozen=True, order=True)
class SignalSeen:
    """One signal as the collector saw it: enough to compare runs, plus which worker sent it."""

    symbol: str
    ts_event: datetime
    direction: str
    message_id: UUID = field(compare=False)
    source: str = field(compare=False, default="")


def data_settings(symbols: Sequence[str], bars: int) -> DataSettings:
    """Return the settings of the data service the suite runs (the replay's bars and ids follow from them)."""
    return DataSettings.isolated(synthetic_symbols=tuple(symbols), synthetic_bars=bars, seed=SEED)


def expected_signals(symbols: Sequence[str], bars: int) -> list[SignalSeen]:
    """Return the signals one strategy engine emits on the data service's synthetic bars, in bar order.

    The ids are those ``publish_signals`` gives them, derived from each bar's deterministic id.
    """
    feed = build_feed(data_settings(symbols, bars))
    engine = StrategyEngine([prepare_strategy(STRATEGY_ID, "sma_cross", PARAMS, ())])
    seen = []
    for bar in feed.iter_messages():
        assert isinstance(bar, BarClosed)
        for index, intent in enumerate(engine.on_bar(bar)):
            seen.append(SignalSeen(bar.symbol, bar.ts_event, intent.direction.value,
                                   uuid5(bar.message_id, f"{intent.strategy_id}/{index}")))
    return seen


def probe_symbols(partitions: int) -> list[str]:
    """Return one symbol per partition, in partition order, none of them a replayed symbol."""
    found: dict[int, str] = {}
    index = 0
    while len(found) < partitions:
        found.setdefault(partition_of(f"PROBE{index}", partitions), f"PROBE{index}")
        index += 1
    return [found[p] for p in range(partitions)]


def per_symbol(signals: Iterable[SignalSeen]) -> dict[str, list[tuple[datetime, str]]]:
    """Return each symbol's (ts_event, direction) sequence, duplicates (same message id) after the first dropped."""
    sequences: dict[str, list[tuple[datetime, str]]] = {}
    ids: set[UUID] = set()
    for s in signals:
        if s.message_id not in ids:
            ids.add(s.message_id)
            sequences.setdefault(s.symbol, []).append((s.ts_event, s.direction))
    return sequences


class SignalCollector:
    """Receive every ``SignalGenerated`` of a namespace on a queue of our own, in the broker's order.

    It also sees the history requests, which tell when a worker reached the first event of a symbol.
    """

    END = "end-of-signals"

    def __init__(self, url: str, topology: Topology) -> None:
        self.url = url
        self.topology = topology
        self.queue_name = f"{topology.namespace}.test.signals"
        self.signals: list[SignalSeen] = []
        self.ids: set[UUID] = set()
        self.requested: set[str] = set()
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._ended = asyncio.Event()

    async def start(self) -> None:
        """Declare the collecting queue (bound before any worker publishes) and consume it."""
        self.connection = await aio_pika.connect(self.url)
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=500)
        exchange = await channel.declare_exchange(self.topology.exchange("signal"), "topic", durable=True)
        queue = await channel.declare_queue(self.queue_name, exclusive=True)
        await queue.bind(exchange, "signal.generated.*")
        commands = await channel.declare_exchange(self.topology.exchange("command"), "topic", durable=True)
        await queue.bind(commands, "command.request_history.*")
        await queue.consume(self._receive, no_ack=True)
        self.channel = channel

    async def _receive(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        if message.type == self.END:
            self._ended.set()
            return
        body = json.loads(message.body)
        if message.type == "RequestBarHistory":
            self.requested.add(body["symbol"])
            self._wake()
            return
        seen = SignalSeen(body["symbol"], datetime.fromisoformat(body["ts_event"]), body["direction"],
                          UUID(body["message_id"]), body["source"])
        self.signals.append(seen)
        self.ids.add(seen.message_id)
        self._wake()

    def _wake(self) -> None:
        for condition, future in self._waiters:
            if not future.done() and condition():
                future.set_result(None)

    async def until(self, condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        """Wait until ``condition()`` holds, checked on every signal received."""
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((condition, future))
        self._wake()
        await asyncio.wait_for(future, timeout)

    async def finish(self) -> list[SignalSeen]:
        """Return every signal received, once all published before this call arrived (an end marker behind them)."""
        await self.channel.default_exchange.publish(aio_pika.Message(b"{}", type=self.END), self.queue_name)
        await asyncio.wait_for(self._ended.wait(), TIMEOUT)
        await self.close()
        return list(self.signals)

    async def close(self) -> None:
        """Disconnect (the collecting queue is exclusive: the broker deletes it)."""
        if not self.connection.is_closed:
            await self.connection.close()


class ScaledSuite:
    """A data service replaying synthetic bars and any number of strategy workers, as processes."""

    def __init__(self, url: str, topology: Topology, symbols: Sequence[str], bars: int, logs: Path) -> None:
        self.url = url
        self.topology = topology
        self.symbols = tuple(symbols)
        self.bars = bars
        self.logs = logs
        self.workers: list[ServiceProcess] = []
        self.data: ServiceProcess | None = None
        self._files: list[Any] = []

    def _env(self, service: str, port: int, extra: dict[str, str]) -> dict[str, str]:
        return process_env(self.url, self.topology.namespace, service, port, extra)

    async def _spawn(self, service: ServiceProcess) -> None:
        log = (self.logs / f"{service.name}.log").open("ab")
        self._files.append(log)
        service.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", service.module, env=service.env, stdout=log, stderr=asyncio.subprocess.STDOUT)

    async def add_worker(self, **settings: str) -> ServiceProcess:
        """Start one more strategy worker and wait until it reports ready (it owns its share by then)."""
        port = free_port()
        strategies = json.dumps([{"id": STRATEGY_ID, "name": "sma_cross", "params": PARAMS}])
        worker = ServiceProcess(f"strategy-{len(self.workers) + 1}", "services.strategy", port,
                                self._env("strategy", port, {"STRATEGIES": strategies, **settings}))
        self.workers.append(worker)
        await self._spawn(worker)
        await self.wait_health(worker, lambda report: report.get("status") == "ok")
        return worker

    async def start_data(self) -> None:
        """Start the data service: it replays ``bars`` bars of each symbol as fast as it can."""
        port = free_port()
        self.data = ServiceProcess("data", "services.data", port, self._env("data", port, {
            "STATE_DIR": str(self.logs / "data-state"),
            "SYNTHETIC_SYMBOLS": json.dumps(list(self.symbols)), "SYNTHETIC_BARS": str(self.bars),
            "SEED": str(SEED)}))
        await self._spawn(self.data)

    async def wait_health(self, service: ServiceProcess, condition: Any, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until ``condition(report)`` holds for the service's /health report; return that report."""
        async def poll() -> dict[str, Any]:
            while True:
                assert service.process is not None and service.process.returncode is None, f"{service.name} exited"
                report = await asyncio.to_thread(health, service)
                if report is not None and condition(report):
                    return report
                await asyncio.sleep(0.05)
        return await asyncio.wait_for(poll(), timeout)

    async def ownership(self, workers: Sequence[ServiceProcess] | None = None) -> dict[str, list[int]]:
        """Return each live worker's partitions, from its /health report."""
        reports = {w.name: await asyncio.to_thread(health, w) for w in workers or self.live_workers()}
        return {name: (report or {}).get("partitions", []) for name, report in reports.items()}

    async def settled_ownership(self, workers: Sequence[ServiceProcess], timeout: float = 15.0) -> dict[str, list[int]]:
        """Wait until ``workers`` own every partition between them, each one once; return who owns what."""
        async def poll() -> dict[str, list[int]]:
            while True:
                owned = await self.ownership(workers)
                everything = sorted(p for partitions in owned.values() for p in partitions)
                if everything == list(range(self.topology.partitions)):
                    return owned
                await asyncio.sleep(0.05)
        return await asyncio.wait_for(poll(), timeout)

    def live_workers(self) -> list[ServiceProcess]:
        return [w for w in self.workers if w.process is not None and w.process.returncode is None]

    def kill(self, worker: ServiceProcess) -> None:
        """SIGKILL ``worker``: no goodbye, its unacked deliveries return to the queues when its connection drops."""
        assert worker.process is not None
        worker.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        """SIGTERM every process still running and wait for them (graceful: messages in hand are finished)."""
        running = [s.process for s in (*self.workers, self.data) if s and s.process and s.process.returncode is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), 30)
        finally:
            for process in running:
                if process.returncode is None:
                    process.kill()
            for log in self._files:
                log.close()

    async def drain(self, collector: SignalCollector) -> None:
        """Wait until the workers handled every replayed event.

        Once the replay is over, one probe bar of a new symbol goes to each partition; a worker asks for a probe's
        history when it reaches it, which it does only after every event before it in that partition.
        """
        assert self.data is not None
        await self.wait_health(self.data, lambda report: report.get("replay_done"), TIMEOUT)
        bus = AmqpBus(self.url, topology=self.topology, service="test")
        await bus.start()
        try:
            probes = probe_symbols(self.topology.partitions)
            last = max(bar.ts_event for bar in build_feed(data_settings(self.symbols, self.bars)).iter_messages())
            for symbol in probes:
                await bus.publish(BarClosed(ts_event=last, ts_init=last, source="test", symbol=symbol, timeframe="1m",
                                            open=1, high=1, low=1, close=1, volume=0))
        finally:
            await bus.close()
        await collector.until(lambda: set(probes) <= collector.requested)

    def leftovers(self) -> list[str]:
        """Return the symbols of the events still waiting in the partition queues (taking them off the queues)."""
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            channel = connection.channel()
            symbols = []
            for p in range(self.topology.partitions):
                queue = self.topology.partition_queue(p).name
                waiting = channel.queue_declare(queue, passive=True).method.message_count
                for _, _, body in itertools.islice(channel.consume(queue, auto_ack=True), waiting):
                    symbols.append(json.loads(body)["symbol"])
                channel.cancel()
            return symbols
        finally:
            connection.close()
