"""Who may do what on the broker: one user per service, each with the least rights its traffic needs.

The broker's definitions declare the whole shared topology (exchanges, work queues, bindings) at boot, so
services need no ``configure`` on it: they only look exchanges and queues up (passive declares need no rights),
read their own queues, and write to the exchanges of the events they publish and to the dead-letter exchange.
Topic permissions then narrow each write to the routing keys of its own events::

    user                 publishes (routing keys)                    reads
    tradebus-data        market.*, control.history.*                 data.requests
    tradebus-strategy    signal.generated.*, command.request_history.*, control.heartbeat.*
                                                                     strategy.market.pNN, its own inbox
    tradebus-execution   order.*                                     execution.{market,signals,commands,portfolio}
    tradebus-portfolio   portfolio.*, command.submit_order.*         portfolio.{orders,market}
    tradebus-admin       everything (operators, ``tradebus dlq``/``tail``, the management UI)
    tradebus-monitor     nothing in the vhost; ``monitoring`` tag to read queue lengths (KEDA)

A service with per-instance queues (``INBOXES``: each strategy worker's exclusive inbox) declares them itself:
its user may configure, bind and read queues named ``{ns}.<service>.<purpose>.<instance>`` only, bind them only
to the exchanges and routing keys of what they receive (queue.bind needs write on the queue, read on the
exchange, and the topic permission's read pattern on the binding key), and nothing else.

Dead letters go to the direct ``{ns}.dlx`` exchange: topic permissions do not apply to direct exchanges, so
``write`` on the DLX is all a service needs to dead-letter what it consumed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.contracts import Message
from shared.messaging.topology import FAMILIES, PUBLISHERS, ROUTES, SUITE, QueueSpec, Topology

SERVICES = ("data", "strategy", "execution", "portfolio")
ADMIN = "admin"
MONITOR = "monitor"
ROLES = (ADMIN, MONITOR, *SERVICES)
"""Every broker user's role; the user is ``<prefix>-<role>`` and its password ``TRADEBUS_<ROLE>_BROKER_PASSWORD``."""

DEFAULT_USER_PREFIX = "tradebus"
DEFAULT_VHOST = "tradebus"
NOTHING = "^$"
"""The permission regex that grants nothing (RabbitMQ names the default exchange ``amq.default`` for access control)."""

@dataclass(frozen=True)
class Inbox:
    """A per-instance queue ``{ns}.<service>.<purpose>.<instance>`` and the message types bound to it."""

    purpose: str
    receives: tuple[type[Message], ...]


INBOXES: dict[str, tuple[Inbox, ...]] = {
    service: tuple(Inbox(purpose, consumes.types) for (owner, purpose), consumes in SUITE.items()
                   if owner == service and consumes.mode == "per_instance")
    for service in SERVICES
}
"""The per-instance queues each service declares itself (``SUITE``'s per-instance queues)."""


def user_name(role: str, prefix: str = DEFAULT_USER_PREFIX) -> str:
    """Return the broker user of ``role`` (a service, ``admin`` or ``monitor``)."""
    return f"{prefix}-{role}"


def password_variable(role: str) -> str:
    """Return the environment variable holding the broker password of ``role``."""
    return f"TRADEBUS_{role.upper()}_BROKER_PASSWORD"


def consumed_queues(topology: Topology, service: str) -> tuple[QueueSpec, ...]:
    """Return the queues ``service`` consumes from: its shared work queues, and for strategy the partitions."""
    queues = []
    for (owner, purpose), consumes in SUITE.items():
        if owner == service and consumes.mode == "shared":
            queues.append(topology.queue(owner, purpose))
        elif owner == service and consumes.mode == "partitioned":
            queues += [topology.partition_queue(p) for p in range(topology.partitions)]
    return tuple(queues)


def inbox_prefix(topology: Topology, service: str, inbox: Inbox) -> str:
    """Return what the names of ``service``'s per-instance ``inbox`` queues start with."""
    return f"{topology.namespace}.{service}.{inbox.purpose}."


def exactly(names: Iterable[str], prefixes: Iterable[str] = ()) -> str:
    """Return a regex matching exactly ``names`` and any name longer than one of ``prefixes`` (nothing if none).

    A prefix never matches ``<prefix>dlq``: the dead-letter queue the per-instance queues of a purpose share is
    the operators', not the service's.
    """
    choices = [re.escape(n) for n in sorted(set(names))] + [f"{re.escape(p)}(?!dlq$).+" for p in sorted(set(prefixes))]
    return f"^(?:{'|'.join(choices)})$" if choices else NOTHING


def routing_keys(family: str, kinds: Iterable[str]) -> str:
    """Return a regex matching the routing keys of ``kinds`` of ``family``: the whole family when it is all of it."""
    kinds = sorted(set(kinds))
    if not kinds:
        return NOTHING
    every = sorted({kind for fam, kind in ROUTES.values() if fam == family})
    if kinds == every:
        return f"^{family}\\."
    return f"^{family}\\.(?:{'|'.join(kinds)})\\."


@dataclass(frozen=True)
class Grant:
    """One user's rights in the vhost: resource regexes and, per topic exchange, (write, read) routing-key regexes."""

    configure: str
    write: str
    read: str
    topics: dict[str, tuple[str, str]] = field(default_factory=dict)


def service_grant(topology: Topology, service: str) -> Grant:
    """Return the least rights ``service`` needs when the broker's definitions already hold the shared topology."""
    published = [ROUTES[t] for t in PUBLISHERS[service]]
    inboxes = INBOXES.get(service, ())
    bound = [ROUTES[t] for (owner, _), consumes in SUITE.items() if owner == service and consumes.mode == "shared"
             for t in consumes.types]
    inbox_bound = [ROUTES[t] for inbox in inboxes for t in inbox.receives]
    topics = {}
    for family in FAMILIES:
        write = routing_keys(family, (kind for fam, kind in published if fam == family))
        read = routing_keys(family, (kind for fam, kind in [*bound, *inbox_bound] if fam == family))
        topics[topology.exchange(family)] = (write, read)
    prefixes = [inbox_prefix(topology, service, inbox) for inbox in inboxes]
    writes = {topology.exchange(family) for family, _ in published} | {topology.dead_letter_exchange}
    reads = {q.name for q in consumed_queues(topology, service)} | {topology.exchange(f) for f, _ in inbox_bound}
    return Grant(configure=exactly((), prefixes), write=exactly(writes, prefixes), read=exactly(reads, prefixes),
                 topics=topics)


def grants(topology: Topology) -> dict[str, Grant]:
    """Return the rights of every role that has any in the vhost (the monitor user has none)."""
    return {ADMIN: Grant(".*", ".*", ".*"), **{service: service_grant(topology, service) for service in SERVICES}}
