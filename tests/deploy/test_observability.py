"""Prometheus and Grafana files: checked by promtool, the alert rules unit-tested, the dashboard cross-checked."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from deploy.broker_access import SERVICES
from deploy.env_example import SETTINGS

from .support import (
    ALERTS,
    COMPOSE_FILE,
    DASHBOARD,
    DEPLOY,
    compose_config,
    dashboard_exprs,
    metric_names,
    require_tool,
    run,
)

PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
REQUIRED_ALERTS = {"TradebusServiceDown", "TradebusDeadLettersWaiting", "TradebusConsumerLagGrowing",
                   "TradebusPublishConfirmsSlow", "TradebusDrawdownBeyondLimit", "TradebusTradingHalted"}


def promtool(*args: str) -> None:
    result = run(require_tool("promtool"), *args)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_the_prometheus_config():
    promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))


def test_promtool_accepts_the_alert_rules():
    promtool("check", "rules", str(ALERTS))


def test_the_alert_rules_pass_their_unit_tests():
    promtool("test", "rules", str(PROMETHEUS / "alerts.test.yml"))


def test_every_alert_the_issue_asks_for_exists_and_is_unit_tested():
    rules = yaml.safe_load(ALERTS.read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tested = {case["alertname"] for test in yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
              for case in test["alert_rule_test"]}

    assert REQUIRED_ALERTS <= alerts
    assert alerts <= tested


def test_every_dashboard_query_is_valid_promql(tmp_path):
    rules = {"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:query_{i}", "expr": expr}
                                                           for i, expr in enumerate(dashboard_exprs())]}]}
    (tmp_path / "dashboard-queries.yml").write_text(yaml.safe_dump(rules))

    promtool("check", "rules", str(tmp_path / "dashboard-queries.yml"))


def scrape_jobs() -> dict[str, dict]:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    return {job["job_name"]: job for job in config["scrape_configs"]}


@pytest.mark.parametrize("service", SERVICES)
def test_prometheus_scrapes_every_service_on_its_metrics_port(service):
    job = scrape_jobs()[f"tradebus-{service}"]
    port = SETTINGS[service].model_fields["metrics_port"].default

    if service == "strategy":  # every replica of --scale strategy=N
        (sd,) = job["dns_sd_configs"]
        assert (sd["names"], sd["port"]) == (["strategy"], port)
    else:
        assert job["static_configs"] == [{"targets": [f"{service}:{port}"]}]


def test_prometheus_scrapes_rabbitmq_per_queue_where_the_broker_serves_it():
    job = scrape_jobs()["rabbitmq"]
    conf = (DEPLOY / "rabbitmq" / "rabbitmq.conf").read_text()
    port = re.search(r"^prometheus\.tcp\.port = (\d+)$", conf, re.M)[1]

    assert job["metrics_path"] == "/metrics/per-object"
    assert job["static_configs"] == [{"targets": [f"rabbitmq:{port}"]}]
    assert "rabbitmq_prometheus" in (DEPLOY / "rabbitmq" / "enabled_plugins").read_text()


def test_the_alert_jobs_match_the_scrape_jobs():
    jobs = set(scrape_jobs())
    rules = ALERTS.read_text()

    assert all(f"tradebus-{service}" in jobs for service in SERVICES)
    assert re.search(r'up\{job=~"tradebus-\.\+"\}', rules) and 'job="tradebus-strategy"' in rules


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def test_the_dashboard_uses_the_provisioned_data_source():
    (source,) = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())["datasources"]
    panels = [p for p in dashboard()["panels"] if p["type"] != "row"]

    assert source["url"] == "http://prometheus:9090" and source["type"] == "prometheus"
    assert all(p["datasource"]["uid"] == source["uid"] for p in panels)
    assert all(t["datasource"]["uid"] == source["uid"] for p in panels for t in p["targets"])


def test_the_dashboard_panels_have_unique_ids_and_fit_the_grid():
    panels = dashboard()["panels"]
    cells = set()

    assert len({p["id"] for p in panels}) == len(panels)
    for panel in panels:
        box = panel["gridPos"]
        assert box["x"] + box["w"] <= 24
        cell = {(x, y) for x in range(box["x"], box["x"] + box["w"]) for y in range(box["y"], box["y"] + box["h"])}
        assert not cells & cell, f"{panel['title']} overlaps another panel"
        cells |= cell


@pytest.mark.parametrize("topic, pattern", [
    ("events per second per service and type", r"sum by \(service, type\) \(rate\(tradebus_events_consumed_total"),
    ("handler latency p50", r"histogram_quantile\(0\.5, .*tradebus_handler_duration_seconds_bucket"),
    ("handler latency p99", r"histogram_quantile\(0\.99, .*tradebus_handler_duration_seconds_bucket"),
    ("queue depth per queue", r"sum by \(queue\) \(rabbitmq_queue_messages_ready"),
    ("consumers per queue", r"sum by \(queue\) \(rabbitmq_queue_consumers"),
    ("dead letters", r"rabbitmq_queue_messages\{[^}]*dlq"),
    ("equity", r"tradebus_portfolio_equity"),
    ("drawdown", r"tradebus_portfolio_drawdown_ratio"),
    ("positions", r"tradebus_portfolio_position_quantity"),
    ("fills and rejects", r"OrderFilled\|OrderRejected"),
])
def test_the_dashboard_shows(topic, pattern):
    assert any(re.search(pattern, expr) for expr in dashboard_exprs()), topic


def test_grafana_provisioning_matches_the_compose_mounts():
    config = compose_config(COMPOSE_FILE)
    grafana = config["services"]["grafana"]
    mounts = {v.split(":")[1] if isinstance(v, str) else v["target"] for v in grafana["volumes"]}
    (provider,) = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "tradebus.yml").read_text())["providers"]

    assert {"/etc/grafana/provisioning", provider["options"]["path"]} <= mounts
    assert grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"].endswith(DASHBOARD.name)


def test_the_dashboard_queries_only_tradebus_rabbitmq_and_scrape_metrics():
    names = {name for expr in dashboard_exprs() for name in metric_names(expr)}
    assert all(re.fullmatch(r"(tradebus|rabbitmq)_[a-z0-9_]+|up", name) for name in names), names
