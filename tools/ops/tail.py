"""``tradebus tail``: print live events from every family exchange as they are published.

The tail listens on an exclusive, auto-deleted, server-named queue bound to each topic exchange with the
routing-key pattern, so it sees copies of the traffic and takes nothing away from the services. Without
``--namespace`` it tails the suite it finds on the broker (``tradebus up`` or ``tradebus run``; see
``tools.ops.options``) and says on stderr which namespace it took.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import ChannelClosedByBroker
from pika.spec import Basic

from shared.messaging.topology import Topology
from tools.errors import ToolError

from .broker import NOT_FOUND, connect, resolve_url
from .options import add_broker_options, positive_int, resolve_namespace

ENVELOPE_FIELDS = frozenset({"message_id", "type", "schema_version", "ts_event", "ts_init", "correlation_id",
                             "causation_id", "source"})
SUMMARY_WIDTH = 160


@dataclass(frozen=True, slots=True)
class TailedEvent:
    """One message seen by the tail."""

    exchange: str
    routing_key: str
    type_name: str | None
    body: bytes

    def payload(self) -> dict[str, Any] | None:
        """Return the body as a JSON object, or ``None`` when it is not one."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def line(self) -> str:
        """Return ``<event time>  <routing key>  <type>  <summary>`` on one line."""
        payload = self.payload()
        type_name = self.type_name or (payload or {}).get("type") or "?"
        when = (payload or {}).get("ts_event") or datetime.now(timezone.utc).isoformat()
        return f"{when}  {self.routing_key}  {type_name}  {summarise(payload, len(self.body))}"

    def raw(self) -> str:
        """Return the body as text, unchanged."""
        return self.body.decode("utf-8", errors="replace")


def summarise(payload: dict[str, Any] | None, size: int) -> str:
    """Return the fields of ``payload`` other than the envelope as ``key=value`` words, cut to a line's width."""
    if payload is None:
        return f"<{size} bytes, not a JSON object>"
    words = [f"{key}={_compact(value)}" for key, value in payload.items()
             if key not in ENVELOPE_FIELDS and value is not None]
    text = " ".join(words)
    return text if len(text) <= SUMMARY_WIDTH else text[:SUMMARY_WIDTH - 3] + "..."


def _compact(value: Any) -> str:
    if isinstance(value, list):
        return f"[{len(value)}]"
    if isinstance(value, dict):
        return "{...}"
    return str(value)


class Tail:
    """A live subscription to every family exchange; iterate ``events()`` to receive."""

    def __init__(self, connection: pika.BlockingConnection, queue: str, exchanges: tuple[str, ...]) -> None:
        self.connection = connection
        self.queue = queue
        self.exchanges = exchanges
        self._inbox: deque[TailedEvent] = deque()

    @classmethod
    def start(cls, connection: pika.BlockingConnection, topology: Topology, pattern: str = "#") -> Tail:
        """Bind a new queue to every topic exchange of ``topology`` with ``pattern`` and start consuming it."""
        return cls.bound(connection, topology, [(exchange, pattern) for exchange in topology.topic_exchanges()])

    @classmethod
    def bound(cls, connection: pika.BlockingConnection, topology: Topology,
              bindings: Sequence[tuple[str, str]]) -> Tail:
        """Bind a new queue with each (exchange, pattern) of ``bindings`` and start consuming it."""
        channel = connection.channel()
        queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        for exchange, pattern in bindings:
            try:
                channel.queue_bind(queue, exchange, routing_key=pattern)
            except ChannelClosedByBroker as error:
                if error.reply_code != NOT_FOUND:
                    raise
                raise ToolError(f"exchange {exchange!r} does not exist: is the namespace "
                                f"{topology.namespace!r} right, and has a service declared it?") from None
        tail = cls(connection, queue, tuple(dict.fromkeys(exchange for exchange, _ in bindings)))
        channel.basic_consume(queue, tail._receive, auto_ack=True)
        return tail

    def _receive(self, _: BlockingChannel, method: Basic.Deliver, properties: pika.BasicProperties,
                 body: bytes) -> None:
        self._inbox.append(TailedEvent(method.exchange, method.routing_key, properties.type, body))

    def events(self, timeout_s: float | None = None) -> Iterator[TailedEvent]:
        """Yield events as they arrive, forever, or until ``timeout_s`` passes without one."""
        while True:
            while self._inbox:
                yield self._inbox.popleft()
            self.connection.process_data_events(time_limit=timeout_s)
            if timeout_s is not None and not self._inbox:
                return


# -- command line ----------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``tradebus tail`` options to ``parser``."""
    parser.description = (f"{parser.description}. Without --namespace it finds the running suite on the broker "
                          "(tradebus up: 'tradebus', tradebus run / make run: 'tradebus-run') and says which.")
    parser.add_argument("pattern", nargs="?", default="#",
                        help="routing-key pattern, e.g. 'market.bar.*' or '*.*.ORCL' (default: all)")
    add_broker_options(parser, discover=True)
    parser.add_argument("--count", type=positive_int, metavar="N", help="exit after N messages")
    parser.add_argument("--json", action="store_true", help="print each message body as raw JSON")


def run(args: argparse.Namespace) -> int:
    """Print events until ``--count`` is reached or Ctrl-C."""
    try:
        with connect(resolve_url(args.url), "tail") as connection:
            namespace = resolve_namespace(connection, args.namespace, "tail")
            tail = Tail.start(connection, Topology(namespace), args.pattern)
            print(f"tailing {args.pattern!r} on {', '.join(tail.exchanges)} (Ctrl-C to stop)", file=sys.stderr,
                  flush=True)
            for seen, event in enumerate(tail.events(), 1):
                print(event.raw() if args.json else event.line(), flush=True)
                if seen == args.count:
                    break
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a tail is meant to stop
    return 0
