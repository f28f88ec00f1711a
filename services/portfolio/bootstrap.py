"""Composition root of the portfolio service."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from prometheus_client import CollectorRegistry

from shared.contracts import StreamPositions
from shared.messaging.bus import MessageBus
from shared.messaging.errors import PublishFailed
from shared.messaging.subscriptions import shared_subscriptions
from shared.runtime.clock import Clock, LiveClock
from shared.runtime.service import ServiceApp, make_amqp_bus

from .adapters import LedgerPersistence, LedgerStore
from .adapters.metrics import PortfolioGauges
from .domain import DrawdownTracker, EquityCurve, RiskGuard, RiskRules
from .handlers import SUBSCRIPTIONS, PortfolioDeps, publish_owed, publish_snapshot
from .settings import PortfolioSettings

log = logging.getLogger(__name__)


def bootstrap(settings: PortfolioSettings, *, bus: MessageBus | None = None, clock: Clock | None = None,
              registry: CollectorRegistry | None = None, store: LedgerPersistence | None = None) -> ServiceApp:
    """Wire the portfolio: reload the ledger from its store (crash recovery is start-up), consume fills and bars."""
    registry = registry or CollectorRegistry()
    bus = bus or make_amqp_bus(settings, registry)
    store = store or LedgerStore(settings.state_dir / "ledger.db")
    ledger = store.load(settings.starting_cash)
    stored = store.state()
    kill_switch = stored.kill_switch
    rules = RiskRules(settings.max_drawdown, settings.stop_loss, settings.take_profit)
    # drawdown is measured from the highest equity ever seen, which is at least what the account started with
    peak = kill_switch.peak_equity if kill_switch.peak_equity is not None else ledger.equity()
    curve = EquityCurve()
    for point in stored.curve:
        curve.add(point)
    deps = PortfolioDeps(ledger, store, DrawdownTracker(peak),
                         RiskGuard(rules, halted=kill_switch.halted, halt_reason=kill_switch.halt_reason,
                                   flattening=kill_switch.flattening), bus,
                         clock or LiveClock(), f"portfolio@{settings.instance_id}", curve=curve,
                         positions=StreamPositions(stored.streams), account_currency=settings.account_currency,
                         balance_baseline=dict(stored.balance_baseline),
                         balance_tolerance=settings.balance_tolerance,
                         observe=PortfolioGauges(registry, settings.service_name, settings.max_drawdown).observe)

    async def publish_snapshots() -> None:
        while True:
            await asyncio.sleep(settings.snapshot_interval_s)
            try:
                await publish_snapshot(deps)
            except PublishFailed as error:  # the next tick sends a newer one
                log.warning("snapshot not published: %s", error)

    def health() -> dict[str, object]:
        ledger = deps.ledger
        return {"equity": str(ledger.equity()), "cash": str(ledger.cash), "fills": ledger.fill_count,
                "closed_trades": ledger.trade_count, "halted": deps.guard.halted,
                "positions": {f"{p.strategy_id}/{p.symbol}": str(p.quantity) for p in ledger.positions()}}

    async def close_store() -> None:
        store.close()

    subscriptions = shared_subscriptions(bus.topology, "portfolio", SUBSCRIPTIONS, deps, settings.prefetch)
    return ServiceApp("portfolio", bus, subscriptions, tasks=[publish_snapshots],
                      on_start=[partial(publish_owed, deps)],
                      on_stop=[close_store], registry=registry, health_details=health, deps=deps, declare_suite=True)
