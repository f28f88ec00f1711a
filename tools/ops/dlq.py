"""``tradebus dlq``: inspect, replay and purge dead letters.

Every work queue ``Q`` has a dead-letter queue ``Q.dlq`` (see ``shared.messaging.topology``). A dead letter
published by the bus carries why and where it died (``x-error``, ``x-failed-queue``, ``x-original-exchange``,
``x-original-routing-key``, ``x-attempts``); one dead-lettered by the broker itself carries ``x-death``.
AMQP cannot enumerate queues, so ``list`` looks at the dead-letter queues of the suite (``known_dead_letter_queues``,
from ``topology.SUITE``: the work queues' and the one the strategy workers' inboxes share) and of any queue named
on the command line.

Without ``--namespace`` the tool finds the suite on the broker (``tradebus up`` or ``tradebus run``; see
``tools.ops.options``) and says on stderr which namespace it took. A queue can be named in full
(``tradebus-run.portfolio.orders``) or by its name in the suite (``portfolio.orders``), which gets the namespace.
"""

from __future__ import annotations

import argparse
import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ChannelClosedByBroker, NackError, UnroutableError

from shared.messaging.topology import Topology, dead_letter_queue_name

from .broker import connect, open_channel, queue_depth, require_queue, resolve_url
from .options import add_broker_options, positive_int, resolve_namespace

BOOKKEEPING_PREFIXES = ("x-error", "x-failed-", "x-original-", "x-first-death-", "x-last-death-")
BOOKKEEPING_HEADERS = frozenset({"x-death", "x-attempts", "x-delivery-count"})
_DLQ_SUFFIX = dead_letter_queue_name("")


def known_dead_letter_queues(topology: Topology) -> tuple[str, ...]:
    """Return the name of every dead-letter queue of the suite (``Topology.dead_letter_queues``)."""
    return tuple(dlq.name for dlq in topology.dead_letter_queues())


def suite_queue_names() -> frozenset[str]:
    """Return the suite's durable queue names without their namespace (``portfolio.orders``, ``....dlq``)."""
    prefix = "ns."
    return frozenset(name.removeprefix(prefix) for name in Topology(prefix[:-1]).durable_queue_names())


def qualify(queue: str, namespace: str) -> str:
    """Return ``queue`` with ``namespace`` prefixed if it is a suite queue named without one, else unchanged."""
    return f"{namespace}.{queue}" if queue in suite_queue_names() else queue


def dlq_name(queue: str) -> str:
    """Return the dead-letter queue of ``queue``; a name that already is a DLQ is returned as it is."""
    return queue if queue.endswith(_DLQ_SUFFIX) else dead_letter_queue_name(queue)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One message fetched from a dead-letter queue, not yet settled."""

    delivery_tag: int
    properties: pika.BasicProperties
    body: bytes

    @property
    def headers(self) -> dict[str, Any]:
        """Return the message's headers (empty when it has none)."""
        return dict(self.properties.headers or {})

    @property
    def _death(self) -> dict[str, Any]:
        deaths = self.headers.get("x-death") or [{}]
        return deaths[0]  # the broker puts the latest death first

    @property
    def failed_queue(self) -> str | None:
        """Return the queue the message died in."""
        return self.headers.get("x-failed-queue") or self._death.get("queue")

    @property
    def attempts(self) -> int | None:
        """Return how many times the message was delivered before it died, when known."""
        return self.headers.get("x-attempts") or self._death.get("count")

    def origin(self) -> tuple[str, str] | None:
        """Return the (exchange, routing key) the message was first published to, or ``None`` when unknown."""
        headers = self.headers
        if "x-original-exchange" in headers and "x-original-routing-key" in headers:
            return headers["x-original-exchange"], headers["x-original-routing-key"]
        death = self._death
        if "exchange" in death and death.get("routing-keys"):
            return death["exchange"], death["routing-keys"][0]
        return None

    def replay_properties(self) -> pika.BasicProperties:
        """Return the message's properties without the dead-letter bookkeeping headers, persistent."""
        properties = copy.copy(self.properties)
        properties.headers = {key: value for key, value in self.headers.items()
                              if key not in BOOKKEEPING_HEADERS and not key.startswith(BOOKKEEPING_PREFIXES)}
        properties.delivery_mode = pika.DeliveryMode.Persistent.value
        return properties

    @property
    def fingerprint(self) -> tuple[str | None, bytes]:
        """Return what identifies the message across dead-letterings: its id and body."""
        return self.properties.message_id, self.body

    def label(self) -> str:
        """Return ``<type> <message id>`` for one-line reports."""
        return f"{self.properties.type or '?'} {self.properties.message_id or '(no message id)'}"

    def describe(self) -> str:
        """Return a multi-line description: type, id, error, where it died, where it came from, body."""
        exchange, routing_key = self.origin() or ("?", "?")
        return "\n".join((
            self.label(),
            f"  error:        {self.headers.get('x-error') or self._death.get('reason') or '?'}",
            f"  failed queue: {self.failed_queue or '?'}",
            f"  routing key:  {routing_key} (exchange {exchange!r})",
            f"  attempts:     {self.attempts if self.attempts is not None else '?'}",
            f"  body:         {self.body.decode('utf-8', errors='replace')}",
        ))


@dataclass
class ReplayReport:
    """What ``replay`` did: the letters re-published (with their target) and the letters kept, with why.

    ``stopped`` says the broker closed the channel part-way: every letter not replayed is still in the DLQ.
    """

    replayed: list[tuple[DeadLetter, str, str]] = field(default_factory=list)
    kept: list[tuple[DeadLetter, str]] = field(default_factory=list)
    stopped: bool = False


def queue_depths(connection: pika.BlockingConnection, queues: Iterable[str]) -> list[tuple[str, int]]:
    """Return (DLQ name, depth) for the dead-letter queue of each of ``queues`` that exists."""
    depths = ((name, queue_depth(connection, name)) for name in dict.fromkeys(map(dlq_name, queues)))
    return [(name, depth) for name, depth in depths if depth is not None]


def peek(connection: pika.BlockingConnection, queue: str, limit: int | None = None) -> list[DeadLetter]:
    """Return up to ``limit`` dead letters of ``queue`` and leave them all in the queue."""
    name = dlq_name(queue)
    require_queue(connection, name)
    channel = open_channel(connection)
    try:
        letters = []
        while (limit is None or len(letters) < limit) and (letter := _get(channel, name)) is not None:
            letters.append(letter)  # held unacked, so the next get returns the next letter
        return letters
    finally:
        _return_unsettled(channel)


def replay(connection: pika.BlockingConnection, queue: str, limit: int | None = None, *,
           to_queue: bool = False) -> ReplayReport:
    """Re-publish up to ``limit`` dead letters of ``queue`` and remove each only once the broker confirmed it.

    A letter goes to its original exchange and routing key, or with ``to_queue`` straight to the queue it died
    in (through the default exchange, so no other consumer sees it twice). Letters that cannot be re-published
    stay in the DLQ, and so does a replayed letter that fails again and comes back while the replay runs.
    """
    name = dlq_name(queue)
    require_queue(connection, name)
    channel = open_channel(connection, confirms=True)
    report, seen = ReplayReport(), set()
    try:
        while (limit is None or len(seen) < limit) and (letter := _get(channel, name)) is not None:
            if letter.fingerprint in seen:
                report.kept.append((letter, "it failed again after being replayed"))
                continue
            seen.add(letter.fingerprint)
            target = _target(letter, to_queue)
            error = target if isinstance(target, str) else _publish(channel, letter, *target)
            if error is not None:
                report.kept.append((letter, error))
                report.stopped = not channel.is_open
                if report.stopped:
                    break
                continue
            channel.basic_ack(letter.delivery_tag)
            report.replayed.append((letter, *target))
    finally:
        _return_unsettled(channel)
    return report


def purge(connection: pika.BlockingConnection, queue: str) -> int:
    """Remove every dead letter of ``queue`` and return how many there were."""
    name = dlq_name(queue)
    require_queue(connection, name)
    channel = open_channel(connection)
    try:
        return channel.queue_purge(name).method.message_count
    finally:
        channel.close()


def _target(letter: DeadLetter, to_queue: bool) -> tuple[str, str] | str:
    """Return (exchange, routing key) to replay ``letter`` to, or why there is none."""
    if to_queue:
        return ("", letter.failed_queue) if letter.failed_queue else "the queue it died in is not recorded"
    return letter.origin() or "its original exchange and routing key are not recorded"


def _get(channel: BlockingChannel, queue: str) -> DeadLetter | None:
    method, properties, body = channel.basic_get(queue, auto_ack=False)
    return None if method is None else DeadLetter(method.delivery_tag, properties, body)


def _publish(channel: BlockingChannel, letter: DeadLetter, exchange: str, routing_key: str) -> str | None:
    """Publish with confirm and mandatory; return why it failed, or ``None`` once the broker confirmed."""
    try:
        channel.basic_publish(exchange, routing_key, letter.body, letter.replay_properties(), mandatory=True)
    except UnroutableError:
        return f"unroutable: no queue is bound to {exchange!r} for {routing_key!r}"
    except NackError:
        return f"the broker nacked the publish to {exchange!r}"
    except ChannelClosedByBroker as error:
        return f"the broker refused: {error.reply_code} {error.reply_text}"
    return None


def _return_unsettled(channel: BlockingChannel) -> None:
    # requeue every letter fetched but not acked; delivery tag 0 with multiple means "all outstanding"
    if channel.is_open:
        channel.basic_nack(delivery_tag=0, multiple=True, requeue=True)
        channel.close()


# -- command line ----------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``tradebus dlq`` actions and their options to ``parser``."""
    parser.description = (f"{parser.description}. Without --namespace it finds the suite on the broker "
                          "(tradebus up: 'tradebus', tradebus run / make run: 'tradebus-run') and says which.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = _add_action(actions, "list", "print each dead-letter queue and its depth", queue=False)
    listing.add_argument("--queue", action="append", default=[], metavar="QUEUE",
                         help="also look at this queue's DLQ (repeatable)")
    show = _add_action(actions, "show", "print dead letters, leaving them in place")
    show.add_argument("--limit", type=positive_int, metavar="N", help="at most N dead letters")
    replaying = _add_action(actions, "replay", "re-publish dead letters to where they were first published")
    replaying.add_argument("--limit", type=positive_int, metavar="N", help="at most N dead letters")
    replaying.add_argument("--to-queue", action="store_true",
                           help="send each letter only to the queue it died in, not to its exchange")
    _add_action(actions, "purge", "delete every dead letter of a queue")


def _add_action(actions: Any, name: str, text: str, *, queue: bool = True) -> argparse.ArgumentParser:
    parser = actions.add_parser(name, help=text, description=f"{text}. Without --namespace the namespace is the "
                                "suite's found on the broker (tradebus, else tradebus-run), told on stderr.")
    if queue:
        parser.add_argument("queue", metavar="QUEUE",
                            help="a work queue or its dead-letter queue (.dlq), in full "
                                 "(tradebus-run.portfolio.orders) or by its name in the suite (portfolio.orders: "
                                 "the namespace is prefixed)")
    add_broker_options(parser, discover=True)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the chosen ``dlq`` action."""
    with connect(resolve_url(args.url), "dlq") as connection:
        if args.action == "list" or args.queue in suite_queue_names():
            args.namespace = resolve_namespace(connection, args.namespace, "dlq")
        if args.action != "list":
            args.queue = qualify(args.queue, args.namespace)
        return _ACTIONS[args.action](connection, args)


def _run_list(connection: pika.BlockingConnection, args: argparse.Namespace) -> int:
    depths = queue_depths(connection, (*known_dead_letter_queues(Topology(args.namespace)), *args.queue))
    if not depths:
        print(f"no dead-letter queues found in namespace {args.namespace!r}")
    width = max((len(name) for name, _ in depths), default=0)
    for name, depth in depths:
        print(f"{name:<{width}}  {depth}")
    return 0


def _run_show(connection: pika.BlockingConnection, args: argparse.Namespace) -> int:
    letters = peek(connection, args.queue, args.limit)
    for letter in letters:
        print(letter.describe())
    print(f"{len(letters)} dead letter(s) shown from {dlq_name(args.queue)}, left in place")
    return 0


def _run_replay(connection: pika.BlockingConnection, args: argparse.Namespace) -> int:
    report = replay(connection, args.queue, args.limit, to_queue=args.to_queue)
    for letter, exchange, routing_key in report.replayed:
        print(f"replayed {letter.label()} to exchange {exchange!r} with routing key {routing_key!r}")
    for letter, reason in report.kept:
        print(f"kept {letter.label()} in the DLQ: {reason}")
    print(f"{len(report.replayed)} replayed, {len(report.kept)} kept in {dlq_name(args.queue)}")
    if report.stopped:
        print("stopped early: the broker closed the channel; the letters not replayed are still in the DLQ")
    return 1 if report.kept else 0


def _run_purge(connection: pika.BlockingConnection, args: argparse.Namespace) -> int:
    print(f"purged {purge(connection, args.queue)} dead letter(s) from {dlq_name(args.queue)}")
    return 0


_ACTIONS = {"list": _run_list, "show": _run_show, "replay": _run_replay, "purge": _run_purge}
