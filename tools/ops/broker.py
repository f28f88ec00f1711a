"""Blocking pika connections for the command-line tools, with plain-language errors instead of tracebacks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.exceptions import AMQPConnectionError, AMQPError, ChannelClosedByBroker

from shared.messaging.urls import redact_url
from shared.runtime.settings import DEFAULT_AMQP_URL
from tools.errors import ToolError

NOT_FOUND = 404


def resolve_url(url: str | None) -> str:
    """Return ``url`` if given, else ``$AMQP_URL``, else the local guest broker."""
    return url or os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL


@contextmanager
def connect(url: str, tool: str) -> Iterator[pika.BlockingConnection]:
    """Open a named blocking connection to ``url`` and close it on exit.

    Raise ``ToolError`` when the broker is unreachable, and turn broker errors inside the block into one too.
    """
    try:
        params = pika.URLParameters(url)
    except Exception as error:  # noqa: BLE001 - pika raises assorted types for a malformed URL
        raise ToolError(f"invalid broker URL {redact_url(url)!r}: {error}") from None
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.client_properties = {"connection_name": f"tradebus-cli-{tool}"}
    try:
        connection = pika.BlockingConnection(params)
    except (AMQPConnectionError, OSError) as error:
        raise ToolError(f"cannot reach the broker at {redact_url(url)}: {error!r}") from None
    try:
        yield connection
    except ChannelClosedByBroker as error:
        raise ToolError(f"the broker refused: {error.reply_code} {error.reply_text}") from None
    except AMQPError as error:
        raise ToolError(f"lost the broker at {redact_url(url)}: {error!r}") from None
    finally:
        if connection.is_open:
            with suppress(AMQPError):
                connection.close()


def queue_depth(connection: pika.BlockingConnection, queue: str) -> int | None:
    """Return the number of ready messages in ``queue``, or ``None`` when it does not exist (passive declare)."""
    channel = connection.channel()
    try:
        return channel.queue_declare(queue, passive=True).method.message_count
    except ChannelClosedByBroker as error:
        if error.reply_code == NOT_FOUND:
            return None
        raise
    finally:
        if channel.is_open:
            channel.close()


def require_queue(connection: pika.BlockingConnection, queue: str) -> int:
    """Return the depth of ``queue``; raise ``ToolError`` when it does not exist."""
    depth = queue_depth(connection, queue)
    if depth is None:
        raise ToolError(f"queue {queue!r} does not exist")
    return depth


def open_channel(connection: pika.BlockingConnection, *, confirms: bool = False) -> BlockingChannel:
    """Return a new channel, in publisher-confirm mode when ``confirms``."""
    channel = connection.channel()
    if confirms:
        channel.confirm_delivery()
    return channel

