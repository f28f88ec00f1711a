"""docker compose: validated by docker-compose itself, then cross-checked with the definitions and the settings."""

from __future__ import annotations

import json
import os
import re
from fnmatch import fnmatch
from urllib.parse import unquote, urlsplit

import pytest

from deploy.broker_access import DEFAULT_VHOST, SERVICES, password_variable, user_name
from deploy.env_example import FIXED, SECRETS, SETTINGS, passed_through, variable
from deploy.generate import DEFINITIONS, ENV_EXAMPLE

from .support import (
    COMPOSE_FILE,
    DEPLOY,
    LIVE_OVERRIDE,
    ROOT,
    TLS_OVERRIDE,
    clean_env,
    compose_config,
    require_tool,
    run,
)

DOCKERFILE = DEPLOY / "Dockerfile"
TOOLS = {"rabbitmq", "prometheus", "grafana"}


@pytest.fixture(scope="module")
def config():
    return compose_config(COMPOSE_FILE)


def environment(service: dict) -> dict[str, str | None]:
    env = service.get("environment") or {}
    return env if isinstance(env, dict) else dict(item.split("=", 1) if "=" in item else (item, None) for item in env)


def test_compose_runs_the_broker_the_four_services_prometheus_and_grafana(config):
    assert set(config["services"]) == {*SERVICES, *TOOLS}


def test_compose_refuses_to_start_without_the_passwords(tmp_path):
    compose = require_tool("docker-compose")
    empty = tmp_path / "empty.env"
    empty.write_text("")

    result = run(compose, "--env-file", str(empty), "-f", str(COMPOSE_FILE), "config", env=clean_env())

    assert result.returncode != 0
    assert "_BROKER_PASSWORD" in result.stderr or "GRAFANA_ADMIN_PASSWORD" in result.stderr


def test_the_tls_override_is_valid_and_moves_every_service_to_amqps():
    config = compose_config(COMPOSE_FILE, TLS_OVERRIDE)

    for service in SERVICES:
        url = urlsplit(environment(config["services"][service])["AMQP_URL"])
        assert (url.scheme, url.port, url.query) == ("amqps", 5671, "cafile=/tls/ca.pem")
        assert any(volume.endswith(":/tls/ca.pem:ro") for volume in config["services"][service]["volumes"])
    assert "5671" in json.dumps(config["services"]["rabbitmq"]["ports"])


def test_the_live_override_streams_the_venue_in_dry_run_and_its_settings_parse(monkeypatch):
    config = compose_config(COMPOSE_FILE, LIVE_OVERRIDE)

    for service in ("data", "execution"):
        env = {key: value for key, value in environment(config["services"][service]).items() if value is not None}
        for key in list(os.environ):
            if key.startswith("TRADEBUS_"):
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = SETTINGS[service]()
        assert settings.venue.exchange == "binance"
    assert settings.venue.mode.value == "dry-run" and settings.symbols == ("BTC/USDT",)
    data = environment(config["services"]["data"])
    assert data["TRADEBUS_DATA_CSV_PATHS"] == "[]" and data["TRADEBUS_DATA_LIVE_SYMBOLS"] == '["BTC/USDT"]'


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_restarts_waits_for_a_healthy_broker_and_checks_its_own_health(config, service):
    spec = config["services"][service]
    port = SETTINGS[service].model_fields["metrics_port"].default

    assert spec["restart"] == "unless-stopped"
    assert spec["depends_on"] == {"rabbitmq": {"condition": "service_healthy"}}
    assert spec["command"] == [f"services.{service}"] and (ROOT / "services" / service / "__main__.py").exists()
    assert spec["healthcheck"]["test"] == ["CMD", "python", "/app/healthcheck.py", str(port)]
    assert environment(spec)[variable(service, "metrics_port")] == str(port)
    assert "container_name" not in spec


def test_strategy_scales_no_fixed_name_and_no_host_port(config):
    strategy = config["services"]["strategy"]

    assert "container_name" not in strategy and "ports" not in strategy
    assert strategy.get("expose") == ["9102"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_logs_in_as_its_own_user_of_the_definitions(config, service):
    url = urlsplit(environment(config["services"][service])["AMQP_URL"])
    definitions = json.loads(DEFINITIONS.read_text())

    assert url.username == user_name(service)
    assert url.username in {p["user"] for p in definitions["permissions"]}
    assert unquote(url.path.lstrip("/")) == DEFAULT_VHOST == definitions["vhosts"][0]["name"]
    assert url.password == f"throwaway-{password_variable(service).lower().replace('_', '-')}-change-me"


def test_every_password_comes_from_the_environment_and_none_is_committed():
    for path in (COMPOSE_FILE, TLS_OVERRIDE):
        text = path.read_text()
        for url in re.findall(r"amqps?://[^\s\"']+", text):
            assert re.match(r"amqps?://tradebus-[a-z]+:\$\{TRADEBUS_[A-Z]+_BROKER_PASSWORD:\?", url), url
    rabbitmq_env = environment(compose_config(COMPOSE_FILE)["services"]["rabbitmq"])
    assert {password_variable(r) for r in ("admin", "monitor", *SERVICES)} <= set(rabbitmq_env)


@pytest.mark.parametrize("service", SERVICES)
def test_compose_passes_every_setting_through_except_those_the_deployment_fixes(config, service):
    env = environment(config["services"][service])
    fixed = {variable(service, name) for name in FIXED} | {"AMQP_URL"}

    assert set(env) - fixed == set(passed_through(service))
    assert env[variable(service, "namespace")] == "tradebus"


def test_every_setting_the_deployment_sets_exists_in_the_services_settings(config):
    from .support import K8S, yaml_documents

    unknown = []
    for service in SERVICES:
        known = {variable(service, name) for name in SETTINGS[service].model_fields} | set(passed_through(service))
        for key in environment(config["services"][service]):
            if key != "AMQP_URL" and key not in known:
                unknown.append(f"compose {service}: {key}")
        for doc in yaml_documents(K8S / f"{service}.yaml"):
            for container in doc["spec"]["template"]["spec"]["containers"] if doc["kind"] == "Deployment" else ():
                unknown += [f"k8s {service}: {e['name']}" for e in container["env"]
                            if e["name"].startswith("TRADEBUS_") and e["name"] not in known]
    assert unknown == [], "the services do not read these (add the settings, e.g. declare_topology)"


def test_the_env_example_lists_every_variable_and_marks_the_credentials_throwaway():
    example = ENV_EXAMPLE.read_text()
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", example, re.M))
    referenced = {m for path in (COMPOSE_FILE, TLS_OVERRIDE) for m in re.findall(r"\$\{([A-Z0-9_]+)", path.read_text())}

    assert referenced <= listed
    assert {key for service in SERVICES for key in passed_through(service)} <= listed
    for secret in SECRETS:
        (value,) = re.findall(rf"^{secret}=(.*)$", example, re.M)
        assert value.startswith("throwaway-") and value.endswith("-change-me")
    assert "THROWAWAY" in example


def test_the_broker_mounts_its_config_definitions_and_users_renderer(config):
    rabbitmq = config["services"]["rabbitmq"]
    mounts = {str(v).split(":")[1] if isinstance(v, str) else v["target"]: v for v in rabbitmq["volumes"]}

    assert re.fullmatch(r"rabbitmq:\d+\.\d+(\.\d+)?-management", rabbitmq["image"])
    assert {"/etc/rabbitmq/conf.d/20-tradebus.conf", "/etc/rabbitmq/enabled_plugins",
            "/etc/rabbitmq/definitions/02-definitions.json", "/etc/rabbitmq/tradebus/render-users.sh",
            "/var/lib/rabbitmq"} <= set(mounts)
    assert rabbitmq["command"][:3] == ["sh", "/etc/rabbitmq/tradebus/render-users.sh",
                                       "/etc/rabbitmq/definitions/01-users.json"]
    assert rabbitmq["command"][3:] == ["docker-entrypoint.sh", "rabbitmq-server"]
    assert "rabbitmq_prometheus" in (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()
    conf = (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text()
    assert re.search(r"^load_definitions = /etc/rabbitmq/definitions$", conf, re.M)
    assert "test" in rabbitmq["healthcheck"]


def test_the_data_service_replays_by_default_a_sample_the_image_holds(config):
    (path,) = json.loads(environment(config["services"]["data"])[variable("data", "csv_paths")])
    copy = re.search(r"^COPY services/data/samples (\S+)$", DOCKERFILE.read_text(), re.M)

    assert path == f"{copy[1]}/{path.rsplit('/', 1)[1]}"
    assert (ROOT / "services" / "data" / "samples" / path.rsplit("/", 1)[1]).is_file()


# -- the image ---------------------------------------------------------------------------------------------------
def dockerfile_stages() -> list[list[str]]:
    lines = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text()).splitlines()
    instructions = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    stages: list[list[str]] = []
    for instruction in instructions:
        if instruction.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def dockerignored(path: str) -> bool:
    ignored = False
    for pattern in (line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()):
        if not pattern or pattern.startswith("#"):
            continue
        negated, glob = pattern.startswith("!"), pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        if any(fnmatch("/".join(parts[:i]), glob) for i in range(1, len(parts) + 1)):
            ignored = not negated
    return ignored


def test_the_image_is_multi_stage_slim_and_runs_as_a_non_root_user():
    stages = dockerfile_stages()
    final = stages[-1]

    assert len(stages) >= 2
    assert all("slim" in " ".join(stage[:1]) or "${PYTHON_IMAGE}" in stage[0] for stage in stages)
    assert "slim" in re.search(r"ARG PYTHON_IMAGE=(\S+)", DOCKERFILE.read_text())[1]
    (user,) = [i.split()[1] for i in final if i.upper().startswith("USER ")]
    assert user.split(":")[0] not in ("0", "root")
    assert final[-2:] == ['ENTRYPOINT ["python", "-m"]', 'CMD ["services.data"]']


def test_the_final_image_has_no_build_tools_and_no_secrets():
    final = " ".join(dockerfile_stages()[-1])

    assert not re.search(r"apt-get install|build-essential|\bgcc\b|pip install", final)
    assert not re.search(r"(PASSWORD|SECRET|TOKEN)", final, re.I)
    assert "COPY --from=build /opt/tradebus /opt/tradebus" in final


def test_the_build_context_holds_the_code_and_nothing_private():
    sources = [i.split()[1:-1] for stage in dockerfile_stages() for i in stage
               if i.upper().startswith("COPY ") and "--from" not in i]

    assert [s for group in sources for s in group if dockerignored(s)] == []
    for private in (".env", ".venv/bin/python", "var/run/ledger.db", "tests/conftest.py", ".git/config",
                    "deploy/tls/dev/server-key.pem"):
        assert dockerignored(private), private
    assert not dockerignored("shared/messaging/amqp.py") and dockerignored("shared/messaging/__pycache__/x.pyc")
