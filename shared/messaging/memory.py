"""An in-memory bus with the AMQP bus's interface and routing: the backtest engine and the embedded default.

Dispatch is deterministic FIFO: one global queue of deliveries, handled one at a time in publish order, so a
backtest gives the same output every run. Message objects pass as they are (no serialisation); ``strict=True``
round-trips every message through JSON so tests catch contract drift. Every delivery goes through the same
``Dispatcher.handle`` as on the AMQP bus.

A delivery waiting in the ready queue is a ``(queue, message, origin)`` triple. A first delivery of a published
message has its cached route ``(exchange, routing_key, queues)`` as origin and costs no allocation beyond the
tuple; a ``Delivery`` record is made only when one has state to carry (raw bytes, attempts, headers), or is
asked for (``queued``, dead letters).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from shared.contracts import Message, encode

from .bus import Consumer, MessageBus, Subscription
from .dispatch import ACK, Dispatcher, Verdict, dead_letter_headers
from .errors import InvalidMessage, Outcome, Unroutable
from .metrics import BusMetrics, NullMetrics
from .topology import PARTITION_HEADER, QueueSpec, Topology

_ROUTING_SYMBOL = Message.routing_symbol


@lru_cache(maxsize=4096)
def topic_matches(pattern: str, routing_key: str) -> bool:
    """Return whether a topic binding ``pattern`` (``*`` one word, ``#`` zero or more) matches ``routing_key``."""
    return _match(tuple(pattern.split(".")), tuple(routing_key.split(".")))


def _match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    return bool(words) and (head == "*" or head == words[0]) and _match(rest, words[1:])


def headers_match(binding: tuple[tuple[str, Any], ...], headers: Mapping[str, Any]) -> bool:
    """Return whether a headers-exchange ``binding`` matches message ``headers``, as RabbitMQ decides it.

    RabbitMQ ignores binding keys that start with ``x-`` (``x-match`` picks ``all`` or ``any``), so a binding
    whose only keys are ``x-`` keys matches every message under ``all`` and none under ``any``.
    """
    arguments = dict(binding)
    wanted = [(key, value) for key, value in arguments.items() if not key.startswith("x-")]
    hits = (key in headers and headers[key] == value for key, value in wanted)
    return any(hits) if arguments.get("x-match", "all") == "any" else all(hits)


@dataclass(slots=True)
class Delivery:
    """One message on its way to one queue; ``raw`` holds undecoded bytes from ``publish_raw``."""

    message: Message | None
    exchange: str
    routing_key: str
    type_name: str | None
    raw: bytes | None = None
    headers: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0


Route = tuple[str, str, tuple["_Queue", ...]]
"""Where a message goes: its exchange, its routing key and the queues bound to it."""

Entry = tuple["_Queue", "Message | None", "Route | Delivery"]
"""A delivery in the ready queue: the queue, the message (``None`` for raw bytes), its route or its record."""


@dataclass(eq=False)
class _Queue:
    spec: QueueSpec
    consumer: _MemoryConsumer | None = None
    parked: deque[Delivery] = field(default_factory=deque)


class _MemoryConsumer(Consumer):
    def __init__(self, bus: InMemoryBus, queue: _Queue, dispatcher: Dispatcher) -> None:
        self.bus = bus
        self.queue = queue
        self.dispatcher = dispatcher

    async def cancel(self) -> None:
        # detach first: the dispatcher parks this queue's next deliveries instead of handing them over
        if self.queue.consumer is self:
            self.queue.consumer = None
        await self.bus._wait_handler_of(self.queue)

    async def kill(self) -> None:
        if self.queue.consumer is self:
            self.queue.consumer = None
        await self.bus._kill_handler_of(self.queue)


class InMemoryBus(MessageBus):
    """A single-process bus: same interface and topic routing as RabbitMQ, deterministic FIFO dispatch."""

    def __init__(self, topology: Topology | None = None, *, strict: bool = False,
                 metrics: BusMetrics | None = None) -> None:
        super().__init__()
        self.topology = topology or Topology()
        self.strict = strict
        self.metrics: BusMetrics = metrics or NullMetrics()
        self.dead_letters: dict[str, list[Delivery]] = {}
        self._queues: dict[str, _Queue] = {}
        self._exchange_bindings: list[tuple[str, str, str]] = [
            (self.topology.exchange("market"), self.topology.partitioned_market_exchange, "#")]
        self._routes: dict[tuple[str, str, int | None], tuple[_Queue, ...]] = {}
        self._addresses: dict[tuple[type[Message], str | None], Route] = {}
        self._ready: deque[Entry] = deque()
        self._current: _Queue | None = None
        self._metered = not isinstance(self.metrics, NullMetrics)
        self._runner: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._pump: asyncio.Task[None] | None = None
        self._settled_waiters: list[asyncio.Future[None]] = []

    @property
    def is_connected(self) -> bool:
        return True

    async def start(self) -> None:
        """Start dispatching in the background (live embedded mode); a backtest calls ``drain`` instead."""
        if self._pump is None:
            self._pump = asyncio.create_task(self._pump_forever(), name="memory-bus-pump")

    async def close(self) -> None:
        if self._pump is not None:
            try:
                await self.drain()
            except Exception:
                if self._fatal is None or not self._fatal.done():
                    raise
                # a handler crashed the service: that was reported through ``fatal``; closing must still work
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
            self._pump = None
        for queue in self._queues.values():
            queue.consumer = None

    # -- publishing --------------------------------------------------------------------------------------------
    async def publish(self, message: Message) -> None:
        cls = message.__class__
        # a message without a ``symbol`` field answers routing_symbol() through pydantic's __getattr__ and an
        # AttributeError (microseconds); read the field itself unless the class routes by something else
        symbol = message.__dict__.get("symbol") if cls.routing_symbol is _ROUTING_SYMBOL else message.routing_symbol()
        key = (cls, symbol)
        route = self._addresses.get(key)
        if route is None:
            route = self._addresses[key] = self._address(message)
        queues = route[2]
        if not queues:
            self.metrics.publish_failures(message.type, "unroutable").inc()
            raise Unroutable(f"unroutable: no queue bound for {route[1]!r} on {route[0]!r}")
        if self.strict:
            message = type(message).model_validate_json(encode(message))
        append = self._ready.append
        for queue in queues:
            append((queue, message, route))
        if self._metered:
            self.metrics.published(message.type).inc()
        if not self._wake.is_set():
            self._wake.set()

    def _address(self, message: Message) -> Route:
        exchange, routing_key = self.topology.address(message)
        partition = self.topology.headers_for(message).get(PARTITION_HEADER)
        return exchange, routing_key, self._route(exchange, routing_key, partition)

    async def publish_raw(self, exchange: str, routing_key: str, body: bytes, *,
                          type_name: str | None = None, headers: Mapping[str, Any] | None = None) -> None:
        headers = dict(headers or {})
        queues = self._route(exchange, routing_key, headers.get(PARTITION_HEADER))
        if not queues:
            raise Unroutable(f"unroutable: no queue bound for {routing_key!r} on {exchange!r}")
        for queue in queues:
            delivery = Delivery(None, exchange, routing_key, type_name, body, dict(headers))
            self._ready.append((queue, None, delivery))
        self._wake.set()

    def _route(self, exchange: str, routing_key: str, partition: int | None) -> tuple[_Queue, ...]:
        key = (exchange, routing_key, partition)
        queues = self._routes.get(key)
        if queues is None:
            queues = self._routes[key] = tuple(self._resolve(exchange, routing_key, partition, set()))
        return queues

    def _resolve(self, exchange: str, routing_key: str, partition: int | None, seen: set[str]) -> list[_Queue]:
        if exchange in seen:
            return []
        seen.add(exchange)
        headers = {} if partition is None else {PARTITION_HEADER: partition}
        found = [q for q in self._queues.values() if any(
            b.exchange == exchange and (
                headers_match(b.headers, headers) if b.headers else topic_matches(b.pattern, routing_key))
            for b in q.spec.bindings)]
        for source, destination, pattern in self._exchange_bindings:
            if source == exchange and topic_matches(pattern, routing_key):
                found += [q for q in self._resolve(destination, routing_key, partition, seen) if q not in found]
        return found

    # -- consuming ---------------------------------------------------------------------------------------------
    async def declare(self, spec: QueueSpec) -> None:
        """Declare a queue so that it keeps messages before anyone consumes it."""
        if spec.name not in self._queues:
            self._queues[spec.name] = _Queue(spec, parked=deque(maxlen=spec.max_length))
            self.dead_letters.setdefault(spec.name, [])
            self._routes.clear()
            self._addresses.clear()

    async def subscribe(self, subscription: Subscription) -> Consumer:
        await self.declare(subscription.queue)
        queue = self._queues[subscription.queue.name]
        if queue.consumer is not None:
            raise RuntimeError(f"queue {queue.spec.name} already has a consumer on this in-memory bus")
        queue.consumer = _MemoryConsumer(self, queue, Dispatcher(subscription, self.metrics))
        self._ready.extendleft((queue, d.message, d) for d in reversed(queue.parked))
        queue.parked.clear()
        self._wake.set()
        return queue.consumer

    def pending(self, queue_name: str) -> int:
        """Return how many messages wait in ``queue_name`` (ready or parked without a consumer)."""
        return len(self.queued(queue_name))

    def queued(self, queue_name: str) -> list[Delivery]:
        """Return the deliveries waiting in ``queue_name``, oldest first (parked, then ready)."""
        queue = self._queues[queue_name]
        return [*queue.parked, *(_record(message, origin) for q, message, origin in self._ready if q is queue)]

    async def drain(self) -> None:
        """Dispatch until no delivery is left; raise the error of a handler that crashed the service."""
        if self._runner is not None and not self._runner.done():
            await asyncio.shield(self._idle.wait())
        else:
            self._runner = asyncio.current_task()
            self._idle.clear()
            try:
                await self._dispatch_until_idle()
            finally:
                self._idle.set()
                self._runner = None
        if self._fatal is not None and self._fatal.done():
            self._fatal.result()

    async def _pump_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.drain()
            except Exception:  # noqa: BLE001 - a crash is reported through ``fatal``; stop dispatching
                return

    async def _dispatch_until_idle(self) -> None:
        ready = self._ready
        next_entry = ready.popleft
        while ready and (self._fatal is None or not self._fatal.done()):
            queue, message, origin = next_entry()
            consumer = queue.consumer
            if consumer is None:
                queue.parked.append(_record(message, origin))
                continue
            self._current = queue
            delivery = origin if origin.__class__ is Delivery else None
            try:
                if delivery is None:  # a first delivery of a published message: no record to keep
                    verdict = await consumer.dispatcher.handle(message, 1)  # type: ignore[arg-type]
                else:
                    verdict = await self._deliver(consumer.dispatcher, delivery)
            except asyncio.CancelledError:
                self._requeue(queue, delivery or _record(message, origin, attempts=1))
                raise
            finally:
                self._current = None
                if self._settled_waiters:
                    self._wake_settled_waiters()
            if verdict is not ACK:
                self._settle(queue, delivery or _record(message, origin, attempts=1), verdict)

    async def _deliver(self, dispatcher: Dispatcher, delivery: Delivery) -> Verdict:
        delivery.attempts += 1
        message = delivery.message
        if message is None:
            try:
                message = dispatcher.decode(delivery.type_name, delivery.raw or b"")
            except InvalidMessage as error:
                return dispatcher.reject(delivery.type_name, error)
        return await dispatcher.handle(message, delivery.attempts)

    def _settle(self, queue: _Queue, delivery: Delivery, verdict: Verdict) -> None:
        if verdict.outcome is Outcome.ACK:
            return
        if verdict.outcome is Outcome.RETRY:
            if delivery.attempts < queue.spec.delivery_limit:
                self._ready.appendleft((queue, delivery.message, delivery))
                return
            # no broker to wait for in one process: an unconfirmed publish counts like any failure here
            verdict = replace(verdict, outcome=Outcome.DEAD_LETTER,
                              reason=f"delivery limit {delivery.attempts} reached; last error {verdict.reason}")
        if verdict.outcome is Outcome.DEAD_LETTER:
            delivery.headers = dead_letter_headers(verdict, queue.spec.name, delivery.exchange, delivery.routing_key,
                                                   delivery.attempts, delivery.headers)
            self.dead_letters[queue.spec.name].append(delivery)
            self.metrics.dead_lettered(verdict.type_name, verdict.reason_label).inc()
            if verdict.stop:
                queue.consumer = None
                self.crash(verdict.error or RuntimeError(verdict.reason))
        elif verdict.outcome is Outcome.CRASH:
            self._requeue(queue, delivery)
            queue.consumer = None
            self.crash(verdict.error or RuntimeError(verdict.reason))

    def _requeue(self, queue: _Queue, delivery: Delivery) -> None:
        self._ready.appendleft((queue, delivery.message, delivery))

    async def _wait_handler_of(self, queue: _Queue) -> None:
        while self._current is queue:
            waiter = asyncio.get_running_loop().create_future()
            self._settled_waiters.append(waiter)
            await waiter

    def _wake_settled_waiters(self) -> None:
        waiters, self._settled_waiters = self._settled_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _kill_handler_of(self, queue: _Queue) -> None:
        runner = self._runner
        if self._current is queue and runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            if self._pump is runner or (self._pump is not None and self._pump.done()):
                self._pump = asyncio.create_task(self._pump_forever(), name="memory-bus-pump")
                self._wake.set()


def _record(message: Message | None, origin: Route | Delivery, attempts: int = 0) -> Delivery:
    """Return the ``Delivery`` of a ready entry, making one for a first delivery (delivered ``attempts`` times)."""
    if origin.__class__ is Delivery:
        return origin
    assert message is not None
    exchange, routing_key, _ = origin  # type: ignore[misc]
    return Delivery(message, exchange, routing_key, message.type, attempts=attempts)
