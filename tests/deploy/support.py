"""Helpers of the deployment tests: repository paths, external tools, YAML documents, PromQL metric names."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
TLS_OVERRIDE = DEPLOY / "compose.tls.yml"
LIVE_OVERRIDE = DEPLOY / "compose.live.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "tradebus.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
K8S = DEPLOY / "k8s"

INSTALLED_BY_CI = {"docker-compose": "docker-compose", "promtool": "prometheus", "rabbitmqctl": "rabbitmq-server"}


def require_tool(name: str) -> str:
    """Return the path of ``name``; skip the test when it is missing here, fail when it is missing in CI."""
    path = shutil.which(name)
    if path is not None:
        return path
    package = INSTALLED_BY_CI.get(name, name)
    message = f"{name} is not installed (Debian package {package}; bash .ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must run this check", pytrace=False)
    pytest.skip(message)


def run(*command: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run ``command`` and return its completed process (output captured, never raising on failure)."""
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def yaml_documents(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the non-empty YAML documents of ``path``."""
    yield from (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


def compose_config(*files: Path, env_file: str = ".env.example") -> dict[str, Any]:
    """Return the configuration ``docker-compose config`` resolves from ``files`` and ``env_file``."""
    compose = require_tool("docker-compose")
    arguments = [a for f in files or (COMPOSE_FILE,) for a in ("-f", str(f))]
    result = run(compose, "--env-file", env_file, *arguments, "config", env=clean_env())
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def clean_env() -> dict[str, str]:
    """Return the environment without any tradebus or Grafana variable, so only the env file speaks."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TRADEBUS_", "GRAFANA_", "AMQP_URL"))}


# -- PromQL ---------------------------------------------------------------------------------------------------
_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
             "group_right", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Return the metric names a PromQL expression selects (functions, keywords and labels left out)."""
    expr = _GROUPING.sub(" ", _RANGES.sub(" ", _MATCHERS.sub(" ", _STRING.sub(" ", expr))))
    names = set()
    for match in _IDENTIFIER.finditer(expr):
        if expr[match.end():].lstrip().startswith("(") or match.group().lower() in _KEYWORDS:
            continue
        names.add(match.group())
    return names


_SUFFIXES = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
             "summary": ("", "_sum", "_count", "_created"), "gauge": ("",), "unknown": ("",), "info": ("_info",),
             "stateset": ("",), "gaugehistogram": ("_bucket", "_gsum", "_gcount")}


def exported_names(metrics_text: str) -> set[str]:
    """Return every series name a ``/metrics`` page exports, including families that have no sample yet."""
    names = set()
    for family in text_string_to_metric_families(metrics_text):
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


def dashboard_exprs() -> list[str]:
    """Return every PromQL expression of the Grafana dashboard's panels."""
    import json

    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def alert_exprs() -> list[str]:
    """Return every PromQL expression of the Prometheus alert rules."""
    rules = yaml.safe_load(ALERTS.read_text())
    return [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
