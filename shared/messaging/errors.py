"""Exception types that decide what happens to a message whose handler raised.

=====================  =========================================================================
raised                 outcome
=====================  =========================================================================
``InvalidMessage``     dead-lettered at once with ``x-error`` headers; never retried
``TransientError``     retried in place with backoff, up to the queue's delivery limit, then
                       dead-lettered with the last error
``PublishFailed``      a publish the handler made was not confirmed (timeout, nack, lost connection): the
                       message is not at fault, so it is retried with backoff for as long as it takes
                       and never counts towards the limit (``Unroutable`` does: nothing will change it)
``FatalError``         the process stops with a non-zero exit; the message stays unacked and is
                       redelivered to the restarted service, and after the delivery limit it is
                       dead-lettered with the reason
anything else          by the subscription's ``on_unexpected`` policy: ``CRASH`` on the order path
                       (money moves there: stop loudly), ``RETRY`` elsewhere (treated as transient)
=====================  =========================================================================
"""

from __future__ import annotations

from enum import Enum


class InvalidMessage(Exception):
    """Raise when a message can never be processed (malformed, fails its schema, unknown type)."""


class TransientError(Exception):
    """Raise when processing failed for a reason that may pass (a dependency down, a timeout)."""


class FatalError(Exception):
    """Raise to stop the service: its state may be wrong and only a restart (crash-only recovery) is safe."""


class PublishFailed(TransientError):
    """Raised by ``publish`` when the broker nacked, did not confirm in time, or the connection was lost."""


class Unroutable(PublishFailed):
    """Raised by ``publish`` when no queue is bound for the message (the broker returned it)."""


class ErrorPolicy(Enum):
    """What an unexpected exception from a handler does."""

    RETRY = "retry"
    CRASH = "crash"


class Outcome(Enum):
    """What the bus does with a delivered message after its handler ran."""

    ACK = "ack"
    DEAD_LETTER = "dead_letter"
    RETRY = "retry"
    CRASH = "crash"


def outcome_of(error: BaseException | None, policy: ErrorPolicy) -> Outcome:
    """Return the outcome for a handler that raised ``error`` (``None``: it succeeded)."""
    if error is None:
        return Outcome.ACK
    if isinstance(error, InvalidMessage):
        return Outcome.DEAD_LETTER
    if isinstance(error, TransientError):
        return Outcome.RETRY
    if isinstance(error, FatalError):
        return Outcome.CRASH
    return Outcome.CRASH if policy is ErrorPolicy.CRASH else Outcome.RETRY


def counts_as_attempt(error: BaseException) -> bool:
    """Return whether a failure counts towards the delivery limit: not when only a publish was unconfirmed."""
    return not isinstance(error, PublishFailed) or isinstance(error, Unroutable)


def describe(error: BaseException) -> str:
    """Return a one-line, bounded description of ``error`` for an ``x-error`` header."""
    text = f"{type(error).__name__}: {error}".replace("\n", " | ")
    return text if len(text) <= 2000 else text[:1997] + "..."
