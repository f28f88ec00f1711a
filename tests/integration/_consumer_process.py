"""A consumer process for the process-level tests: ``python _consumer_process.py URL NAMESPACE MODE STATE_DIR``.

It runs a one-queue service through ``run_service`` (so signals and exit codes are the real ones) and reports
on stdout, one line per event, what its BarClosed handler does:

- ``record``: print ``handled <message_id>`` and return (the bus acks).
- ``block``:  print ``started <message_id>``, then never return (the test kills the process).
- ``gate``:   print ``started <message_id>``, wait for a line on stdin, then print ``handled <message_id>``.
- ``crash``:  print ``started <message_id>``, then raise an unexpected error on a CRASH-policy subscription.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from shared.contracts import BarClosed, Message
from shared.messaging.bus import Subscription
from shared.messaging.errors import ErrorPolicy
from shared.runtime.service import ServiceApp, make_amqp_bus, run_service
from shared.runtime.settings import ServiceSettings

DELIVERY_LIMIT = 3  # the tests' ``topology`` fixture declares queues with this limit
QUEUE_PURPOSE = "bars"


class Handlers:
    """The BarClosed handler of each mode."""

    def __init__(self) -> None:
        self._stdin: asyncio.StreamReader | None = None

    async def record(self, message: Message) -> None:
        report("handled", message)

    async def block(self, message: Message) -> None:
        report("started", message)
        await asyncio.Event().wait()

    async def gate(self, message: Message) -> None:
        report("started", message)
        await (await self._stdin_reader()).readline()
        report("handled", message)

    async def crash(self, message: Message) -> None:
        report("started", message)
        raise RuntimeError(f"unexpected error handling {message.message_id}")

    async def _stdin_reader(self) -> asyncio.StreamReader:
        if self._stdin is None:
            self._stdin = asyncio.StreamReader()
            await asyncio.get_running_loop().connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(self._stdin), sys.stdin)
        return self._stdin


def report(event: str, message: Message) -> None:
    print(event, message.message_id, flush=True)


def builder(mode: str):  # noqa: ANN201 - returns run_service's build callable
    def build(settings: ServiceSettings) -> ServiceApp:
        registry = CollectorRegistry()
        bus = make_amqp_bus(settings, registry)
        queue = bus.topology.service_queue("contract", QUEUE_PURPOSE, bus.topology.bind(BarClosed))
        policy = ErrorPolicy.CRASH if mode == "crash" else ErrorPolicy.RETRY
        handler = getattr(Handlers(), mode)
        subscription = Subscription(queue, {BarClosed: handler}, prefetch=settings.prefetch, on_unexpected=policy)
        return ServiceApp("contract", bus, subscriptions=[subscription], registry=registry)

    return build


def main(url: str, namespace: str, mode: str, state_dir: str) -> int:
    settings = ServiceSettings(service_name="contract", amqp_url=url, namespace=namespace,
                               delivery_limit=DELIVERY_LIMIT, metrics_host="127.0.0.1", metrics_port=0,
                               log_json=False, prefetch=16, state_dir=Path(state_dir))
    return asyncio.run(run_service(builder(mode), settings))


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
