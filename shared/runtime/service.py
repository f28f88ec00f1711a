"""The lifecycle every service shares: start, consume, serve metrics and health, stop gracefully on SIGTERM.

A service's composition root returns a ``ServiceApp``; ``run_service`` runs it as a process. Start-up and crash
recovery are one path: ``on_start`` hooks (reload state, reconcile) run before any consumer starts.

A service that stops for a fatal error exits, always: it logs why, gives its connection a moment to close, and
then leaves the process with ``os._exit`` whatever is still running (a robust connection reconnecting, a task
that ignores cancellation), so a supervisor sees the exit and restarts it. It never lingers half-dead with its
health port closed while its queues stall.

Exit codes: 0 after a graceful stop, 70 when a handler or a background task failed in a way that makes going
on unsafe (the unacked message is redelivered to the restarted service), 69 when no broker answered at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from shared.messaging.amqp import AmqpBus, BrokerUnreachable
from shared.messaging.attempts import AttemptLog
from shared.messaging.bus import Consumer, MessageBus, Subscription
from shared.messaging.topology import Topology

from .http import ObservabilityServer
from .logs import configure_logging
from .metrics import PrometheusBusMetrics
from .settings import ServiceSettings

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_UNAVAILABLE = 69
EXIT_FATAL = 70
STOP_GRACE_S = 5.0
"""How long a service stopping for a fatal error waits for its connection to close before it exits anyway."""

Hook = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class ServiceApp:
    """A wired service: its bus, its subscriptions (handler tables), background tasks and lifecycle hooks."""

    name: str
    bus: MessageBus
    subscriptions: Sequence[Subscription] = ()
    tasks: Sequence[Hook] = ()
    on_start: Sequence[Hook] = ()
    on_stop: Sequence[Hook] = ()
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    health_details: Callable[[], dict[str, Any]] = dict
    deps: Any = None
    """The handlers' dependencies (domain state), for the backtester and tests to inspect."""
    declare_suite: bool = False
    """Declare every queue of the suite at start-up (the four services do), not only this app's own."""


class ServiceRunner:
    """Start and stop a ``ServiceApp``; usable in-process (tests, the embedded suite) and by ``run_service``."""

    def __init__(self, app: ServiceApp) -> None:
        self.app = app
        self.consumers: list[Consumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.ready = False

    async def start(self) -> None:
        """Connect, run the start-up hooks, then start consuming and the background tasks."""
        await self.app.bus.start()
        if self.app.declare_suite and self.app.bus.declare_topology:
            for spec in self.app.bus.topology.suite_queues():
                await self.app.bus.declare(spec)
        for hook in self.app.on_start:
            await hook()
        for subscription in self.app.subscriptions:
            self.consumers.append(await self.app.bus.subscribe(subscription))
        for job in self.app.tasks:
            task = asyncio.create_task(job(), name=f"{self.app.name}:{getattr(job, '__name__', 'task')}")
            task.add_done_callback(partial(self._task_done, may_finish=getattr(job, "finite", False)))
            self._tasks.append(task)
        self.ready = True

    def _task_done(self, task: asyncio.Task[None], *, may_finish: bool) -> None:
        if task.cancelled() or self.failed.done():
            return
        error = task.exception()
        if error is not None:
            self.failed.set_exception(error)
        elif not may_finish:
            # a background task that returns is one whose work stopped: say so instead of going on without it
            self.failed.set_exception(RuntimeError(f"background task {task.get_name()} ended"))

    async def stop(self) -> None:
        """Stop consuming (finishing messages in hand), cancel background tasks, run stop hooks, disconnect."""
        self.ready = False
        for consumer in self.consumers:
            await consumer.cancel()
        self.consumers.clear()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for hook in self.app.on_stop:
            await hook()
        await self.app.bus.close()

    async def wait_failure(self) -> BaseException:
        """Wait until a handler crashed the service or a background task failed, and return the error."""
        fatal = self.app.bus.fatal
        done, _ = await asyncio.wait({fatal, self.failed}, return_when=asyncio.FIRST_COMPLETED)
        return next(iter(done)).exception() or RuntimeError("service failed")


def finite(job: Hook) -> Hook:
    """Mark a background task that is allowed to finish (a replay that ends); others must run until cancelled."""

    async def run() -> None:
        await job()

    run.__name__ = getattr(job, "__name__", "task")
    run.finite = True  # type: ignore[attr-defined]
    return run


def make_amqp_bus(settings: ServiceSettings, registry: CollectorRegistry) -> AmqpBus:
    """Build the RabbitMQ bus a service uses, from its settings, with its metrics and attempt log."""
    attempts = AttemptLog(settings.state_dir / "attempts.json" if settings.state_dir is not None else None)
    return AmqpBus(settings.amqp_url.get_secret_value(),
                   topology=Topology(settings.namespace, delivery_limit=settings.delivery_limit),
                   service=settings.service_name, instance=settings.instance_id,
                   metrics=PrometheusBusMetrics(registry, settings.service_name),
                   confirm_timeout=settings.confirm_timeout_s, heartbeat=settings.heartbeat_s,
                   declare_topology=settings.declare_topology, connect_wait=settings.broker_wait_s,
                   attempts=attempts)


EXIT_CONFIG = 78
"""Exit status of a service whose settings are wrong (sysexits' EX_CONFIG): restarting it will not help."""


def settings_problem(error: Exception, settings_type: type[ServiceSettings]) -> str:
    """Return one line naming each wrong setting, the variable that sets it, and what is wrong."""
    if not isinstance(error, ValidationError):
        return str(error)
    prefix = str(settings_type.model_config.get("env_prefix", ""))
    problems = []
    for item in error.errors():
        path = [str(part) for part in item["loc"]]
        variable = prefix + "__".join(path).upper() if path else prefix + "*"
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{'.'.join(path) or 'settings'} ({variable}): {message}")
    return "; ".join(problems)


def main(build: Callable[[ServiceSettings], ServiceApp], settings_type: type[ServiceSettings]) -> int:
    """Read the settings and run the service; a wrong setting ends as one line on stderr and exit 78."""
    try:
        settings = settings_type()
        return asyncio.run(run_service(build, settings))
    except (ValidationError, SettingsProblem) as error:
        print(f"{settings_type.model_fields['service_name'].default}: bad settings: "
              f"{settings_problem(error, settings_type)}", file=sys.stderr)
        return EXIT_CONFIG


class SettingsProblem(ValueError):
    """Raised by a composition root when settings that each validate do not make sense together."""


async def run_service(build: Callable[[ServiceSettings], ServiceApp], settings: ServiceSettings) -> int:
    """Run the service ``build`` wires until SIGTERM/SIGINT (exit 0) or a fatal failure (the process exits 70)."""
    configure_logging(settings.service_name, settings.instance_id, settings.log_level, settings.log_json)
    log.info("starting %s with %s", settings.service_name, settings.public_dict())
    try:
        app = build(settings)
    except ValueError as error:  # settings that validate one by one but not together (a composition root says)
        raise SettingsProblem(str(error)) from error
    runner = ServiceRunner(app)

    def health() -> dict[str, Any]:
        connected = app.bus.is_connected
        return {"status": "ok" if connected and runner.ready else "degraded", "service": app.name,
                "instance": settings.instance_id, "broker_connected": connected, "ready": runner.ready,
                **app.health_details()}

    server = ObservabilityServer(app.registry, health, settings.metrics_host, settings.metrics_port)
    port = await server.start()
    log.info("metrics and health on http://%s:%d/", settings.metrics_host, port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await runner.start()
    except BrokerUnreachable as error:
        log.critical("%s cannot start: %s", app.name, error)
        exit_now(EXIT_UNAVAILABLE)
    log.info("%s running", app.name)
    stopped = asyncio.create_task(stop.wait())
    failure = asyncio.create_task(runner.wait_failure())
    await asyncio.wait({stopped, failure}, return_when=asyncio.FIRST_COMPLETED)
    if failure.done():
        log.critical("%s stopping after a fatal error: %r", app.name, failure.result())
        runner.ready = False
        await _close_quickly(app.bus)
        log.critical("%s stopped (exit %d)", app.name, EXIT_FATAL)
        exit_now(EXIT_FATAL)
    log.info("%s stopping: signal received", app.name)
    failure.cancel()
    stopped.cancel()
    await runner.stop()
    await server.close()
    log.info("%s stopped (exit %d)", app.name, EXIT_OK)
    return EXIT_OK


async def _close_quickly(bus: MessageBus) -> None:
    """Drop the broker connection without finishing anything (unacked messages return), within a grace period."""
    abort = getattr(bus, "abort", None) or bus.close
    try:
        await asyncio.wait_for(abort(), STOP_GRACE_S)
    except Exception as error:  # noqa: BLE001 - the process exits next, whatever happened here
        log.warning("could not close the broker connection cleanly: %r", error)


def exit_now(code: int) -> None:
    """Leave the process with ``code`` at once, after flushing the logs (nothing else may keep it alive)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
