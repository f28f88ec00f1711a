"""The raw aio-pika reference of ``bench.pipeline``: the same hops as the suite, with trivial consumers.

Four roles, each its own process (``python -m bench.pipeline.raw <role> ...``), as the suite's services are:

- ``data`` reads the bench's CSV files, paces them like the data service (event time / ``--speed``, 0 = as
  fast as possible) and publishes one JSON bar per row to ``{ns}.market`` (``market.bar.<symbol>``), with at
  most ``--window`` publishes awaiting their confirm at once, as the data service's replay does.
- ``strategy`` consumes the bars from a queue per symbol, keeps an exact SMA(fast)/SMA(slow) cross of the closes
  per symbol (the rules of ``sma_cross``, long only) and publishes a signal on each cross before acking the bar.
- ``execution`` consumes the bars (ack) and the signals, and publishes an ``accepted`` message per signal (its
  ``correlation_id`` is the bar's ``message_id``, as with ``OrderAccepted``) before acking the signal.
- ``portfolio`` consumes the bars (ack).

Every publish is persistent, ``mandatory`` and confirmed; every queue is a durable quorum queue consumed with
manual acks at the suite's prefetch, one message at a time per queue, on one channel per queue. A consumer of
bars prints ``REPORT {json}`` (distinct bars, first and last receipt on the wall clock, signals sent) once it has
seen ``--bars`` of them; ``data`` reports its publish span. Every role runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import heapq
import json
import signal
import sys
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueueIterator,
    ExchangeType,
)

from ..raw_publisher import confirm_channel, publish_json

EXCHANGES = ("market", "signal", "order")


def bindings(symbols: list[str]) -> dict[str, tuple[str, str]]:
    """Return queue purpose -> (exchange family, binding pattern) of a raw namespace trading ``symbols``.

    The strategy has a queue per symbol, as the suite's strategy has market partitions: each symbol's bars stay
    in order and the symbols are handled side by side.
    """
    return {**{f"strategy.bars.{symbol}": ("market", f"market.bar.{symbol}") for symbol in symbols},
            "execution.bars": ("market", "market.bar.*"),
            "portfolio.bars": ("market", "market.bar.*"),
            "execution.signals": ("signal", "signal.generated.*"),
            "journal": ("order", "order.#")}  # the suite's journal keeps OrderAccepted too


def names(namespace: str, symbols: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Return the exchange names by family and the queue names by purpose of a raw namespace."""
    return ({family: f"{namespace}.{family}" for family in EXCHANGES},
            {purpose: f"{namespace}.{purpose}" for purpose in bindings(symbols)})


async def declare(url: str, namespace: str, symbols: list[str]) -> None:
    """Declare the raw namespace: topic exchanges and durable quorum queues."""
    exchanges, queues = names(namespace, symbols)
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        for name in exchanges.values():
            await channel.declare_exchange(name, ExchangeType.TOPIC, durable=True)
        for purpose, (family, pattern) in bindings(symbols).items():
            queue = await channel.declare_queue(queues[purpose], durable=True, arguments={"x-queue-type": "quorum"})
            await queue.bind(exchanges[family], routing_key=pattern)


async def delete(url: str, namespace: str, symbols: list[str]) -> dict[str, int]:
    """Delete the raw namespace; return the messages left in each work queue (the journal aside)."""
    exchanges, queues = names(namespace, symbols)
    left = {}
    async with await aio_pika.connect(url) as connection:
        channel = await connection.channel()
        for purpose, name in queues.items():
            queue = await channel.declare_queue(name, passive=True)
            if purpose != "journal":
                left[name] = queue.declaration_result.message_count
            await channel.queue_delete(name)
        for name in exchanges.values():
            await channel.exchange_delete(name)
    return left


# -- data ------------------------------------------------------------------------------------------------------
def read_bars(paths: list[Path], symbols: list[str], timeframe: str) -> list[tuple[datetime, dict[str, Any]]]:
    """Return every row of the files as (event time, bar dict), merged in time order (ties by file order)."""
    def rows(path: Path, symbol: str) -> Iterator[tuple[datetime, str, dict[str, Any]]]:
        with path.open(newline="") as file:
            for row in csv.DictReader(file):
                ts = datetime.fromisoformat(row["Date"]).replace(tzinfo=timezone.utc)
                yield ts, symbol, {"type": "BarClosed", "schema_version": 1, "ts_event": ts.isoformat(),
                                   "source": "raw", "symbol": symbol, "timeframe": timeframe, "open": row["Open"],
                                   "high": row["High"], "low": row["Low"], "close": row["Close"],
                                   "volume": row["Volume"]}

    merged = heapq.merge(*(rows(p, s) for p, s in zip(paths, symbols)), key=lambda item: item[0])
    return [(ts, bar) for ts, _, bar in merged]


async def publish(exchange: AbstractExchange, routing_key: str, payload: dict[str, Any], message_id: str,
                  correlation_id: str) -> None:
    """Publish ``payload`` as the raw publisher does, its ids and type as message properties."""
    await publish_json(exchange, routing_key, payload, message_id=message_id, correlation_id=correlation_id,
                       type=payload["type"])


async def run_data(args: argparse.Namespace, channel: AbstractChannel, exchanges: dict[str, str]) -> None:
    bars = read_bars(args.csv, args.symbols, args.timeframe)
    market = await channel.get_exchange(exchanges["market"], ensure=False)
    slots = asyncio.Semaphore(args.window)
    unfinished: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []

    def finished(task: asyncio.Task[None]) -> None:
        unfinished.discard(task)
        slots.release()
        if not task.cancelled() and task.exception() is not None:
            failures.append(task.exception())  # type: ignore[arg-type]

    print("START", flush=True)
    started, first_event, first_wall = time.monotonic(), bars[0][0], time.time()
    for ts, bar in bars:
        if args.speed:
            delay = (ts - first_event).total_seconds() / args.speed - (time.monotonic() - started)
            if delay > 0:
                await asyncio.sleep(delay)
        message_id = str(uuid.uuid4())
        payload = {**bar, "message_id": message_id, "correlation_id": message_id,
                   "ts_init": datetime.now(timezone.utc).isoformat()}
        await slots.acquire()
        if failures:
            raise failures[0]
        task = asyncio.create_task(publish(market, f"market.bar.{bar['symbol']}", payload, message_id, message_id))
        unfinished.add(task)
        task.add_done_callback(finished)
    await asyncio.gather(*unfinished)
    report("data", bars=len(bars), first=first_wall, last=time.time())


# -- consumers -------------------------------------------------------------------------------------------------
@dataclass
class BarCount:
    """Distinct bars seen, first and last receipt (wall clock); print the report when ``expected`` arrived."""

    role: str
    expected: int
    seen: set[str] = field(default_factory=set)
    first: float = 0.0
    signals: int = 0
    deliveries: int = 0

    def add(self, message_id: str | None) -> None:
        now = time.time()
        if not self.seen:
            self.first = now
        self.deliveries += 1
        self.seen.add(message_id or "")
        if len(self.seen) == self.expected:
            report(self.role, bars=self.expected, first=self.first, last=now, signals=self.signals,
                   deliveries=self.deliveries)


class Cross:
    """``sma_cross`` long only, exact: a signal when the sign of SMA(fast) - SMA(slow) flips (0 never flips)."""

    def __init__(self, fast: int, slow: int) -> None:
        self.fast, self.slow = fast, slow
        self.closes: deque[Decimal] = deque(maxlen=slow)
        self.last_sign = 0
        self.long = False

    def update(self, close: Decimal) -> str | None:
        self.closes.append(close)
        if len(self.closes) < self.slow:
            return None
        fast_sum = sum(list(self.closes)[-self.fast:], Decimal(0))
        diff = fast_sum * self.slow - sum(self.closes, Decimal(0)) * self.fast
        sign = (diff > 0) - (diff < 0)
        if sign == 0 or sign == self.last_sign:
            return None
        previous, self.last_sign = self.last_sign, sign
        if not previous:
            return None
        if sign > 0:
            self.long = True
            return "LONG"
        if self.long:
            self.long = False
            return "EXIT"
        return None


async def consumer(connection: AbstractConnection, queue_name: str, prefetch: int) -> AbstractQueueIterator:
    """Start consuming ``queue_name`` on a channel of its own with ``prefetch`` unacked deliveries at most."""
    channel = await connection.channel(publisher_confirms=False)
    await channel.set_qos(prefetch_count=prefetch)
    deliveries = (await channel.get_queue(queue_name, ensure=False)).iterator()
    await deliveries.consume()
    return deliveries


async def drain(deliveries: AbstractQueueIterator, handle: Callable[[AbstractIncomingMessage], Awaitable[None]]
                ) -> None:
    """Handle deliveries one at a time, in order, acking each after ``handle`` returned."""
    async for incoming in deliveries:
        await handle(incoming)
        await incoming.ack()


async def run_strategy(args: argparse.Namespace, connection: AbstractConnection, channel: AbstractChannel,
                       exchanges: dict[str, str], queues: dict[str, str]) -> list[Coroutine[Any, Any, None]]:
    signals = await channel.get_exchange(exchanges["signal"], ensure=False)
    crosses: dict[str, Cross] = {}
    count = BarCount("strategy", args.bars)

    async def on_bar(incoming: AbstractIncomingMessage) -> None:
        bar = json.loads(incoming.body)
        cross = crosses.setdefault(bar["symbol"], Cross(args.fast, args.slow))
        direction = cross.update(Decimal(bar["close"]))
        if direction is not None:
            message_id = str(uuid.uuid4())
            await publish(signals, f"signal.generated.{bar['symbol']}", {
                "type": "SignalGenerated", "message_id": message_id, "correlation_id": bar["correlation_id"],
                "causation_id": bar["message_id"], "ts_event": bar["ts_event"],
                "ts_init": datetime.now(timezone.utc).isoformat(), "source": "raw", "symbol": bar["symbol"],
                "direction": direction, "reference_price": bar["close"]}, message_id, bar["correlation_id"])
            count.signals += 1
        count.add(incoming.message_id)

    return [drain(await consumer(connection, queues[f"strategy.bars.{symbol}"], args.prefetch), on_bar)
            for symbol in args.symbols]


async def run_execution(args: argparse.Namespace, connection: AbstractConnection, channel: AbstractChannel,
                       exchanges: dict[str, str], queues: dict[str, str]) -> list[Coroutine[Any, Any, None]]:
    orders = await channel.get_exchange(exchanges["order"], ensure=False)
    count = BarCount("execution", args.bars)
    prices: dict[str, str] = {}

    async def on_bar(incoming: AbstractIncomingMessage) -> None:
        bar = json.loads(incoming.body)
        prices[bar["symbol"]] = bar["close"]
        count.add(incoming.message_id)

    async def on_signal(incoming: AbstractIncomingMessage) -> None:
        sig = json.loads(incoming.body)
        message_id = str(uuid.uuid4())
        await publish(orders, f"order.accepted.{sig['symbol']}", {
            "type": "OrderAccepted", "message_id": message_id, "correlation_id": sig["correlation_id"],
            "causation_id": sig["message_id"], "ts_event": sig["ts_event"],
            "ts_init": datetime.now(timezone.utc).isoformat(), "source": "raw", "symbol": sig["symbol"],
            "client_order_id": sig["message_id"], "side": "BUY" if sig["direction"] == "LONG" else "SELL",
            "quantity": "100", "order_type": "MARKET"}, message_id, sig["correlation_id"])

    return [drain(await consumer(connection, queues["execution.bars"], args.prefetch), on_bar),
            drain(await consumer(connection, queues["execution.signals"], args.prefetch), on_signal)]


async def run_portfolio(args: argparse.Namespace, connection: AbstractConnection, channel: AbstractChannel,
                       exchanges: dict[str, str], queues: dict[str, str]) -> list[Coroutine[Any, Any, None]]:
    count = BarCount("portfolio", args.bars)

    async def on_bar(incoming: AbstractIncomingMessage) -> None:
        json.loads(incoming.body)
        count.add(incoming.message_id)

    return [drain(await consumer(connection, queues["portfolio.bars"], args.prefetch), on_bar)]


def report(role: str, **figures: Any) -> None:
    print("REPORT " + json.dumps({"role": role, **figures}), flush=True)


async def run(args: argparse.Namespace) -> None:
    exchanges, queues = names(args.namespace, args.symbols)
    connection = await aio_pika.connect_robust(args.url, client_properties={"connection_name": f"raw-{args.role}"})
    connection.reconnect_callbacks.add(lambda *_: print("reconnected to the broker", flush=True))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with connection:
        channel = await confirm_channel(connection)
        if args.role == "data":
            work = asyncio.ensure_future(run_data(args, channel, exchanges))
        else:
            roles = {"strategy": run_strategy, "execution": run_execution, "portfolio": run_portfolio}
            loops = await roles[args.role](args, connection, channel, exchanges, queues)
            work = asyncio.ensure_future(asyncio.gather(*loops))
            print("READY", flush=True)  # every consumer of the role is registered with the broker
        await asyncio.wait({work, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            work.result()  # a role that failed: let the error show
            if args.role != "data":
                raise RuntimeError(f"the {args.role} consumers stopped on their own")
            await stop.wait()  # the data role is done: stay, so the bench can read its CPU time
        work.cancel()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=("data", "strategy", "execution", "portfolio"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--bars", type=int, default=0, help="bars a consumer expects before it reports")
    parser.add_argument("--csv", type=Path, nargs="*", default=[])
    parser.add_argument("--symbols", nargs="*", default=[])
    parser.add_argument("--timeframe", default="1m")
    parser.add_argument("--speed", type=float, default=0.0)
    parser.add_argument("--window", type=int, default=1, help="publishes awaiting their confirm at once (data)")
    parser.add_argument("--prefetch", type=int, default=64)
    parser.add_argument("--fast", type=int, default=2)
    parser.add_argument("--slow", type=int, default=3)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(run(parse_args()))
    sys.exit(0)
