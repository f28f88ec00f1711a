"""A private RabbitMQ node for tests that restart or break the broker, never touching the shared one.

The node runs ``/usr/lib/rabbitmq/bin/rabbitmq-server`` directly (the ``/usr/sbin`` wrapper switches to the
rabbitmq user) with its own configuration, environment file, cookie, data, logs, node name and ports, all
under ``base_dir``: nothing of ``/etc/rabbitmq`` is read, so the system's ``NODENAME`` and its listener on
5672 stay with the shared node. Every ``rabbitmqctl`` call names this node with ``-n`` and runs with the
node's ``HOME``, whose ``.erlang.cookie`` is the only one this node accepts.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import string
import subprocess
import time
import uuid
from pathlib import Path
from types import TracebackType

import pika

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
RABBITMQ_SERVER = RABBITMQ_BIN / "rabbitmq-server"
RABBITMQCTL = RABBITMQ_BIN / "rabbitmqctl"
HOW_TO_GET_RABBITMQ = (f"{RABBITMQ_SERVER} is missing: the chaos tests start their own RabbitMQ node from the "
                       "Debian package (`apt-get install rabbitmq-server`)")

CTL_TIMEOUT = 120.0
POLL_INTERVAL = 0.5
STOP_TIMEOUT = 30.0


class BrokerError(RuntimeError):
    """The private node did not do what it was asked to."""


class PrivateBroker:
    """A RabbitMQ node of its own on 127.0.0.1, with every file it writes under ``base_dir``."""

    def __init__(self, base_dir: Path) -> None:
        """Name the node uniquely and pick two free ports; ``start`` writes the node's files under ``base_dir``."""
        self.base_dir = base_dir
        self.log_dir = base_dir / "log"
        self.node = f"tbchaos-{uuid.uuid4().hex[:10]}@localhost"
        self.port, self.dist_port = _free_ports(2)
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self._home = base_dir / "home"
        self._process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        return f"PrivateBroker({self.node}, {self.url}, logs in {self.log_dir})"

    def __enter__(self) -> PrivateBroker:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        """Boot the node and wait until ``rabbitmqctl await_startup`` succeeds and AMQP answers."""
        if self._process is not None and self._process.poll() is None:
            raise BrokerError(f"{self.node} is already running; logs in {self.log_dir}")
        if not RABBITMQ_SERVER.exists():
            raise BrokerError(HOW_TO_GET_RABBITMQ)
        self._write_files()
        deadline = time.monotonic() + timeout
        with open(self.log_dir / "server.out", "ab") as output:
            # its own session, so stop() can kill every process of the node, and only those
            self._process = subprocess.Popen(
                # erl keeps unknown flags as user flags: this one puts the node name in the beam's command
                # line, where `pgrep -f <node>` can find it (the node otherwise takes its name from the env)
                [str(RABBITMQ_SERVER), "-tradebus_private_broker", self.node],
                env=self._env(), cwd=self.base_dir, stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._await_startup(deadline)
            self._await_amqp(deadline)
        except BaseException:
            self.stop()
            raise

    def stop_app(self) -> None:
        """Stop the RabbitMQ application: the node stays up for ``rabbitmqctl``, AMQP refuses connections."""
        self.ctl("stop_app")

    def start_app(self, timeout: float = 60.0) -> None:
        """Start the RabbitMQ application again and wait until AMQP answers."""
        deadline = time.monotonic() + timeout
        self._ctl(["start_app"], timeout)
        self._await_amqp(deadline)

    def close_all_connections(self, reason: str = "chaos") -> None:
        """Close every client connection of every vhost, telling the clients ``reason``."""
        self.ctl("close_all_connections", "--global", reason)

    def stop(self) -> None:
        """Stop the node, killing its processes if it does not halt in time; do nothing if it is not running."""
        process = self._process
        if process is None:
            return
        # the group, not the script: the beam outlives the script if someone killed the script alone
        if _group_alive(process.pid):
            try:
                self._ctl(["stop"], STOP_TIMEOUT)
                process.wait(timeout=STOP_TIMEOUT)
            except (BrokerError, subprocess.TimeoutExpired):
                pass
            _kill_group(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)
        self._process = None

    def ctl(self, *args: str) -> str:
        """Run ``rabbitmqctl -n <node> args`` with the node's environment and return its output."""
        return self._ctl(list(args), CTL_TIMEOUT)

    def answers(self) -> bool:
        """Return whether an AMQP handshake with the node succeeds now."""
        params = pika.URLParameters(self.url)
        params.socket_timeout = 2
        params.stack_timeout = 5
        params.connection_attempts = 1
        try:
            pika.BlockingConnection(params).close()
        except Exception:  # noqa: BLE001 - any failure means "does not answer"
            return False
        return True

    def _ctl(self, args: list[str], timeout: float) -> str:
        command = [str(RABBITMQCTL), "-n", self.node, *args]
        try:
            result = subprocess.run(command, env=self._env(), capture_output=True, text=True, timeout=timeout,
                                    stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as error:
            raise BrokerError(f"{' '.join(command)} took over {timeout:.0f} s; logs in {self.log_dir}") from error
        if result.returncode != 0:
            raise BrokerError(f"{' '.join(command)} failed ({result.returncode}): "
                              f"{(result.stderr or result.stdout).strip()}; logs in {self.log_dir}")
        return result.stdout

    def _await_startup(self, deadline: float) -> None:
        # await_startup fails at once until the node is in epmd, then waits for the boot itself
        while True:
            self._fail_if_exited()
            left = max(1.0, deadline - time.monotonic())
            try:
                self._ctl(["await_startup", "--timeout", str(int(left))], left + 10)
                return
            except BrokerError as error:
                if time.monotonic() + POLL_INTERVAL >= deadline:
                    self._fail_if_exited()
                    raise BrokerError(f"{self.node} did not boot in time: {error}") from error
            time.sleep(POLL_INTERVAL)

    def _await_amqp(self, deadline: float) -> None:
        while not self.answers():
            self._fail_if_exited()
            if time.monotonic() >= deadline:
                raise BrokerError(f"{self.node} runs but AMQP on {self.url} does not answer; "
                                  f"logs in {self.log_dir}")
            time.sleep(POLL_INTERVAL)

    def _fail_if_exited(self) -> None:
        if self._process is None or self._process.poll() is not None:
            raise BrokerError(f"{self.node} exited: {self._last_words()} (see {self.log_dir / 'server.out'} and "
                              f"the other logs in {self.log_dir})")

    def _last_words(self) -> str:
        try:
            lines = [line for line in (self.log_dir / "server.out").read_text(errors="replace").splitlines()
                     if line.strip()]
        except OSError:
            return "no output"
        # Erlang's one-line reason for a failed boot; else whatever the node printed last
        reason = next((line for line in reversed(lines) if line.startswith("init terminating")), None)
        return (reason or (lines[-1] if lines else "no output"))[:400]

    def _write_files(self) -> None:
        for directory in (self._home, self.log_dir, self.base_dir / "mnesia", self.base_dir / "conf.d"):
            directory.mkdir(parents=True, exist_ok=True)
        (self.base_dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n")
        # read instead of /etc/rabbitmq/rabbitmq-env.conf, which names the shared node
        (self.base_dir / "rabbitmq-env.conf").write_text("")
        (self.base_dir / "enabled_plugins").write_text("[].\n")
        cookie = self._home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text("".join(secrets.choice(string.ascii_uppercase) for _ in range(32)))
            cookie.chmod(0o400)  # Erlang refuses a cookie others can read

    def _env(self) -> dict[str, str]:
        # built from scratch so no RABBITMQ_*, ERL_* or AMQP_* variable of the caller leaks into the node
        base = self.base_dir
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "HOME": str(self._home),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_CONFIG_FILES": str(base / "conf.d" / "*.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.log_dir),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            # what the system's rabbitmq-env.conf does for the shared node: distribution on loopback only
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }


def _free_ports(count: int) -> list[int]:
    """Return ``count`` distinct ports free on 127.0.0.1 now, below the kernel's ephemeral range."""
    # outgoing connections take their local ports from the ephemeral range; a port below it stays free
    # from when it is picked until the node (or its restarted app) binds it again
    low = _ephemeral_low()
    candidates = range(20000, low) if low > 21000 else range(20000, 30000)
    ports: list[int] = []
    while len(ports) < count:
        port = secrets.choice(candidates)
        if port not in ports and _bindable(port):
            ports.append(port)
    return ports


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
