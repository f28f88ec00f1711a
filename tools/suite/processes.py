"""Start the four services as local processes, prefix their logs, restart a crashed one, stop them all."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.strategy.adapters.loading import absolute_path
from tools.run_options import GROUPS, PORTFOLIO, DataOptions, RunSettings
from tools.settings_options import env_of

SERVICES = ("portfolio", "execution", "strategy", "data")
"""Start order: consumers first, the data replay last (every service declares every queue, so order is not
needed for correctness, only for a tidy log)."""

MAX_RESTARTS = 5
"""Restarts in a row of a service that never became ready in between, before the suite gives up (a crash loop:
a bad setting, a broken strategy); a service that crashes after it was ready is restarted however often."""


@dataclass(frozen=True)
class SuiteOptions:
    """What the suite trades and where it keeps its state."""

    amqp_url: str
    namespace: str = "tradebus"
    state_dir: Path = Path("var/suite")
    data: tuple[Path, ...] = ()
    symbols: tuple[str, ...] = ()
    timeframe: str = "1d"
    speed: float = 0.0
    strategy: str = "sma_cross"
    params: Mapping[str, str] = field(default_factory=lambda: {"fast": "10", "slow": "30"})
    quantity: Decimal = Decimal(100)
    commission: Decimal = Decimal(0)
    strategy_workers: int = 1
    log_json: bool = False
    venue: str | None = None
    """A ccxt exchange id: stream its live data instead of replaying ``data`` (see ``mode``)."""
    mode: str = "dry-run"
    confirm_live: bool = False
    endpoint: str | None = None
    settings: RunSettings | None = None
    """The services' settings the command line or ``--config`` set (only those reach the environment)."""
    data_options: DataOptions = DataOptions()


def free_port() -> int:
    """Return a TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_env(url: str, namespace: str, service: str, port: int, settings: Mapping[str, str] | None = None, *,
                log_json: bool = False) -> dict[str, str]:
    """Return the environment of one service process: the broker, the namespace, /health on ``port`` and
    ``settings`` (names without the ``TRADEBUS_<SERVICE>_`` prefix); settings come from the environment only."""
    prefix = f"TRADEBUS_{service.upper()}_"
    env = dict(os.environ, AMQP_URL=url, PYTHONUNBUFFERED="1")
    env |= {f"{prefix}NAMESPACE": namespace, f"{prefix}METRICS_PORT": str(port), f"{prefix}METRICS_HOST": "127.0.0.1",
            f"{prefix}LOG_JSON": str(log_json).lower()}
    return env | {prefix + key: value for key, value in (settings or {}).items()}


def service_env(options: SuiteOptions, service: str, port: int) -> dict[str, str]:
    """Return the environment one service of the suite runs with."""
    settings: dict[str, str] = {}
    venue = venue_env(options) if options.venue else {}
    if service == "data" and options.venue:
        settings = {"STATE_DIR": str(options.state_dir / "data"), "LIVE_SYMBOLS": json.dumps(list(options.symbols)),
                    "TIMEFRAME": options.timeframe, **venue, "VENUE__MODE": "dry-run"}  # market data is public
    elif service == "data":
        settings = {"STATE_DIR": str(options.state_dir / "data"),
                    "CSV_PATHS": json.dumps([str(p) for p in options.data]),
                    "SYMBOLS": json.dumps(list(options.symbols)), "TIMEFRAME": options.timeframe,
                    "SPEED": str(options.speed), "BAD_ROWS": options.data_options.bad_rows,
                    "TZ": options.data_options.tz, "COLUMNS": json.dumps(dict(options.data_options.columns))}
    elif service == "strategy":
        settings = {"STRATEGIES": json.dumps([{"id": options.strategy, "name": absolute_path(options.strategy),
                                               "params": dict(options.params)}])}
    elif service == "execution":
        settings = {"STATE_DIR": str(options.state_dir / "execution"), "SIZING__QUANTITY": str(options.quantity),
                    "PAPER__COMMISSION_RATE": str(options.commission), **settings_env(options, "execution")}
        if options.venue:
            # crypto sizes are fractions: the venue's own step rounds them (the ccxt broker), not whole units
            settings |= {**venue, "SYMBOLS": json.dumps(list(options.symbols)), "SIZING__LOT_SIZE": "0.00000001"}
    elif service == "portfolio":
        settings = {"STATE_DIR": str(options.state_dir / "portfolio"), **settings_env(options, "portfolio")}
        quotes = {symbol.split("/", 1)[1].split(":")[0] for symbol in options.symbols if "/" in symbol}
        if options.venue and len(quotes) == 1:
            settings["ACCOUNT_CURRENCY"] = quotes.pop()
    return process_env(options.amqp_url, options.namespace, service, port, settings, log_json=options.log_json)


def settings_env(options: SuiteOptions, service: str) -> dict[str, str]:
    """Return the settings given on the command line (or in ``--config``) as ``service``'s environment spells them."""
    if options.settings is None:
        return {}
    groups = [PORTFOLIO] if service == "portfolio" else [group for group in GROUPS if group is not PORTFOLIO]
    env: dict[str, str] = {}
    for group in groups:
        env |= env_of(group, options.settings.explicit.get(group.prefix, {}))
    return env


def venue_env(options: SuiteOptions) -> dict[str, str]:
    """Return the venue settings of the data and execution services (keys stay in the environment they inherit:
    ``TRADEBUS_EXECUTION_VENUE__API_KEY`` and ``..._SECRET``, never on a command line)."""
    settings = {"VENUE__EXCHANGE": options.venue or "", "VENUE__MODE": options.mode,
                "VENUE__CONFIRM_LIVE": str(options.confirm_live).lower()}
    if options.endpoint:
        settings["VENUE__ENDPOINT"] = options.endpoint
    return settings


@dataclass
class ServiceProcess:
    """One running service: its name, its /health port, the process."""

    name: str
    module: str
    port: int
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    """Restarts so far."""
    failures: int = 0
    """Exits in a row without having been ready in between."""
    became_ready: bool = False

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"


def health(service: ServiceProcess) -> dict[str, Any] | None:
    """Return a service's /health report, or ``None`` while it does not answer."""
    try:
        with urllib.request.urlopen(service.health_url, timeout=2) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read() or b"{}")
    except (OSError, ValueError):
        return None


def plan(options: SuiteOptions) -> list[ServiceProcess]:
    """Return the processes of the suite (strategy replicated ``strategy_workers`` times)."""
    processes = []
    for service in SERVICES:
        replicas = options.strategy_workers if service == "strategy" else 1
        for replica in range(replicas):
            name = service if replicas == 1 else f"{service}-{replica + 1}"
            port = free_port()
            processes.append(ServiceProcess(name, f"services.{service}", port, service_env(options, service, port)))
    return processes


class Supervisor:
    """Run the processes, prefix their output, restart one that crashes, stop all on request."""

    def __init__(self, processes: list[ServiceProcess], out: Callable[[str], None] = print) -> None:
        self.processes = processes
        self.out = out
        self._stopping = False
        self._pumps: list[asyncio.Task[None]] = []
        self.failed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def start(self, ready_timeout: float = 60.0) -> None:
        """Start every service; the data replay only once the others are consuming (so none lags far behind)."""
        consumers = [s for s in self.processes if not s.module.endswith(".data")]
        for service in consumers:
            await self._spawn(service)
        await asyncio.wait_for(asyncio.gather(*(self._ready(s) for s in consumers)), ready_timeout)
        for service in self.processes:
            if service not in consumers:
                await self._spawn(service)

    async def _ready(self, service: ServiceProcess) -> None:
        while ((await asyncio.to_thread(health, service)) or {}).get("status") != "ok":
            if self.failed.done():
                return
            await asyncio.sleep(0.1)

    async def _spawn(self, service: ServiceProcess) -> None:
        service.became_ready = False
        service.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", service.module, env=service.env, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
        self._pumps.append(asyncio.create_task(self._pump(service, service.process)))
        self._pumps.append(asyncio.create_task(self._watch_ready(service, service.process)))

    async def _watch_ready(self, service: ServiceProcess, process: asyncio.subprocess.Process) -> None:
        while process.returncode is None and not self._stopping:
            if ((await asyncio.to_thread(health, service)) or {}).get("status") == "ok":
                service.became_ready, service.failures = True, 0
                return
            await asyncio.sleep(0.2)

    async def _pump(self, service: ServiceProcess, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        width = max(len(s.name) for s in self.processes)
        async for line in process.stdout:
            self.out(f"{service.name:>{width}} | {line.decode(errors='replace').rstrip()}")
        code = await process.wait()
        if self._stopping:
            return
        if not service.became_ready:
            service.failures += 1
        if code != 0 and service.failures < MAX_RESTARTS:
            service.restarts += 1
            self.out(f"{service.name:>{width}} | exited with {code}; restarting (restart {service.restarts})")
            await asyncio.sleep(min(2 ** service.failures * 0.25, 5))
            await self._spawn(service)
        elif not self.failed.done():
            crash_loop = f" {service.failures} times in a row without becoming ready" if code else ""
            self.failed.set_result(f"{service.name} exited with {code}{crash_loop}")

    async def stop(self) -> None:
        """Send SIGTERM to every process (graceful stop) and wait; SIGKILL what is still alive after 20 s."""
        self._stopping = True
        alive = [s.process for s in self.processes if s.process and s.process.returncode is None]
        for process in alive:
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in alive)), 20)
        except TimeoutError:
            for process in alive:
                if process.returncode is None:
                    process.kill()
        await asyncio.gather(*self._pumps, return_exceptions=True)


async def run_suite(options: SuiteOptions, until: Callable[[list[ServiceProcess]], Awaitable[None]] | None = None,
                    out: Callable[[str], None] = print) -> int:
    """Run the suite until Ctrl-C/SIGTERM, until ``until`` returns, or until a service keeps failing."""
    supervisor = Supervisor(plan(options), out)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await supervisor.start()
    finished = asyncio.create_task(until(supervisor.processes)) if until else loop.create_future()
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({stopped, supervisor.failed, finished}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        finished.cancel()
        stopped.cancel()
        await supervisor.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    if supervisor.failed.done():
        out(f"suite stopped: {supervisor.failed.result()}")
        return 1
    if finished.done() and not finished.cancelled():
        finished.result()  # an error while waiting for the end is the caller's to see
    return 0
