"""Turn a service's subscription table into subscriptions, and check the table against ``topology.SUITE``.

Every service keeps one table in its ``handlers.py``: queue purpose -> ``Route`` (message type -> handler, and
what an unexpected error does), keyed by the names ``SUITE`` uses. The composition root builds the
subscriptions from it with the service's dependencies; ``disagreements`` says where a table and ``SUITE`` differ
about which types reach which queue (a test runs it for every service).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.contracts import Message

from .bus import Handler, Subscription
from .errors import ErrorPolicy
from .topology import SUITE, QueueSpec, Topology


@dataclass(frozen=True)
class Route:
    """The handlers of one queue of a service (each called ``handler(message, deps)``), and its error policy."""

    handlers: Mapping[type[Message], Handler]
    on_unexpected: ErrorPolicy = ErrorPolicy.RETRY

    def subscription(self, queue: QueueSpec, deps: Any, prefetch: int) -> Subscription:
        """Return the subscription that delivers ``queue``'s messages to these handlers, bound to ``deps``."""
        return Subscription(queue, self.handlers, prefetch, self.on_unexpected, deps)


Table = Mapping[str, Route]
"""A service's subscription table: queue purpose -> route."""


def shared_subscriptions(topology: Topology, service: str, table: Table, deps: Any,
                         prefetch: int) -> list[Subscription]:
    """Return the subscriptions of ``table``'s routes to the service's shared work queues."""
    return [route.subscription(topology.queue(service, purpose), deps, prefetch)
            for purpose, route in table.items() if SUITE[service, purpose].mode == "shared"]


def disagreements(service: str, table: Table) -> list[str]:
    """Return where ``table`` and ``SUITE`` disagree about the queues of ``service`` (empty when they agree)."""
    suite = {purpose: set(consumes.types) for (owner, purpose), consumes in SUITE.items() if owner == service}
    found = [f"{service} has no queue {purpose!r} in SUITE" for purpose in table if purpose not in suite]
    found += [f"{service}'s table has no route for its queue {purpose!r}" for purpose in suite if purpose not in table]
    for purpose in suite.keys() & table.keys():
        handled, received = set(table[purpose].handlers), suite[purpose]
        found += [f"{service}/{purpose} receives {t.__name__} but has no handler for it"
                  for t in sorted(received - handled, key=lambda t: t.__name__)]
        found += [f"{service}/{purpose} handles {t.__name__}, which SUITE never routes there"
                  for t in sorted(handled - received, key=lambda t: t.__name__)]
    return found
