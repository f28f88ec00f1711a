"""Decode, validate and handle one delivery, and decide what becomes of it: the logic both buses share.

The dispatcher turns wire bytes into a typed message (or an ``InvalidMessage`` saying why not), calls the
handler bound for its type, and returns a ``Verdict``: ack, retry, dead-letter, or stop the service. Which one
follows from the exception (``errors``), the subscription's policy, and how many attempts were made.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from shared.contracts import Message, UnknownMessageType, decode

from .bus import NO_DEPS, Handler, Subscription
from .context import current_correlation_id
from .errors import InvalidMessage, Outcome, counts_as_attempt, describe, outcome_of
from .metrics import BusMetrics, NullMetrics

MAX_MESSAGE_BYTES = 1 << 20
"""The largest message body a consumer accepts (1 MiB); a larger one is dead-lettered unread."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the dispatcher decided for one delivery.

    ``counted``: the failure counts towards the delivery limit (a publish that was not confirmed does not).
    ``stop``: after dead-lettering, the service stops anyway (the message kept crashing it; its state may be off).
    """

    outcome: Outcome
    type_name: str
    reason: str = ""
    error: BaseException | None = None
    counted: bool = True
    stop: bool = False
    crashed: bool = False

    @property
    def reason_label(self) -> str:
        """Return a low-cardinality label for metrics: invalid, retries_exhausted, crashed or unhandled_type."""
        if isinstance(self.error, InvalidMessage):
            return "invalid"
        if self.crashed:
            return "crashed"
        return "retries_exhausted" if self.error is not None else "unhandled_type"


ACK = Verdict(Outcome.ACK, "")


class Dispatcher:
    """Handle the deliveries of one subscription: decode, look the handler up, call it, judge the outcome."""

    def __init__(self, subscription: Subscription, metrics: BusMetrics) -> None:
        self.queue = subscription.queue
        self.metrics = metrics
        self._policy = subscription.on_unexpected
        self._args: tuple[Any, ...] = () if subscription.deps is NO_DEPS else (subscription.deps,)
        self._by_class: dict[type[Message], Handler] = dict(subscription.handlers)
        self._by_name: Mapping[str, Handler] = {cls.model_fields["type"].default: handler
                                                for cls, handler in subscription.handlers.items()}
        self._timed = not isinstance(metrics, NullMetrics)

    def decode(self, type_name: str | None, body: bytes) -> Message:
        """Turn wire bytes into a typed message, or raise ``InvalidMessage`` saying why."""
        if len(body) > MAX_MESSAGE_BYTES:
            raise InvalidMessage(f"message of {len(body)} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")
        if not type_name:
            raise InvalidMessage("message has no 'type' property")
        try:
            return decode(type_name, body)
        except UnknownMessageType as error:
            raise InvalidMessage(str(error)) from None
        except ValidationError as error:
            raise InvalidMessage(f"{type_name} failed validation: {_summarise(error)}") from None

    async def handle(self, message: Message, attempts: int = 1) -> Verdict:
        """Run the handler for ``message`` (this being attempt number ``attempts``) and return the verdict."""
        handler = self._by_class.get(message.__class__) or self._by_name.get(message.type)
        if handler is None:
            return self._verdict(Outcome.DEAD_LETTER, message.type,
                                 f"no handler for {message.type} on queue {self.queue.name}")
        token = current_correlation_id.set(message.correlation_id)
        started = time.perf_counter() if self._timed else 0.0
        try:
            await handler(message, *self._args)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - the verdict decides; nothing is swallowed
            return self.failed(message.type, error, attempts)
        finally:
            current_correlation_id.reset(token)
        if self._timed:
            self.metrics.handler_duration(message.type).observe(time.perf_counter() - started)
            self.metrics.consumed(message.type, "ack").inc()
        return ACK

    def failed(self, type_name: str, error: Exception, attempts: int) -> Verdict:
        """Return the verdict for a handler that raised ``error`` on attempt number ``attempts``."""
        outcome = outcome_of(error, self._policy)
        if outcome is Outcome.RETRY and not counts_as_attempt(error):
            return self._verdict(Outcome.RETRY, type_name, describe(error), error, counted=False)
        if attempts >= self.queue.delivery_limit:
            if outcome is Outcome.RETRY:
                return self._verdict(Outcome.DEAD_LETTER, type_name,
                                     f"delivery limit {attempts} reached; last error {describe(error)}", error)
            if outcome is Outcome.CRASH:
                return self.exhausted(type_name, attempts, describe(error), error)
        return self._verdict(outcome, type_name, describe(error), error)

    def exhausted(self, type_name: str, attempts: int, last_error: str, error: BaseException | None = None, *,
                  stop: bool = True) -> Verdict:
        """Return the verdict for a message that crashed the service on each of its ``attempts`` attempts.

        ``stop``: the last attempt just failed in this process, whose state may be off, so stop it after the
        dead letter is out (not so when the message is dead-lettered before a handler ran).
        """
        return self._verdict(Outcome.DEAD_LETTER, type_name,
                             f"crashed the service on each of {attempts} attempts; last error {last_error}",
                             error, stop=stop, crashed=True)

    def reject(self, type_name: str | None, error: InvalidMessage) -> Verdict:
        """Return the verdict for a delivery that did not decode."""
        return self._verdict(Outcome.DEAD_LETTER, type_name or "unknown", str(error), error)

    def _verdict(self, outcome: Outcome, type_name: str, reason: str = "", error: BaseException | None = None,
                 *, counted: bool = True, stop: bool = False, crashed: bool = False) -> Verdict:
        self.metrics.consumed(type_name, outcome.value).inc()
        return Verdict(outcome, type_name, reason, error, counted, stop, crashed)


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

