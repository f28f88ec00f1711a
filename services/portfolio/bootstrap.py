"""Composition root of the portfolio service."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from shared.messaging.bus import MessageBus, Subscription
from shared.messaging.errors import ErrorPolicy
from shared.runtime.clock import Clock, LiveClock
from shared.runtime.service import ServiceApp, bind_handlers, make_amqp_bus

from .adapters import LedgerStore, MemoryLedgerStore
from .adapters.metrics import PortfolioGauges
from .domain import DrawdownTracker, RiskGuard, RiskRules
from .handlers import FILL_HANDLERS, MARKET_HANDLERS, PortfolioDeps, publish_snapshot
from .settings import PortfolioSettings


def bootstrap(settings: PortfolioSettings, *, bus: MessageBus | None = None, clock: Clock | None = None,
              registry: CollectorRegistry | None = None,
              store: LedgerStore | MemoryLedgerStore | None = None) -> ServiceApp:
    """Wire the portfolio: reload the ledger from its store (crash recovery is start-up), consume fills and bars."""
    registry = registry or CollectorRegistry()
    bus = bus or make_amqp_bus(settings, registry)
    store = store or LedgerStore(settings.state_dir / "ledger.db")
    risk = store.load_risk_state()
    rules = RiskRules(settings.max_drawdown, settings.stop_loss, settings.take_profit)
    ledger = store.load(settings.starting_cash)
    # drawdown is measured from the highest equity ever seen, which is at least what the account started with
    peak = risk.peak_equity if risk.peak_equity is not None else ledger.equity()
    deps = PortfolioDeps(ledger, store, DrawdownTracker(peak),
                         RiskGuard(rules, halted=risk.halted, halt_reason=risk.halt_reason), bus,
                         clock or LiveClock(), f"portfolio@{settings.instance_id}",
                         observe=PortfolioGauges(registry, settings.service_name, settings.max_drawdown).observe)
    topo = bus.topology
    fills, market = topo.queue("portfolio", "fills"), topo.queue("portfolio", "market")
    subscriptions = [
        # money moves on both paths (fills, and risk exits decided on bars): an unexpected error stops the service
        Subscription(fills, bind_handlers(FILL_HANDLERS, deps), settings.prefetch, ErrorPolicy.CRASH),
        Subscription(market, bind_handlers(MARKET_HANDLERS, deps), settings.prefetch, ErrorPolicy.CRASH),
    ]

    async def publish_snapshots() -> None:
        while True:
            await asyncio.sleep(settings.snapshot_interval_s)
            store.save_marks(deps.ledger.marks())
            await publish_snapshot(None, deps)

    async def close_store() -> None:
        store.save_marks(deps.ledger.marks())
        store.close()

    def health() -> dict[str, object]:
        ledger = deps.ledger
        return {"equity": str(ledger.equity()), "cash": str(ledger.cash), "fills": ledger.fill_count,
                "closed_trades": ledger.trade_count, "halted": deps.guard.halted,
                "positions": {f"{p.strategy_id}/{p.symbol}": str(p.quantity) for p in ledger.positions()}}

    return ServiceApp("portfolio", bus, subscriptions, tasks=[publish_snapshots], on_stop=[close_store],
                      registry=registry, health_details=health, deps=deps, declare_suite=True)
