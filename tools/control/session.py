"""Publish an operator's command and collect the events it causes.

The tool binds a private queue to the events it expects *before* it publishes, so an answer cannot slip past,
and keeps only those whose causation id is the command's id (other operators' answers and routine snapshots go
by).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone

import pika
from pika.exceptions import UnroutableError
from pydantic import ValidationError

from shared.contracts import Command, Message, decode, encode
from shared.messaging.topology import ROUTES, Topology
from tools.errors import ToolError
from tools.ops.broker import connect, open_channel, resolve_url
from tools.ops.options import add_broker_options, resolve_namespace
from tools.ops.tail import Tail

SOURCE = "tradebus-cli"


def add_control_options(parser: argparse.ArgumentParser) -> None:
    """Add the broker options and ``--timeout`` to ``parser``."""
    add_broker_options(parser, discover=True)
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S",
                        help="how long to wait for the services to answer (default: %(default)s s)")


def now() -> datetime:
    """Return the time a command is issued (UTC)."""
    return datetime.now(timezone.utc)


class ControlSession:
    """A connection to the suite's broker: publish a command, then wait for the events it caused."""

    def __init__(self, connection: pika.BlockingConnection, topology: Topology) -> None:
        self.connection, self.topology = connection, topology
        self._tail: Tail | None = None
        self._command: Command | None = None

    def send(self, command: Command, answers: Sequence[type[Message]]) -> None:
        """Listen for events of the ``answers`` types, then publish ``command`` (confirmed, mandatory)."""
        bindings = [(self.topology.exchange(ROUTES[kind][0]), self.topology.pattern(kind)) for kind in answers]
        self._tail = Tail.bound(self.connection, self.topology, bindings)
        self._command = command
        exchange, routing_key = self.topology.address(command)
        properties = pika.BasicProperties(
            message_id=str(command.message_id), type=command.type, content_type="application/json", delivery_mode=2,
            correlation_id=str(command.correlation_id), app_id=command.source,
            timestamp=int(command.ts_init.timestamp()), headers=self.topology.publish_headers(command))
        try:
            open_channel(self.connection, confirms=True).basic_publish(exchange, routing_key, encode(command),
                                                                       properties, mandatory=True)
        except UnroutableError:
            raise ToolError(f"nobody consumes {command.type}: is the suite running (tradebus up) in namespace "
                            f"{self.topology.namespace!r}?") from None

    def wait(self, done: Callable[[list[Message]], bool], timeout_s: float,
             related: Callable[[Message], bool] | None = None) -> list[Message]:
        """Return the events caused by the command (or that ``related`` accepts) seen until ``done`` says so or
        ``timeout_s`` passes."""
        assert self._tail is not None and self._command is not None, "send a command first"
        cause = self._command.message_id
        seen: list[Message] = []
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            for event in self._tail.events(timeout_s=min(left, 0.5)):
                message = _decoded(event.type_name, event.body)
                if message is not None and (message.causation_id == cause or (related and related(message))):
                    seen.append(message)
                    if done(seen):
                        return seen
        return seen


def _decoded(type_name: str | None, body: bytes) -> Message | None:
    try:
        return decode(type_name or "", body)
    except (ValueError, ValidationError):
        return None  # not for us to judge: the services dead-letter what they cannot read


@contextmanager
def session(args: argparse.Namespace, tool: str) -> Iterator[ControlSession]:
    """Open a control session from the parsed ``--url`` and ``--namespace``."""
    with connect(resolve_url(args.url), tool) as connection:
        yield ControlSession(connection, Topology(resolve_namespace(connection, args.namespace, tool)))


def confirmed(args: argparse.Namespace, tool: str, command: Command, answer: type[Message]) -> Message:
    """Publish ``command`` and return the ``answer`` event it caused; raise ``ToolError`` if none comes in time."""
    with session(args, tool) as control:
        control.send(command, [answer])
        answers = of_type(control.wait(lambda seen: bool(seen), args.timeout), answer)
    if not answers:
        raise ToolError(f"no confirmation within {args.timeout:g} s: is the portfolio service running?")
    return answers[0]


def of_type(messages: Sequence[Message], kind: type[Message]) -> list[Message]:
    """Return the messages of ``kind``."""
    return [message for message in messages if isinstance(message, kind)]
