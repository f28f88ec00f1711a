"""One harness API over both buses, so each contract test is written once and runs against each of them.

``MemoryHarness`` wraps a strict ``InMemoryBus`` dispatching in the background; ``AmqpHarness`` wraps an
``AmqpBus`` on the real broker and reads dead letters and leftovers through a separate connection, the way an
operator or a restarted service would.
"""

from __future__ import annotations

import abc
import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage

from shared.contracts import BarClosed, Message, TradeTicked, encode
from shared.messaging.amqp import AmqpBus
from shared.messaging.attempts import AttemptLog
from shared.messaging.bus import MessageBus
from shared.messaging.memory import InMemoryBus
from shared.messaging.topology import Binding, QueueSpec, Topology

TIMEOUT = 10.0
"""Seconds any wait in a contract test may take before the test fails."""

EPOCH = datetime(2024, 1, 2, 14, 30, tzinfo=timezone.utc)


def bar(symbol: str = "ORCL", seq: int = 0, **overrides: Any) -> BarClosed:
    """Build a valid one-minute bar; ``seq`` shifts its time and prices so every bar is distinct."""
    price = Decimal("100.00") + seq
    fields: dict[str, Any] = dict(
        symbol=symbol, timeframe="1m", open=price, high=price + 1, low=price - 1, close=price,
        volume=Decimal(1000 + seq), ts_event=EPOCH + timedelta(minutes=seq),
        ts_init=EPOCH + timedelta(minutes=seq + 1), source="contract-test")
    return BarClosed(**(fields | overrides))


def trade(symbol: str = "ORCL", seq: int = 0) -> TradeTicked:
    """Build a valid trade print."""
    return TradeTicked(symbol=symbol, price=Decimal("100.5") + seq, size=Decimal(10), ts_event=EPOCH,
                       ts_init=EPOCH, source="contract-test")


def service_queue(topology: Topology, purpose: str, *bindings: Binding) -> QueueSpec:
    """Return the work queue ``{ns}.contract.<purpose>`` with ``bindings``."""
    return topology.service_queue("contract", purpose, bindings)


class Recorder:
    """A handler that records every message it is given and lets a test wait for a number of them."""

    def __init__(self, effect: Callable[[Message], Any] | None = None) -> None:
        self.messages: list[Message] = []
        self._effect = effect
        self._changed = asyncio.Condition()

    async def __call__(self, message: Message) -> None:
        if self._effect is not None:
            result = self._effect(message)
            if asyncio.iscoroutine(result):
                await result
        async with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    async def wait_for(self, count: int) -> list[Message]:
        """Wait until ``count`` messages were recorded; fail after ``TIMEOUT`` seconds."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(lambda: len(self.messages) >= count), TIMEOUT)
            except TimeoutError:
                raise AssertionError(f"waited for {count} messages, got {len(self.messages)}") from None
        return list(self.messages)

    @property
    def ids(self) -> list[uuid.UUID]:
        return [m.message_id for m in self.messages]


@dataclass(frozen=True)
class Letter:
    """A message as it sits in a queue: its bytes and headers (a dead letter's say why it died)."""

    body: bytes
    headers: dict[str, Any]

    @property
    def message_id(self) -> uuid.UUID:
        """Return the ``message_id`` in the body (which must be a JSON message)."""
        return uuid.UUID(json.loads(self.body)["message_id"])


class BusHarness(abc.ABC):
    """What a contract test needs from a bus beyond ``MessageBus`` itself."""

    kind: str

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self.bus: MessageBus

    @abc.abstractmethod
    async def open(self) -> None:
        """Create and start ``bus``."""

    @abc.abstractmethod
    async def another_bus(self) -> MessageBus:
        """Return a started bus on the same broker, as a restarted service would have (memory: the same bus)."""

    @abc.abstractmethod
    async def dead_letters(self, spec: QueueSpec, count: int) -> list[Letter]:
        """Wait for ``count`` dead letters of ``spec`` and return them, oldest first."""

    @abc.abstractmethod
    async def no_dead_letters(self, spec: QueueSpec) -> bool:
        """Return whether ``spec``'s dead-letter queue is empty now."""

    @abc.abstractmethod
    async def after_crash(self, spec: QueueSpec, count: int) -> list[Letter]:
        """End the crashed bus as its process would end, and return ``count`` messages left in ``spec``."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close every bus and remove what the test declared."""


class MemoryHarness(BusHarness):
    kind = "memory"

    async def open(self) -> None:
        self.bus = InMemoryBus(self.topology, strict=True)
        await self.bus.start()

    async def another_bus(self) -> MessageBus:
        return self.bus

    async def dead_letters(self, spec: QueueSpec, count: int) -> list[Letter]:
        await self._settle()
        letters = [_letter_of(d) for d in self.bus.dead_letters.get(spec.name, [])]
        assert len(letters) >= count, f"expected {count} dead letters in {spec.name}, got {len(letters)}"
        return letters[:count]

    async def no_dead_letters(self, spec: QueueSpec) -> bool:
        await self._settle()
        return not self.bus.dead_letters.get(spec.name)

    async def after_crash(self, spec: QueueSpec, count: int) -> list[Letter]:
        letters = [_letter_of(d) for d in self.bus.queued(spec.name)]
        assert len(letters) >= count, f"expected {count} messages left in {spec.name}, got {len(letters)}"
        return letters[:count]

    async def close(self) -> None:
        await asyncio.wait_for(self.bus.close(), TIMEOUT)

    async def _settle(self) -> None:
        await asyncio.wait_for(self.bus.drain(), TIMEOUT)


def _letter_of(delivery: Any) -> Letter:
    body = delivery.raw if delivery.message is None else encode(delivery.message)
    return Letter(body or b"", dict(delivery.headers))


class AmqpHarness(BusHarness):
    kind = "amqp"

    def __init__(self, topology: Topology, url: str, delete_namespace: Callable[..., None]) -> None:
        super().__init__(topology)
        self.url = url
        self._delete_namespace = delete_namespace
        self._buses: list[AmqpBus] = []
        self._attempts = AttemptLog()  # one service restarted: every bus of the test keeps the same record
        self._reader: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None

    async def open(self) -> None:
        self.bus = await self.another_bus()
        self._reader = await aio_pika.connect(self.url)
        self._channel = await self._reader.channel()

    async def another_bus(self) -> MessageBus:
        bus = AmqpBus(self.url, topology=self.topology, service="contract", instance=str(len(self._buses)),
                      confirm_timeout=5.0, attempts=self._attempts)
        self._buses.append(bus)
        await bus.start()
        return bus

    async def dead_letters(self, spec: QueueSpec, count: int) -> list[Letter]:
        return await self._take(spec.dlq, count)

    async def no_dead_letters(self, spec: QueueSpec) -> bool:
        assert self._channel is not None
        queue = await self._channel.get_queue(spec.dlq, ensure=False)
        return await queue.get(no_ack=False, fail=False) is None

    async def after_crash(self, spec: QueueSpec, count: int) -> list[Letter]:
        for bus in self._buses:
            await bus.abort()
        return await self._take(spec.name, count)

    async def _take(self, queue_name: str, count: int) -> list[Letter]:
        assert self._channel is not None
        queue = await self._channel.get_queue(queue_name, ensure=False)
        arrived: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
        tag = await queue.consume(arrived.put, no_ack=True)
        letters: list[Letter] = []
        try:
            while len(letters) < count:
                incoming = await asyncio.wait_for(arrived.get(), TIMEOUT)
                letters.append(Letter(incoming.body, dict(incoming.headers or {})))
        except TimeoutError:
            raise AssertionError(f"expected {count} messages in {queue_name}, got {len(letters)}") from None
        finally:
            await queue.cancel(tag)
        return letters

    async def close(self) -> None:
        try:
            for bus in self._buses:
                await asyncio.wait_for(bus.close(), TIMEOUT)
            if self._reader is not None:
                await self._reader.close()
        finally:
            declared = set().union(*(bus.declared_queues for bus in self._buses))
            self._delete_namespace(self.url, self.topology, declared)

