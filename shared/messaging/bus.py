"""The message-bus interface both buses implement: publish typed messages, consume them through subscriptions.

A service publishes typed messages and subscribes handler tables to queues. The bus turns bytes into a typed
message before any handler runs (``dispatch``), acks only after the handler returned (its effects stored, its own
publishes confirmed), and decides a failed message's fate by the exception type (see ``errors``).
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.contracts import Message

from .errors import ErrorPolicy
from .topology import QueueSpec, Topology

Handler = Callable[..., Awaitable[None]]
"""``handler(message)``, or ``handler(message, deps)`` when the subscription carries ``deps``."""

NO_DEPS: Any = object()
"""The ``deps`` of a subscription whose handlers take the message alone."""


@dataclass(frozen=True)
class Subscription:
    """Deliver messages from ``queue`` to ``handlers``: one handler per message type, processed in order.

    Each handler is called as ``handler(message, deps)``, or ``handler(message)`` when ``deps`` is ``NO_DEPS``.
    ``prefetch`` bounds unacknowledged deliveries; ``on_unexpected`` says what an exception that is neither
    ``InvalidMessage`` nor ``TransientError`` does (``CRASH`` on the order path).
    """

    queue: QueueSpec
    handlers: Mapping[type[Message], Handler]
    prefetch: int = 64
    on_unexpected: ErrorPolicy = ErrorPolicy.RETRY
    deps: Any = NO_DEPS


class Consumer(abc.ABC):
    """A running subscription."""

    @abc.abstractmethod
    async def cancel(self) -> None:
        """Stop receiving, finish the message in hand, and return the rest unacked to the queue."""

    @abc.abstractmethod
    async def kill(self) -> None:
        """Stop at once, mid-handler if need be, acking nothing more (simulates a crash)."""


class MessageBus(abc.ABC):
    """Publish typed messages and consume them through subscriptions."""

    topology: Topology
    declare_topology: bool = True
    """Whether this bus declares exchanges and queues (false: the broker's definitions already hold them)."""

    def __init__(self) -> None:
        self._fatal: asyncio.Future[None] | None = None

    @property
    def fatal(self) -> asyncio.Future[None]:
        """Return a future that fails with the error when the service must stop (a handler crashed it)."""
        if self._fatal is None:
            self._fatal = asyncio.get_running_loop().create_future()
        return self._fatal

    def crash(self, error: BaseException) -> None:
        """Stop the service for ``error``: ``fatal`` fails with it (the first one wins)."""
        if not self.fatal.done():
            self.fatal.set_exception(error)

    @property
    @abc.abstractmethod
    def is_connected(self) -> bool:
        """Return whether the bus can reach its broker now."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and declare the exchanges."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop every consumer gracefully, then disconnect."""

    @abc.abstractmethod
    async def publish(self, message: Message) -> None:
        """Publish ``message``; return once the broker confirmed it, raise ``PublishFailed`` otherwise."""

    @abc.abstractmethod
    async def publish_raw(self, exchange: str, routing_key: str, body: bytes, *,
                          type_name: str | None = None, headers: Mapping[str, Any] | None = None) -> None:
        """Publish bytes as they are (tools replaying dead letters, tests injecting bad input)."""

    @abc.abstractmethod
    async def declare(self, spec: QueueSpec) -> Any:
        """Declare a queue (with its dead-letter queue and bindings) so it keeps messages before anyone consumes."""

    @abc.abstractmethod
    async def subscribe(self, subscription: Subscription) -> Consumer:
        """Declare the subscription's queue, its DLQ and bindings, and start consuming."""
