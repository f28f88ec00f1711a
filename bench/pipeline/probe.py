"""What ``bench.pipeline`` observes from outside the processes it measures: arrivals, counters, CPU time.

- ``Observer``: two classic, transient, auto-ack queues of the bench's own, bound beside the pipeline's queues,
  one to every bar and one to every order acceptance. A classic transient queue has no disk or Raft commit, so
  a message reaches it as soon as the broker routed it: the receipt of a bar is (to the broker's routing time)
  its publication, and the receipt of an acceptance is the acceptance's publication. Both are stamped with this
  process's clock, so no clocks of different processes are compared.
- ``Counter samples``: the services' Prometheus counters read over time, and the sustained rate between them.
- ``cpu_seconds``: user + system CPU time of processes (the services, the broker) from ``/proc``.
"""

from __future__ import annotations

import os
import re
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection, ExchangeType

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class Observer:
    """Stamp when each bar (by ``message_id``) and each acceptance (by ``correlation_id``) reach the bench.

    ``accepted`` holds one entry per chain (the first acceptance of it), ``arrivals`` counts every acceptance.
    """

    def __init__(self) -> None:
        self.bars: dict[str, float] = {}
        self.accepted: dict[str, float] = {}
        self.arrivals = 0
        self._connection: AbstractRobustConnection | None = None

    async def start(self, url: str, market_exchange: str, order_exchange: str, *, bars: bool = True) -> None:
        """Bind the queues (declaring the exchanges as the pipeline does, idempotently) and consume.

        ``bars=False`` leaves out the queue of bars: the acceptances are counted, the latencies not measured.
        """
        self._connection = await aio_pika.connect_robust(url, client_properties={"connection_name": "bench-observer"})
        channel = await self._connection.channel(publisher_confirms=False)
        bindings = [(order_exchange, "order.accepted.*", self.accepted)]
        if bars:
            bindings.append((market_exchange, "market.bar.*", self.bars))
        for exchange, pattern, stamps in bindings:
            await channel.declare_exchange(exchange, ExchangeType.TOPIC, durable=True)
            queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
            await queue.bind(exchange, routing_key=pattern)
            await queue.consume(self._stamper(stamps, by_correlation=stamps is self.accepted), no_ack=True)

    def _stamper(self, stamps: dict[str, float], *, by_correlation: bool):  # type: ignore[no-untyped-def]
        async def stamp(incoming: AbstractIncomingMessage) -> None:
            received = time.perf_counter()
            if by_correlation:
                self.arrivals += 1
            # the first arrival counts: a chain announced twice is timed by its first announcement
            stamps.setdefault((incoming.correlation_id if by_correlation else incoming.message_id) or "", received)
        return stamp

    def latencies(self) -> tuple[list[float], int]:
        """Return the bar-to-acceptance latencies (seconds) and how many acceptances name no bar seen."""
        matched = [at - self.bars[chain] for chain, at in self.accepted.items() if chain in self.bars]
        return matched, len(self.accepted) - len(matched)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


SAMPLES = ("tradebus_events_consumed_total{", "tradebus_events_published_total{",
           "tradebus_handler_duration_seconds_sum{", "tradebus_handler_duration_seconds_count{",
           "tradebus_publish_confirm_seconds_sum{", "tradebus_publish_confirm_seconds_count{")
LABEL = re.compile(r'(\w+)="([^"]*)"')


def scrape(port: int) -> dict[tuple[str, str, str], float]:
    """Return a service's message counters and timing sums: (sample name, type, outcome) -> value.

    Only the few samples the bench reads are parsed (a full parse would hold this process's GIL for
    milliseconds while the observer stamps arrivals). Labels a sample lacks are "".
    """
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    counters = {}
    for line in text.splitlines():
        if line.startswith(SAMPLES):
            name, rest = line.split("{", 1)
            labels_text, value = rest.rsplit("} ", 1)
            labels = dict(LABEL.findall(labels_text))
            counters[name, labels.get("type", ""), labels.get("outcome", "")] = float(value)
    return counters


def mean_seconds(counters: dict[tuple[str, str, str], float], histogram: str, type_name: str = "") -> float:
    """Return the mean of a histogram (of one message type), or NaN when it has no observation."""
    count = counters.get((f"{histogram}_count", type_name, ""), 0.0)
    return counters.get((f"{histogram}_sum", type_name, ""), 0.0) / count if count else float("nan")


def consumed(counters: dict[tuple[str, str, str], float], type_name: str, outcome: str = "ack") -> float:
    """Return the messages of ``type_name`` consumed with ``outcome`` (handled and acked by default)."""
    return counters.get(("tradebus_events_consumed_total", type_name, outcome), 0.0)


def published(counters: dict[tuple[str, str, str], float], type_name: str) -> float:
    """Return the messages of ``type_name`` published and confirmed."""
    return counters.get(("tradebus_events_published_total", type_name, ""), 0.0)


@dataclass
class Progress:
    """A counter sampled over time: (seconds, count) pairs."""

    samples: list[tuple[float, float]] = field(default_factory=list)

    def add(self, at: float, count: float) -> None:
        self.samples.append((at, count))

    def reached(self, total: int) -> bool:
        return bool(self.samples) and self.samples[-1][1] >= total

    def rate(self, total: int) -> float:
        """Return the sustained rate: the count gained between the first and last samples strictly inside (0, total).

        Sampling errors at both ends are thereby left out; with fewer than two such samples, fall back to the
        first non-zero sample and the first that reached ``total``.
        """
        inside = [(t, c) for t, c in self.samples if 0 < c < total]
        if len(inside) >= 2 and inside[-1][0] > inside[0][0]:
            (t0, c0), (t1, c1) = inside[0], inside[-1]
            return (c1 - c0) / (t1 - t0)
        started = next((t, c) for t, c in self.samples if c > 0)
        finished = next(t for t, c in self.samples if c >= total)
        return (total - started[1]) / max(finished - started[0], 1e-9)


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU seconds process ``pid`` has used (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def broker_pid() -> int | None:
    """Return the pid of the local RabbitMQ node (``beam.smp``), or ``None`` if it runs elsewhere."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "beam.smp":
                    return int(entry.name)
            except OSError:
                continue
    return None


def cpu_snapshot(pids: dict[str, int | None]) -> dict[str, float]:
    """Return the CPU seconds so far of each named process (those without a pid left out)."""
    return {name: cpu_seconds(pid) for name, pid in pids.items() if pid is not None}


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Return the CPU seconds each process used between two snapshots."""
    return {name: after[name] - before.get(name, 0.0) for name in after}


def percentile(values: Iterable[float], fraction: float) -> float:
    """Return the ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")
