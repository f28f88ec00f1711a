"""Every metric the Grafana dashboard and the alert rules use is exported by a running service (or by RabbitMQ)."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import pytest

from tests.paths import ORCL_SAMPLE as ORCL
from tools.suite.processes import ServiceProcess, SuiteOptions, Supervisor, health, plan
from tools.suite.run import reset

from .support import alert_exprs, dashboard_exprs, exported_names, metric_names

BARS = 300

RABBITMQ_METRICS = {
    "rabbitmq_queue_messages": "ready + unacked messages of a queue",
    "rabbitmq_queue_messages_ready": "messages waiting for a consumer",
    "rabbitmq_queue_messages_unacked": "messages delivered and not yet acked",
    "rabbitmq_queue_consumers": "consumers of a queue",
}
"""RabbitMQ's own metrics the dashboard and the alerts may use: the per-object queue metrics of the
rabbitmq_prometheus plugin (``/metrics/per-object``, labels ``vhost`` and ``queue``). The local test broker does
not run that plugin, so these are an allow-list checked against the plugin's metric table by hand; any other
``rabbitmq_`` name fails the test until it is added here after the same check."""

PROMETHEUS_METRICS = {"up": "Prometheus's own: 1 while a target answers its scrape"}


@pytest.fixture
def options(broker_url: str, namespace: str, tmp_path: Path):
    lines = ORCL.read_text().splitlines(keepends=True)
    (tmp_path / "orcl.csv").write_text("".join(lines[: BARS + 1]))
    options = SuiteOptions(amqp_url=broker_url, namespace=namespace, state_dir=tmp_path / "state",
                           data=(tmp_path / "orcl.csv",), symbols=("ORCL",))
    yield options
    reset(options)


def test_metric_names_are_read_from_promql():
    expr = ('histogram_quantile(0.99, sum by (service, le) (rate(tradebus_x_bucket{a="b", c=~"d.+"}[5m])))'
            ' > on (service) max by (service) (other_metric) and up{job="j"} == 1e3 unless absent(z offset 5m)')

    assert metric_names(expr) == {"tradebus_x_bucket", "other_metric", "up", "z"}


def test_the_dashboard_and_the_alerts_use_the_metrics_they_are_about():
    used = {name for expr in dashboard_exprs() + alert_exprs() for name in metric_names(expr)}

    assert {"tradebus_events_consumed_total", "tradebus_handler_duration_seconds_bucket",
            "tradebus_portfolio_equity", "tradebus_portfolio_drawdown_ratio",
            "tradebus_portfolio_position_quantity", "rabbitmq_queue_messages_ready"} <= used


def scrape(process: ServiceProcess) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{process.port}/metrics", timeout=5) as response:
        return response.read().decode()


async def run_replay(processes: list[ServiceProcess]) -> dict[str, str]:
    """Run the suite until the replay traded and the portfolio published its gauges; return every /metrics page."""
    supervisor = Supervisor(processes, out=lambda line: None)
    by_name = {p.name: p for p in processes}
    try:
        await supervisor.start(ready_timeout=30)
        while True:
            assert not supervisor.failed.done(), supervisor.failed.result()
            data = await asyncio.to_thread(health, by_name["data"]) or {}
            portfolio = await asyncio.to_thread(health, by_name["portfolio"]) or {}
            if data.get("replay_done") and portfolio.get("fills", 0) >= 2:
                break
            await asyncio.sleep(0.1)
        return {p.name: await asyncio.to_thread(scrape, p) for p in processes}
    finally:
        await supervisor.stop()


@pytest.mark.integration
async def test_every_metric_of_the_dashboard_and_the_alerts_is_exported(options):
    processes = plan(options)
    for process in processes:
        if process.name == "portfolio":  # a risk limit, so the drawdown limit gauge has a value
            process.env |= {"TRADEBUS_PORTFOLIO_MAX_DRAWDOWN": "0.5", "TRADEBUS_PORTFOLIO_SNAPSHOT_INTERVAL_S": "0.2"}

    pages = await asyncio.wait_for(run_replay(processes), 60)

    exported = {name for page in pages.values() for name in exported_names(page)}
    assert "tradebus_portfolio_equity" in {s.split("{")[0] for s in pages["portfolio"].splitlines()}
    used = {name for expr in dashboard_exprs() + alert_exprs() for name in metric_names(expr)}
    rabbitmq = {name for name in used if name.startswith("rabbitmq_")}
    assert rabbitmq <= set(RABBITMQ_METRICS), f"not in the allow-list: {sorted(rabbitmq - set(RABBITMQ_METRICS))}"
    missing = used - rabbitmq - set(PROMETHEUS_METRICS) - exported
    assert not missing, f"used by the dashboard or the alerts but exported by no service: {sorted(missing)}"
