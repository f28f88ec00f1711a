"""The message-bus interface both buses implement, and the delivery logic they share.

A service publishes typed messages and subscribes handler tables to queues. The bus turns bytes into a typed
message before any handler runs, acks only after the handler returned (its effects stored, its own publishes
confirmed), and decides a failed message's fate by the exception type (see ``errors``).
"""

from __future__ import annotations

import abc
import asyncio
import contextvars
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from shared.contracts import Message, UnknownMessageType, decode
from shared.runtime.metrics import NullMetrics

from .errors import ErrorPolicy, InvalidMessage, Outcome, describe, outcome_of
from .topology import QueueSpec, Topology

Handler = Callable[[Message], Awaitable[None]]

current_correlation_id: contextvars.ContextVar[UUID | str | None] = contextvars.ContextVar("correlation_id",
                                                                                        default=None)
"""The correlation id of the message being handled; structured logs include it."""


@dataclass(frozen=True)
class Subscription:
    """Deliver messages from ``queue`` to ``handlers``: one handler per message type, processed in order.

    ``prefetch`` bounds unacknowledged deliveries; ``on_unexpected`` says what an exception that is neither
    ``InvalidMessage`` nor ``TransientError`` does (``CRASH`` on the order path).
    """

    queue: QueueSpec
    handlers: Mapping[type[Message], Handler]
    prefetch: int = 64
    on_unexpected: ErrorPolicy = ErrorPolicy.RETRY


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the dispatcher decided for one delivery."""

    outcome: Outcome
    type_name: str
    reason: str = ""
    error: BaseException | None = None

    @property
    def reason_label(self) -> str:
        """Return a low-cardinality label for metrics: invalid, retries_exhausted or unhandled_type."""
        if isinstance(self.error, InvalidMessage):
            return "invalid"
        return "retries_exhausted" if self.error is not None else "unhandled_type"


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
        """Return a future that fails with the error when a handler crashed the service (``Outcome.CRASH``)."""
        if self._fatal is None:
            self._fatal = asyncio.get_running_loop().create_future()
        return self._fatal

    def _crash(self, error: BaseException) -> None:
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


class Dispatcher:
    """Decode, validate and handle one delivery, and return the verdict; shared by both buses.

    Handlers are looked up by message class first (one dict lookup), then by type name; a handler bound with
    ``functools.partial`` keywords is called with them as positional arguments, which costs a fraction of a
    partial call with keywords (the in-memory bus calls a handler per bar and queue).
    """

    def __init__(self, subscription: Subscription, metrics: Any) -> None:
        self.subscription = subscription
        self.metrics = metrics
        self._handlers = {cls.model_fields["type"].default: handler
                          for cls, handler in subscription.handlers.items()}
        self._calls = {cls: direct_call(handler) for cls, handler in subscription.handlers.items()}
        self._timed = not isinstance(metrics, NullMetrics)
        self._acks: dict[type[Message], tuple[Verdict, Any, Any]] = {}
        self.plain_calls: Mapping[type[Message], tuple[Callable[..., Awaitable[None]], tuple[Any, ...]]] = (
            {} if self._timed else self._calls)
        """Handler calls ``function(message, *arguments)`` by message class when nothing is measured: a bus may
        run these itself (correlation id set, ``failed`` on an exception), skipping ``handle``."""

    def decode(self, type_name: str | None, body: bytes) -> Message:
        """Turn wire bytes into a typed message, or raise ``InvalidMessage`` saying why."""
        if not type_name:
            raise InvalidMessage("message has no 'type' property")
        try:
            return decode(type_name, body)
        except UnknownMessageType as error:
            raise InvalidMessage(str(error)) from None
        except ValidationError as error:
            raise InvalidMessage(f"{type_name} failed validation: {_summarise(error)}") from None

    async def handle(self, message: Message, attempts: int) -> Verdict:
        """Run the handler for ``message`` (delivered ``attempts`` times so far, this one included)."""
        cls = message.__class__
        call = self._calls.get(cls)
        if call is None:
            handler = self._handlers.get(message.type)
            if handler is None:
                return self._verdict(Outcome.DEAD_LETTER, message.type,
                                     f"no handler for {message.type} on queue {self.subscription.queue.name}")
            call = (handler, ())
        function, arguments = call
        token = current_correlation_id.set(message.correlation_id)
        started = time.perf_counter() if self._timed else 0.0
        try:
            await function(message, *arguments)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - the verdict decides; nothing is swallowed
            return self.failed(message.type, error, attempts)
        finally:
            current_correlation_id.reset(token)
        ack = self._acks.get(cls) or self._ack_for(cls, message.type)
        if self._timed:
            ack[2].observe(time.perf_counter() - started)
            ack[1].inc()
        return ack[0]

    def _ack_for(self, cls: type[Message], type_name: str) -> tuple[Verdict, Any, Any]:
        ack = self._acks[cls] = (Verdict(Outcome.ACK, type_name), self.metrics.consumed(type_name, "ack"),
                                 self.metrics.handler_duration(type_name))
        return ack

    def failed(self, type_name: str, error: Exception, attempts: int) -> Verdict:
        """Return the verdict for a handler that raised ``error`` on delivery number ``attempts``."""
        outcome = outcome_of(error, self.subscription.on_unexpected)
        if outcome is Outcome.RETRY and attempts >= self.subscription.queue.delivery_limit:
            return self._verdict(Outcome.DEAD_LETTER, type_name,
                                 f"delivery limit {attempts} reached; last error {describe(error)}", error)
        return self._verdict(outcome, type_name, describe(error), error)

    def reject(self, type_name: str | None, error: InvalidMessage) -> Verdict:
        """Return the verdict for a delivery that did not decode."""
        return self._verdict(Outcome.DEAD_LETTER, type_name or "unknown", str(error), error)

    def _verdict(self, outcome: Outcome, type_name: str, reason: str = "",
                 error: BaseException | None = None) -> Verdict:
        self.metrics.consumed(type_name, outcome.value).inc()
        return Verdict(outcome, type_name, reason, error)


def direct_call(handler: Handler) -> tuple[Callable[..., Awaitable[None]], tuple[Any, ...]]:
    """Return ``(function, arguments)`` such that ``function(message, *arguments)`` is ``handler(message)``.

    A ``partial`` whose keywords name exactly the function's positional parameters after the message becomes a
    positional call; any other handler is returned as it is, with no arguments.
    """
    if not isinstance(handler, partial) or handler.args or not handler.keywords:
        return handler, ()
    if not inspect.isfunction(handler.func):
        return handler, ()
    code = handler.func.__code__
    if code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
        return handler, ()
    names = code.co_varnames[1:code.co_argcount]
    keywords = handler.keywords
    if set(keywords) != set(names):
        return handler, ()
    return handler.func, tuple(keywords[name] for name in names)


def dead_letter_headers(verdict: Verdict, queue: str, exchange: str, routing_key: str, attempts: int,
                        original: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the headers a dead letter carries: why it died, where it came from, when, after how many tries."""
    headers = dict(original or {})
    headers.update({
        "x-error": verdict.reason or "dead-lettered",
        "x-error-type": type(verdict.error).__name__ if verdict.error else "none",
        "x-failed-queue": queue,
        "x-original-exchange": exchange,
        "x-original-routing-key": routing_key,
        "x-failed-at": datetime.now(timezone.utc).isoformat(),
        "x-attempts": attempts,
    })
    return headers


def _summarise(error: ValidationError) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in error.errors()[:5]]
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
