"""The four services as separate processes over the real broker reach the backtest's result, crashes included."""

from __future__ import annotations

import asyncio
import signal
from decimal import Decimal
from pathlib import Path

import pytest

from shared.messaging.topology import Topology
from tests.paths import ORCL_SAMPLE as ORCL
from tools.suite.processes import ServiceProcess, SuiteOptions, health, run_suite
from tools.suite.progress import settled
from tools.suite.run import reset

BACKTEST_FINAL_VALUE = Decimal("102646.0652")  # tests/parity/test_backtest.py: the backtester's result

pytestmark = pytest.mark.integration


@pytest.fixture
def options(broker_url: str, namespace: str, tmp_path: Path):
    options = SuiteOptions(amqp_url=broker_url, namespace=namespace, state_dir=tmp_path / "state", data=(ORCL,),
                           symbols=("ORCL",))
    yield options
    reset(options)


async def run_until_settled(options: SuiteOptions, meanwhile=None) -> dict:
    reports: dict = {}

    async def until(processes: list[ServiceProcess]) -> None:
        if meanwhile is not None:
            await meanwhile(processes)
        reports.update(await settled(processes, options.amqp_url, Topology(options.namespace)))

    assert await asyncio.wait_for(run_suite(options, until=until, out=lambda line: None), 240) == 0
    return reports


async def fills_reach(processes: list[ServiceProcess], count: int) -> None:
    portfolio = next(p for p in processes if p.name == "portfolio")
    while ((await asyncio.to_thread(health, portfolio)) or {}).get("fills", 0) < count:
        await asyncio.sleep(0.05)


def kill(processes: list[ServiceProcess], name: str) -> None:
    service = next(p for p in processes if p.name == name)
    assert service.process is not None
    service.process.send_signal(signal.SIGKILL)


async def test_four_processes_over_rabbitmq_reach_the_backtest_final_value(options):
    reports = await run_until_settled(options)

    portfolio = reports["portfolio"]
    assert Decimal(portfolio["equity"]) == BACKTEST_FINAL_VALUE
    assert (portfolio["fills"], portfolio["closed_trades"]) == (195, 97)
    assert portfolio["positions"] == {"sma_cross/ORCL": "100"}


async def test_killing_portfolio_and_execution_mid_replay_loses_nothing_and_applies_no_fill_twice(options):
    async def crash_twice(processes: list[ServiceProcess]) -> None:
        await fills_reach(processes, 40)
        kill(processes, "portfolio")  # the supervisor restarts it: it rebuilds its ledger from SQLite
        await fills_reach(processes, 120)
        kill(processes, "execution")  # restarted: reconciles with the paper broker, republishes its outbox

    reports = await run_until_settled(options, crash_twice)

    portfolio = reports["portfolio"]
    assert Decimal(portfolio["equity"]) == BACKTEST_FINAL_VALUE
    assert (portfolio["fills"], portfolio["closed_trades"]) == (195, 97)
