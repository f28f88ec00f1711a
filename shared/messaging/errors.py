"""Exception types that decide what happens to a message whose handler raised.

=====================  =========================================================================
raised                 outcome
=====================  =========================================================================
``InvalidMessage``     dead-lettered at once with ``x-error`` headers; never retried
``TransientError``     nacked and redelivered, up to the queue's delivery limit, then dead-lettered
``FatalError``         the process stops with a non-zero exit; the message stays unacked and is
                       redelivered to the restarted service
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


class PublishFailed(Exception):
    """Raised by ``publish`` when the broker returned (unroutable), nacked, or did not confirm in time."""


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


def describe(error: BaseException) -> str:
    """Return a one-line, bounded description of ``error`` for an ``x-error`` header."""
    text = f"{type(error).__name__}: {error}".replace("\n", " | ")
    return text if len(text) <= 2000 else text[:1997] + "..."
