"""The execution (and portfolio) service as real processes over RabbitMQ, trading on the local Binance emulator.

The emulator runs in the test's event loop; the services are separate processes that reach it over TCP, so a
``kill -9`` of a service leaves the venue, its orders and its fills alive, as a crash does in production.
"""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.request
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.execution.adapters.sqlite_store import SqliteOrderStore
from services.execution.domain.orders import OrderStatus
from shared.contracts import (
    BalancesDiffered,
    BalancesObserved,
    Message,
    OrderAccepted,
    OrderFilled,
    OrderRejected,
    SubmitOrder,
)
from shared.messaging.amqp import AmqpBus
from shared.messaging.bus import Subscription
from shared.messaging.topology import Topology
from tests.conftest import delete_namespace
from tests.emulators.binance import BinanceEmulator
from tests.factories import submit_order
from tools.suite.processes import free_port, process_env

pytestmark = pytest.mark.integration

BTC = "BTC/USDT"
KEY, SECRET = "e2e-key", "e2e-secret"
TIMEOUT = 15.0
WATCHED = (OrderAccepted, OrderFilled, OrderRejected, BalancesObserved, BalancesDiffered)


@dataclass
class Events:
    """Every watched event the services publish, in arrival order; ``until`` waits on arrival, not on a clock."""

    seen: list[Message] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def record(self, message: Message) -> None:
        async with self._arrived:
            self.seen.append(message)
            self._arrived.notify_all()

    def of(self, kind: type[Message], client_order_id: str | None = None) -> list[Any]:
        return [m for m in self.seen if isinstance(m, kind)
                and (client_order_id is None or getattr(m, "client_order_id", None) == client_order_id)]

    async def until(self, found: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
        async with self._arrived:
            try:
                await asyncio.wait_for(self._arrived.wait_for(found), timeout)
            except TimeoutError:
                kinds = [type(m).__name__ for m in self.seen]
                raise AssertionError(f"waited {timeout}s for {what}; seen {kinds}") from None
        return found()


class Service:
    """One service process (``python -m services.<name>``), its log in a file, its /health on a free port."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name, self.env, self.log = name, env, log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", f"services.{self.name}", env=self.env, stdout=out, stderr=out)
        port = self.env[f"TRADEBUS_{self.name.upper()}_METRICS_PORT"]
        await self._poll(lambda: (self.health_at(port) or {}).get("status") == "ok", "healthy")

    def health_at(self, port: str) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as response:
                return json.loads(response.read())
        except (OSError, ValueError):
            return None

    def health(self) -> dict[str, Any]:
        return self.health_at(self.env[f"TRADEBUS_{self.name.upper()}_METRICS_PORT"]) or {}

    async def _poll(self, done: Callable[[], bool], what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while not await asyncio.to_thread(done):
            assert self.process is not None and self.process.returncode is None, f"{self.name} exited:\n{self.tail()}"
            assert loop.time() < deadline, f"{self.name} not {what} within {TIMEOUT}s:\n{self.tail()}"
            await asyncio.sleep(0.1)

    async def kill(self) -> None:
        """``kill -9``: nothing is flushed, closed or acknowledged."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), TIMEOUT)
            except TimeoutError:
                await self.kill()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Harness:
    """The venue, the bus the test publishes commands on, what the services announce, and their processes."""

    venue: BinanceEmulator
    bus: AmqpBus
    events: Events
    url: str
    namespace: str
    state: Path
    services: list[Service] = field(default_factory=list)

    def service(self, name: str, **settings: str) -> Service:
        venue = {"VENUE__EXCHANGE": "binance", "VENUE__MODE": "sandbox", "VENUE__API_KEY": KEY,
                 "VENUE__SECRET": SECRET, "VENUE__ENDPOINT": self.venue.rest_url, "VENUE__TIMEOUT_MS": "1000",
                 "SYMBOLS": json.dumps([BTC]), "SIZING__LOT_SIZE": "0.00000001", "RECONCILE_INTERVAL_S": "0.5",
                 "BALANCES_INTERVAL_S": "0.5"} if name == "execution" else {"ACCOUNT_CURRENCY": "USDT"}
        common = {"STATE_DIR": str(self.state / name), "INSTANCE_ID": name, "DELIVERY_LIMIT": "3"}
        env = process_env(self.url, self.namespace, name, free_port(), venue | common | settings)
        service = Service(name, env, self.state / f"{name}.log")
        self.services.append(service)
        return service

    async def submit(self, client_order_id: str, **fields: Any) -> SubmitOrder:
        now = datetime.now(timezone.utc)
        command = submit_order(client_order_id=client_order_id, symbol=BTC, quantity=Decimal("0.1"), ts_event=now,
                               ts_init=now, **fields)
        await self.bus.publish(command)
        return command

    async def reconciliations(self, rounds: int) -> None:
        """Wait until the execution service has asked the venue for its open orders ``rounds`` more times: every
        reconciliation round does, so whatever one round would announce twice has been announced by then."""
        start = self.venue.requests_to("/api/v3/openOrders")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while self.venue.requests_to("/api/v3/openOrders") < start + rounds:
            assert loop.time() < deadline, f"no {rounds} reconciliation rounds within {TIMEOUT}s"
            await asyncio.sleep(0.05)


@pytest.fixture
async def harness(broker_url: str, namespace: str, tmp_path: Path) -> AsyncIterator[Harness]:
    topology = Topology(namespace, delivery_limit=3)
    events = Events()
    async with BinanceEmulator(balances={"USDT": "10000", "BTC": "0"}, api_key=KEY, secret=SECRET) as venue:
        await venue.quote(BTC, "100", "101", "5", "5")
        bus = AmqpBus(broker_url, topology=topology, service="test")
        await bus.start()
        watch = topology.service_queue("test", "watch", topology.bind(*WATCHED))
        await bus.subscribe(Subscription(watch, {kind: events.record for kind in WATCHED}))
        harness = Harness(venue, bus, events, broker_url, namespace, tmp_path)
        try:
            yield harness
        finally:
            for service in harness.services:
                await service.kill()
            await bus.close()
            delete_namespace(broker_url, topology, bus.declared_queues
                             | {spec.name for spec in topology.suite_queues()}
                             | {dlq.name for dlq in topology.dead_letter_queues()})


async def test_kill_9_with_orders_resting_on_the_venue_recovers_them_and_announces_the_missed_fill_once(
        harness: Harness) -> None:
    venue, events = harness.venue, harness.events
    execution = harness.service("execution")
    await execution.start()
    await harness.submit("rest-fills", order_type="limit", limit_price=Decimal("90"))
    await harness.submit("rest-stays", order_type="limit", limit_price=Decimal("80"))
    await events.until(lambda: len(events.of(OrderAccepted)) == 2, "both orders accepted")
    assert venue.order("rest-fills") is not None and venue.order("rest-stays") is not None

    await execution.kill()
    await venue.trade(BTC, "90", "0.1")  # fills rest-fills on the venue while the service is down
    assert venue.order("rest-fills")["status"] == "FILLED"
    await execution.start()  # the same state directory: the store of the killed process
    [filled] = await events.until(lambda: events.of(OrderFilled, "rest-fills"), "the missed fill announced")
    await harness.reconciliations(3)

    trade_id = venue.order("rest-fills")["fills"][0]["tradeId"]
    assert len(events.of(OrderFilled, "rest-fills")) == 1
    assert (filled.fill_id, filled.quantity, filled.price) == (f"binance:{trade_id}", Decimal("0.1"), Decimal("90"))
    assert (filled.commission, filled.commission_currency) == (Decimal("0.0001"), "BTC")
    assert venue.orders_with("rest-fills") == 1 and venue.orders_with("rest-stays") == 1
    assert venue.order("rest-stays")["status"] == "NEW"
    assert execution.health()["working_orders"] == 1
    assert events.of(OrderFilled, "rest-stays") == [] and events.of(OrderRejected) == []
    await execution.stop()
    store = SqliteOrderStore(harness.state / "execution" / "orders.sqlite")
    try:
        assert store.get("rest-fills").status is OrderStatus.FILLED
        assert store.get("rest-stays").status is OrderStatus.ACCEPTED
        assert [order.client_order_id for order in store.open_orders()] == ["rest-stays"]
    finally:
        store.close()


async def test_an_order_whose_answer_is_lost_is_found_by_reconciliation_and_placed_once(harness: Harness) -> None:
    venue, events = harness.venue, harness.events
    execution = harness.service("execution")
    await execution.start()
    venue.lose_responses("/api/v3/order", count=1, method="POST")

    await harness.submit("lost-answer")  # a market buy: fills at the ask, 101, and ccxt never hears so
    [filled] = await events.until(lambda: events.of(OrderFilled, "lost-answer"), "the fill of the lost order")
    await harness.reconciliations(3)

    assert venue.orders_with("lost-answer") == 1
    assert len(events.of(OrderAccepted, "lost-answer")) == 1
    assert len(events.of(OrderFilled, "lost-answer")) == 1
    assert (filled.quantity, filled.price, filled.commission_currency) == (Decimal("0.1"), Decimal("101"), "BTC")
    assert events.of(OrderRejected) == []
    assert execution.health()["working_orders"] == 0


async def test_balances_agree_after_a_fill_and_a_deposit_the_books_did_not_make_is_reported(
        harness: Harness) -> None:
    venue, events = harness.venue, harness.events
    portfolio, execution = harness.service("portfolio"), harness.service("execution", BALANCES_INTERVAL_S="0.3")
    await portfolio.start()
    await execution.start()
    await harness.submit("bought")
    [filled] = await events.until(lambda: events.of(OrderFilled, "bought"), "the fill")

    def compared_after_the_fill() -> int:
        return sum(1 for m in events.of(BalancesObserved) if m.last_fill_id == filled.fill_id)

    await events.until(lambda: compared_after_the_fill() >= 3, "three balance reads after the fill")
    assert events.of(BalancesDiffered) == []

    venue.deposit("USDT", "123")
    [differed] = await events.until(lambda: events.of(BalancesDiffered), "the deposit reported")
    [difference] = differed.differences
    assert (difference.asset, difference.difference) == ("USDT", Decimal("123"))
    assert difference.observed == venue.balances["USDT"] + venue.locked.get("USDT", Decimal(0))
