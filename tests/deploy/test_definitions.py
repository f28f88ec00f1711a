"""The broker's definitions: generated from the topology, committed as generated, least privilege by construction."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from deploy.broker_access import (
    INBOXES,
    NOTHING,
    ROLES,
    SERVICES,
    consumed_queues,
    inbox_prefix,
    password_variable,
    user_name,
)
from deploy.definitions import definitions
from deploy.generate import DEFINITIONS, RENDER_USERS, main, stale_files
from shared.messaging.topology import OPERATOR_COMMANDS, PUBLISHERS, ROUTES, SUITE, Topology

from .support import require_tool

TOPOLOGY = Topology()
COMMITTED = json.loads(DEFINITIONS.read_text())


def permissions_of(user: str) -> dict[str, str]:
    (entry,) = [p for p in COMMITTED["permissions"] if p["user"] == user]
    return entry


def topic_permissions_of(user: str) -> dict[str, tuple[str, str]]:
    return {p["exchange"]: (p["write"], p["read"]) for p in COMMITTED["topic_permissions"] if p["user"] == user}


def matches(regex: str, name: str) -> bool:
    return re.search(regex, name) is not None


def test_the_committed_generated_files_are_what_the_code_generates():
    assert stale_files() == [], "run: python deploy/generate.py"
    assert main(["--check"]) == 0


def test_the_definitions_hold_every_queue_and_exchange_of_the_suite_with_the_declare_arguments():
    queues = {q["name"]: q["arguments"] for q in COMMITTED["queues"]}
    for spec in TOPOLOGY.suite_queues():
        assert queues.pop(spec.name) == spec.arguments()
    for dlq in TOPOLOGY.dead_letter_queues():
        assert queues.pop(dlq.name) == {"x-queue-type": "quorum"}
    assert queues == {}
    exchanges = {e["name"]: e["type"] for e in COMMITTED["exchanges"]}
    assert exchanges == {**{name: "topic" for name in TOPOLOGY.topic_exchanges()},
                         TOPOLOGY.partitioned_market_exchange: "headers", TOPOLOGY.dead_letter_exchange: "direct"}


def test_every_binding_the_bus_would_make_is_in_the_definitions():
    bindings = {(b["source"], b["destination"], b["routing_key"], json.dumps(b["arguments"], sort_keys=True))
                for b in COMMITTED["bindings"]}
    for spec in TOPOLOGY.suite_queues():
        for binding in spec.bindings:
            key = "" if binding.headers else binding.pattern
            assert (binding.exchange, spec.name, key, json.dumps(dict(binding.headers), sort_keys=True)) in bindings
    for dlq in TOPOLOGY.dead_letter_queues():
        assert (TOPOLOGY.dead_letter_exchange, dlq.name, dlq.key, "{}") in bindings
    assert "ns.strategy.inbox.dlq".replace("ns", TOPOLOGY.namespace) in {d.name for d in TOPOLOGY.dead_letter_queues()}
    assert (TOPOLOGY.exchange("market"), TOPOLOGY.partitioned_market_exchange, "#", "{}") in bindings


@pytest.mark.parametrize("service", SERVICES)
def test_every_queue_a_service_consumes_is_granted_to_its_user_and_no_other_queue(service):
    read = permissions_of(user_name(service))["read"]
    own = {spec.name for spec in consumed_queues(TOPOLOGY, service)}
    subscribed = {TOPOLOGY.queue(s, p).name for (s, p), consumes in SUITE.items()
                  if s == service and consumes.mode == "shared"}
    assert subscribed <= own
    for queue in (q["name"] for q in COMMITTED["queues"]):
        assert matches(read, queue) == (queue in own), queue


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_configures_nothing_shared_and_writes_only_its_events_and_dead_letters(service):
    grant = permissions_of(user_name(service))
    for queue in (q["name"] for q in COMMITTED["queues"]):
        assert not matches(grant["configure"], queue), queue
    for exchange in (e["name"] for e in COMMITTED["exchanges"]):
        assert not matches(grant["configure"], exchange), exchange
    if service not in INBOXES:
        assert grant["configure"] == NOTHING
    expected = {TOPOLOGY.exchange(ROUTES[t][0]) for t in PUBLISHERS[service]} | {TOPOLOGY.dead_letter_exchange}
    for exchange in (e["name"] for e in COMMITTED["exchanges"]):
        assert matches(grant["write"], exchange) == (exchange in expected), exchange
    assert not matches(grant["write"], "amq.default")


@pytest.mark.parametrize("service", SERVICES)
def test_topic_permissions_let_a_service_publish_exactly_its_own_routing_keys(service):
    topics = topic_permissions_of(user_name(service))
    assert set(topics) == set(TOPOLOGY.topic_exchanges()), "every topic exchange restricted, none left open"
    for message_type in ROUTES:
        exchange, routing_key = TOPOLOGY.address_of(message_type.model_fields["type"].default, "BRK.B")
        assert matches(topics[exchange][0], routing_key) == (message_type in PUBLISHERS[service]), routing_key


@pytest.mark.parametrize("service", sorted(INBOXES))
def test_a_service_may_declare_bind_and_read_its_own_per_instance_inboxes_only(service):
    grant = permissions_of(user_name(service))
    for inbox in INBOXES[service]:
        mine = inbox_prefix(TOPOLOGY, service, inbox) + "worker-7.example-1234"
        assert all(matches(grant[right], mine) for right in ("configure", "write", "read"))
        for other in ("tradebus.execution.inbox.x", f"tradebus.{service}.other.x", "other." + mine):
            assert not any(matches(grant[right], other) for right in ("configure", "write", "read")), other


def test_the_brief_s_families_map_to_the_services():
    families = {service: {ROUTES[t] for t in types} for service, types in PUBLISHERS.items()}
    assert {f for f, _ in families["data"]} <= {"market", "control"}
    assert {k for f, k in families["data"] if f != "market"} <= {"history"}
    assert families["strategy"] <= {("signal", "generated"), ("command", "request_history"), ("control", "heartbeat")}
    assert {f for f, _ in families["execution"]} == {"order"}
    assert {f for f, _ in families["portfolio"]} == {"portfolio", "command"}
    assert {k for f, k in families["portfolio"] if f == "command"} == {"submit_order"}


def test_every_message_type_is_published_by_exactly_one_service_or_by_operators():
    owners = [t for types in PUBLISHERS.values() for t in types]
    assert len(owners) == len(set(owners))
    assert set(ROUTES) - set(owners) == set(OPERATOR_COMMANDS)


def test_the_admin_may_do_everything_and_the_monitor_nothing_in_the_vhost():
    assert permissions_of(user_name("admin")) | {"vhost": None} == {
        "user": "tradebus-admin", "vhost": None, "configure": ".*", "write": ".*", "read": ".*"}
    assert [p for p in COMMITTED["permissions"] if p["user"] == user_name("monitor")] == []


def test_definitions_carry_no_user_and_no_password():
    assert "users" not in COMMITTED
    assert "password" not in DEFINITIONS.read_text()


def test_definitions_for_another_vhost_and_prefix_rename_everything():
    other = definitions(Topology("ns1"), vhost="v1", user_prefix="p1")
    assert {p["user"] for p in other["permissions"]} == {f"p1-{r}" for r in ROLES if r != "monitor"}
    sections = ("queues", "exchanges", "bindings", "permissions")
    assert {entry["vhost"] for section in sections for entry in other[section]} == {"v1"}
    assert all(q["name"].startswith("ns1.") for q in other["queues"])


def render_users(env: dict[str, str], out: Path) -> subprocess.CompletedProcess[str]:
    sh = require_tool("sh")
    return subprocess.run([sh, str(RENDER_USERS), str(out)], env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True)


def test_render_users_writes_one_user_per_role_with_the_passwords_from_the_environment(tmp_path):
    passwords = {role: f"{role}-secret-0123456789" for role in ROLES}
    out = tmp_path / "definitions" / "01-users.json"

    result = render_users({password_variable(role): passwords[role] for role in ROLES}, out)

    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o077 == 0, "passwords readable by others"
    users = {u["name"]: u for u in json.loads(out.read_text())["users"]}
    assert set(users) == {user_name(role) for role in ROLES}
    assert {name: u["password"] for name, u in users.items()} == {user_name(r): p for r, p in passwords.items()}
    assert users["tradebus-admin"]["tags"] == ["administrator"]
    assert users["tradebus-monitor"]["tags"] == ["monitoring"]
    assert all(users[user_name(s)]["tags"] == [] for s in SERVICES)


@pytest.mark.parametrize("password, complaint", [("", "is not set"), ('quote"d-0123456789', "may hold only"),
                                                 ("short-1", "shorter than 12")])
def test_render_users_refuses_a_missing_unsafe_or_short_password(password, complaint, tmp_path):
    env = {password_variable(role): f"{role}-secret-0123456789" for role in ROLES}
    env[password_variable("data")] = password

    result = render_users(env, tmp_path / "01-users.json")

    assert result.returncode == 64 and not (tmp_path / "01-users.json").exists()
    assert password_variable("data") in result.stderr and complaint in result.stderr
