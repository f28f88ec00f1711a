"""A throwaway vhost on the local broker holding the deployment's definitions, its users and their rights.

The users come from ``deploy/rabbitmq/render-users.sh`` (the script the broker container runs) with random
passwords, renamed with a random prefix so parallel runs never share a user; the vhost, permissions, topic
permissions and topology come from ``deploy.definitions`` for a random namespace. ``rabbitmqctl
import_definitions`` loads both, as the broker does at boot. ``close`` deletes the vhost (and so everything in
it) and the users.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

import pika
import pytest

from deploy.broker_access import ROLES, password_variable, user_name
from deploy.definitions import definitions
from deploy.generate import RENDER_USERS
from shared.messaging.topology import Topology

from .support import require_tool

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass
class ThrowawayBroker:
    """Users with least-privilege rights in their own vhost on the broker at ``host``:``port``."""

    rabbitmqctl: str
    host: str
    port: int
    topology: Topology
    vhost: str
    prefix: str
    passwords: dict[str, str] = field(default_factory=dict)

    def url(self, role: str) -> str:
        """Return the AMQP URL ``role``'s user logs in with."""
        return (f"amqp://{user_name(role, self.prefix)}:{self.passwords[role]}@{self.host}:{self.port}/"
                f"{quote(self.vhost, safe='')}")

    def connect(self, role: str) -> pika.BlockingConnection:
        """Open a connection as ``role``'s user."""
        params = pika.URLParameters(self.url(role))
        params.socket_timeout = 10
        return pika.BlockingConnection(params)

    def ctl(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run([self.rabbitmqctl, "-q", *args], input=stdin, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, f"rabbitmqctl {' '.join(args)}: {result.stdout}{result.stderr}"
        return result.stdout

    def open(self, work_dir: Path) -> None:
        """Render the users, import them and the definitions, and wait until every binding is in place."""
        env = {"PATH": "/usr/bin:/bin", **{password_variable(r): p for r, p in self.passwords.items()}}
        users_file = work_dir / "01-users.json"
        rendered = subprocess.run(["sh", str(RENDER_USERS), str(users_file)], env=env, capture_output=True,
                                  text=True)
        assert rendered.returncode == 0, rendered.stderr
        users = json.loads(users_file.read_text())["users"]
        for user in users:
            user["name"] = self.prefix + user["name"].removeprefix("tradebus")
        document = {"users": users, **definitions(self.topology, self.vhost, self.prefix)}
        # through stdin: Debian's rabbitmqctl runs as the rabbitmq user, who may not read the test's files
        self.ctl("import_definitions", "--format", "json", stdin=json.dumps(document))
        self._wait_for_bindings(len(document["bindings"]))

    def _wait_for_bindings(self, expected: int, timeout: float = 30.0) -> None:
        # the import may finish after the command returns: wait for its last step, the bindings
        deadline = time.monotonic() + timeout
        while True:
            listed = self.ctl("list_bindings", "-p", self.vhost, "source_name").splitlines()
            named = [line for line in listed[1:] if line.strip()]  # the default exchange's have no source name
            if len(named) >= expected:
                return
            assert time.monotonic() < deadline, f"{len(named)} of {expected} bindings imported"
            time.sleep(0.2)

    def close(self) -> None:
        """Delete the vhost and the users."""
        subprocess.run([self.rabbitmqctl, "-q", "delete_vhost", self.vhost], capture_output=True, timeout=60)
        for role in ROLES:
            subprocess.run([self.rabbitmqctl, "-q", "delete_user", user_name(role, self.prefix)],
                           capture_output=True, timeout=60)


def throwaway_broker(broker_url: str, work_dir: Path) -> ThrowawayBroker:
    """Return an opened ``ThrowawayBroker`` on the broker of ``broker_url`` (which must run on this machine)."""
    parts = urlsplit(broker_url)
    if parts.hostname not in LOCAL_HOSTS:
        pytest.skip(f"rabbitmqctl manages the local node only; the broker is at {parts.hostname}")
    suffix = uuid.uuid4().hex[:10]
    broker = ThrowawayBroker(require_tool("rabbitmqctl"), parts.hostname or "localhost", parts.port or 5672,
                             Topology(f"tbacc{suffix}"), f"tradebus-test-{suffix}", f"tbtest{suffix}",
                             {role: secrets.token_hex(16) for role in ROLES})
    try:
        broker.open(work_dir)
    except BaseException:
        broker.close()
        raise
    return broker
