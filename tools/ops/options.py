"""Command-line options the broker tools share, and how they find the namespace of the suite that is running.

Without ``--namespace`` a tool probes the broker, over plain AMQP (the management plugin may be off), for the
namespaces the suite is started in by default: ``tradebus`` (``tradebus up``) and ``tradebus-run``
(``tradebus run``, ``make run``). For each it passively declares the suite's work queues, which tells whether
they exist and how many consumers they have, so without side effects. It takes the namespace whose queues have
consumers (a suite running now; ``tradebus`` first if both run), else one whose queues exist (a suite that ran),
else ``tradebus``, and says on stderr which one it took and why.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import pika
from pika.exceptions import ChannelClosedByBroker

from shared.messaging.topology import DEFAULT_NAMESPACE, SUITE, Topology

from .broker import NOT_FOUND

RUN_NAMESPACE = "tradebus-run"
"""The namespace ``tradebus run`` (``make run``) uses."""
KNOWN_NAMESPACES = (DEFAULT_NAMESPACE, RUN_NAMESPACE)
"""The namespaces a tool probes when none is given, in order of preference."""

NAMESPACE_HELP = (f"prefix of exchange and queue names (default: found on the broker: of {', '.join(KNOWN_NAMESPACES)}"
                  ", the one whose queues have consumers, else one whose queues exist, else "
                  f"{DEFAULT_NAMESPACE})")


def add_broker_options(parser: argparse.ArgumentParser, *, discover: bool = False) -> None:
    """Add ``--namespace`` and ``--url`` to ``parser``; with ``discover`` the namespace defaults to ``None``, for
    ``resolve_namespace`` to find on the broker, else to ``tradebus``."""
    if discover:
        parser.add_argument("--namespace", help=NAMESPACE_HELP)
    else:
        parser.add_argument("--namespace", default=DEFAULT_NAMESPACE,
                            help="prefix of exchange and queue names (default: %(default)s)")
    parser.add_argument("--url", help="broker URL (default: $AMQP_URL, else amqp://guest:guest@localhost:5672/)")


@dataclass(frozen=True, slots=True)
class NamespaceProbe:
    """What the broker holds of one namespace: how many of the suite's work queues exist, and their consumers."""

    namespace: str
    queues: int
    consumers: int


def probe_namespace(connection: pika.BlockingConnection, namespace: str) -> NamespaceProbe:
    """Passively declare ``namespace``'s shared work queues and count those that exist and their consumers."""
    topology = Topology(namespace)
    names = [topology.purpose_name(*key) for key, consumes in SUITE.items() if consumes.mode == "shared"]
    queues = consumers = 0
    channel = connection.channel()
    for name in names:
        try:
            consumers += channel.queue_declare(name, passive=True).method.consumer_count
            queues += 1
        except ChannelClosedByBroker as error:
            if error.reply_code != NOT_FOUND:
                raise
            channel = connection.channel()  # a failed passive declare closes the channel
    if channel.is_open:
        channel.close()
    return NamespaceProbe(namespace, queues, consumers)


def choose_namespace(probes: list[NamespaceProbe]) -> tuple[str, str]:
    """Return the namespace to use and why: running (consumers) before existing, in the order of ``probes``."""
    running = [probe for probe in probes if probe.consumers]
    if running:
        others = [probe.namespace for probe in running[1:]]
        also = f"; also running: {', '.join(others)} (pick one with --namespace)" if others else ""
        return running[0].namespace, f"a suite is running in it ({running[0].consumers} consumers){also}"
    existing = [probe for probe in probes if probe.queues]
    if existing:
        return existing[0].namespace, "its queues exist, but nothing consumes them now"
    probed = ", ".join(probe.namespace for probe in probes)
    return DEFAULT_NAMESPACE, f"no suite found on the broker (looked for {probed})"


def resolve_namespace(connection: pika.BlockingConnection, namespace: str | None, tool: str) -> str:
    """Return ``namespace`` if given, else the one found on the broker (told on stderr, with why)."""
    if namespace is not None:
        return namespace
    chosen, why = choose_namespace([probe_namespace(connection, candidate) for candidate in _candidates()])
    print(f"tradebus {tool}: namespace {chosen!r}: {why}", file=sys.stderr, flush=True)
    return chosen


def _candidates() -> tuple[str, ...]:
    return KNOWN_NAMESPACES  # read at call time, so a test can point it at its own namespaces


def positive_int(text: str) -> int:
    """Parse a count that must be at least 1."""
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value
