"""The four services, each logged in as its own least-privilege user on a broker whose definitions pre-declare the
topology (as in docker compose and Kubernetes), trade a short replay without a single refusal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from deploy.broker_access import SERVICES
from tests.paths import ORCL_SAMPLE as ORCL
from tools.suite.processes import ServiceProcess, SuiteOptions, Supervisor, health, plan

from .throwaway_broker import ThrowawayBroker, throwaway_broker

pytestmark = pytest.mark.integration

BARS = 300  # enough for sma_cross(10, 30) to trade a few times


@pytest.fixture
def broker(broker_url: str, tmp_path: Path):
    broker = throwaway_broker(broker_url, tmp_path)
    yield broker
    broker.close()


def short_replay(tmp_path: Path) -> Path:
    lines = ORCL.read_text().splitlines(keepends=True)
    path = tmp_path / "orcl-short.csv"
    path.write_text("".join(lines[: BARS + 1]))
    return path


def least_privilege_processes(broker: ThrowawayBroker, tmp_path: Path) -> list[ServiceProcess]:
    options = SuiteOptions(amqp_url="amqp://unused", namespace=broker.topology.namespace,
                           state_dir=tmp_path / "state", data=(short_replay(tmp_path),), symbols=("ORCL",))
    processes = plan(options)
    for process in processes:
        service = process.module.removeprefix("services.")
        prefix = f"TRADEBUS_{service.upper()}_"
        process.env |= {"AMQP_URL": broker.url(service), f"{prefix}DECLARE_TOPOLOGY": "false"}
    return processes


async def replay_traded(processes: list[ServiceProcess], supervisor: Supervisor) -> dict:
    by_name = {p.name: p for p in processes}
    while not supervisor.failed.done():
        data = await asyncio.to_thread(health, by_name["data"])
        portfolio = await asyncio.to_thread(health, by_name["portfolio"])
        if (data or {}).get("replay_done") and (portfolio or {}).get("fills", 0) >= 2:
            return portfolio
        await asyncio.sleep(0.1)
    raise AssertionError(f"the suite failed: {supervisor.failed.result()}")


async def test_the_services_trade_with_only_their_own_users_rights(broker, tmp_path):
    processes = least_privilege_processes(broker, tmp_path)
    assert {p.module for p in processes} == {f"services.{s}" for s in SERVICES}
    log: list[str] = []
    supervisor = Supervisor(processes, out=log.append)
    try:
        await asyncio.wait_for(supervisor.start(ready_timeout=30), 40)
        portfolio = await asyncio.wait_for(replay_traded(processes, supervisor), 40)
    except (AssertionError, TimeoutError) as error:
        refusals = [line for line in log if "ACCESS_REFUSED" in line or "exited with" in line]
        raise AssertionError(f"{error!r}; refusals and exits:\n" + "\n".join(refusals[-20:] or log[-30:])) from None
    finally:
        await supervisor.stop()

    assert portfolio["fills"] >= 2
    assert [p.name for p in processes if p.restarts] == []
    assert not [line for line in log if "ACCESS_REFUSED" in line]
