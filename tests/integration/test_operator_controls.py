"""``tradebus status``, ``halt``, ``resume`` and ``flatten`` against the real portfolio and execution services on the
real broker: each command goes over RabbitMQ and the tool waits for the event that confirms it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from services.execution.bootstrap import bootstrap as execution
from services.execution.order_flow import OrderFlow
from services.execution.settings import ExecutionSettings
from services.portfolio.bootstrap import bootstrap as portfolio
from services.portfolio.handlers import PortfolioDeps
from services.portfolio.settings import PortfolioSettings
from shared.contracts import Message, SubmitOrder
from shared.messaging.amqp import AmqpBus
from shared.messaging.topology import Topology
from shared.runtime.service import ServiceRunner
from tests.factories import T0, bar, submit_order
from tools.cli import main

pytestmark = pytest.mark.integration
DAY = timedelta(days=1)


@dataclass
class Suite:
    """The portfolio and execution services running in this process, and a bus to feed them."""

    bus: AmqpBus
    flow: OrderFlow
    book: PortfolioDeps
    namespace: str
    bars: int = 0

    async def publish(self, *messages: Message) -> None:
        for message in messages:
            await self.bus.publish(message)

    @property
    def now(self) -> datetime:
        """Return the event time of the last bar (orders are placed at it, to fill at the next bar's open)."""
        return T0 + self.bars * DAY

    def order(self, client_order_id: str, quantity: int, **fields: object) -> SubmitOrder:
        return submit_order(client_order_id=client_order_id, quantity=Decimal(quantity), ts_event=self.now,
                            ts_init=self.now, **fields)

    async def next_bar(self, close: str) -> None:
        self.bars += 1
        when = self.now
        price = Decimal(close)
        await self.publish(bar(ts_event=when, ts_init=when, sequence=self.bars, open=price, high=price, low=price,
                               close=price))

    async def until(self, condition, what: str, timeout: float = 10.0) -> None:  # noqa: ANN001
        for _ in range(int(timeout / 0.05)):
            if condition():
                return
            await asyncio.sleep(0.05)
        orders = {o.client_order_id: (o.status.value, o.reason) for o in self.flow.store.open_orders()}
        raise AssertionError(f"timed out waiting for {what}; open orders {orders}")

    async def tool(self, *argv: str, timeout: float = 10.0) -> int:
        """Run ``tradebus <argv>`` against this suite's namespace (in a thread: the tools are blocking)."""
        return await asyncio.to_thread(main, [*argv, "--namespace", self.namespace, "--timeout", str(timeout)])


@pytest.fixture
async def suite(broker_url: str, topology: Topology, tmp_path: Path, pytestconfig: pytest.Config
                ) -> AsyncIterator[Suite]:
    common = dict(amqp_url=broker_url, namespace=topology.namespace, delivery_limit=topology.delivery_limit,
                  metrics_port=0, log_json=False)
    apps = [portfolio(PortfolioSettings.isolated(**common, state_dir=tmp_path / "portfolio")),
            execution(ExecutionSettings.isolated(**common, state_dir=tmp_path / "execution",
                                                 sizing={"quantity": "10"}))]
    runners = [ServiceRunner(app) for app in apps]
    for runner in runners:
        await runner.start()
    feeder = AmqpBus(broker_url, topology=topology, service="test-feeder")
    await feeder.start()
    try:
        yield Suite(feeder, apps[1].deps, apps[0].deps, topology.namespace)
    finally:
        await feeder.close()
        for runner in reversed(runners):
            await runner.stop()
        delete = pytestconfig.pluginmanager.get_plugin(str(Path(__file__).parents[1] / "conftest.py")).delete_namespace
        delete(broker_url, topology, {spec.name for spec in topology.suite_queues()}
               | {dlq.name for dlq in topology.dead_letter_queues()})


async def test_status_halt_flatten_resume_each_confirmed_over_the_broker(
        suite: Suite, capsys: pytest.CaptureFixture[str]) -> None:
    await suite.next_bar("100")
    await suite.publish(suite.order("entry-1", 10),
                        suite.order("resting-1", 5, order_type="limit", limit_price=Decimal(50)))
    await suite.until(lambda: len(suite.flow.account.working) == 2, "both orders working")
    await suite.next_bar("101")  # the market order fills at this bar's open
    await suite.until(lambda: suite.book.ledger.positions(), "the position in the books")

    assert await suite.tool("status") == 0
    status = capsys.readouterr().out
    assert "mode replay, orders go to paper" in status and "trading" in status
    assert re.search(r"sma_cross .*ORCL .*10 .*101", status), status
    assert "resting-1" in status and "entry-1" not in status  # filled orders are not working

    assert await suite.tool("halt", "--reason", "fat finger") == 0
    assert "trading halted: operator: fat finger" in capsys.readouterr().out
    await suite.until(lambda: not suite.flow.account.working, "the resting entry canceled by the halt")
    assert suite.flow.account.halted and suite.book.guard.halted
    await suite.publish(suite.order("entry-2", 1))
    await suite.until(lambda: (order := suite.flow.store.get("entry-2")) is not None and order.is_terminal,
                      "the new entry refused")
    assert "trading halted" in (suite.flow.store.get("entry-2").reason or "")
    assert suite.book.ledger.positions()[0].quantity == 10  # a halt closes nothing

    flatten = asyncio.create_task(suite.tool("flatten", timeout=15))
    await suite.until(lambda: any(o.reduce_only for o in suite.flow.account.working.values()), "the exit order")
    await suite.next_bar("99")
    assert await flatten == 0
    assert re.search(r"exit:sma_cross:ORCL:\S+: filled 10 ORCL, last at 99", capsys.readouterr().out)
    assert not suite.book.ledger.positions()

    assert await suite.tool("flatten") == 0
    assert "nothing to flatten" in capsys.readouterr().out

    assert await suite.tool("resume") == 0
    assert "trading resumed" in capsys.readouterr().out
    assert not suite.flow.account.halted and not suite.book.guard.halted
    await suite.publish(suite.order("entry-3", 1))
    await suite.until(lambda: "entry-3" in suite.flow.account.working, "a new entry accepted after the resume")


async def test_a_tool_without_a_running_suite_says_so_in_one_line(
        broker_url: str, namespace: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["halt", "--namespace", namespace, "--timeout", "1"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "does not exist" in error
