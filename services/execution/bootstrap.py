"""Composition root of the execution service."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from prometheus_client import CollectorRegistry

from shared.messaging.bus import MessageBus
from shared.messaging.errors import PublishFailed
from shared.messaging.subscriptions import shared_subscriptions
from shared.runtime.clock import Clock, LiveClock
from shared.runtime.service import ServiceApp, make_amqp_bus
from shared.venues import open_exchange, venue_summary

from .adapters.broker import Broker, BrokerUnavailable
from .adapters.paper import PaperBroker
from .adapters.sqlite_store import SqliteOrderStore
from .adapters.store import OrderStore
from .domain.matching import MatcherConfig
from .domain.pricing import Commission
from .domain.risk import RiskLimits
from .domain.sizing import SizingMode, SizingPolicy
from .handlers import SUBSCRIPTIONS
from .order_flow import OrderFlow
from .settings import ExecutionSettings

log = logging.getLogger(__name__)


def matcher_config(settings: ExecutionSettings) -> MatcherConfig:
    """Return the paper broker's fill model from the settings."""
    paper = settings.paper
    return MatcherConfig(
        fill_on=paper.fill_on, slippage_bps=paper.slippage_bps,
        commission=Commission(per_share=paper.commission_per_share, rate=paper.commission_rate,
                              minimum=paper.commission_minimum),
        max_volume_participation=paper.max_volume_participation, lot_size=settings.sizing.lot_size,
        timeframe=paper.timeframe, replay_window=paper.replay_window)


def sizing_policy(settings: ExecutionSettings) -> SizingPolicy:
    """Return how signals are sized, from the settings."""
    s = settings.sizing
    return SizingPolicy(SizingMode(s.mode), s.quantity, s.notional, s.equity_fraction, s.allow_short, s.lot_size,
                        s.scale_by_strength)


def risk_limits(settings: ExecutionSettings) -> RiskLimits:
    """Return the pre-trade limits, from the settings."""
    r = settings.risk
    return RiskLimits(r.max_order_quantity, r.max_order_notional, r.max_position, r.max_gross_exposure,
                      r.max_orders_per_second, max_leverage=r.max_leverage)


def venue_broker(settings: ExecutionSettings, clock: Clock) -> Broker:
    """Return the broker the settings name: the exchange in sandbox and live mode, else the paper broker (replays,
    and dry-run on live prices)."""
    if settings.venue.trades:
        from .adapters.ccxt_broker import CcxtBroker  # ccxt loads slowly: only when it is used

        return CcxtBroker(open_exchange(settings.venue, private=True), settings.symbols, clock=clock)
    return PaperBroker(matcher_config(settings), clock=clock, path=settings.state_dir / "paper.sqlite")


def trading_mode(settings: ExecutionSettings) -> str:
    """Return how orders meet the market: replay (no venue), dry-run, sandbox or live."""
    return settings.venue.mode.value if settings.venue.exchange else "replay"


def bootstrap(settings: ExecutionSettings, *, bus: MessageBus | None = None, clock: Clock | None = None,
              registry: CollectorRegistry | None = None, broker: Broker | None = None,
              store: OrderStore | None = None) -> ServiceApp:
    """Wire the execution service: reconcile with the broker at start-up, then consume signals and commands."""
    registry = registry or CollectorRegistry()
    bus = bus or make_amqp_bus(settings, registry)
    clock = clock or LiveClock()
    store = store or SqliteOrderStore(settings.state_dir / "orders.sqlite")
    broker = broker or venue_broker(settings, clock)
    flow = OrderFlow(store, broker, sizing_policy(settings), risk_limits(settings), bus, clock,
                     f"execution@{settings.instance_id}", timedelta(seconds=settings.lost_after_s),
                     mode=trading_mode(settings))
    log.info("orders go to %s (%s)", broker.name,
             ", ".join(f"{key}={value}" for key, value in venue_summary(settings.venue).items()))
    broker.set_report_sink(flow.on_reports)

    async def start() -> None:
        flow.restore()
        await broker.connect()
        await flow.recover(send_unsent=True)

    async def reconcile_forever() -> None:
        while True:
            await asyncio.sleep(settings.reconcile_interval_s)
            try:
                await flow.recover()
            except (PublishFailed, BrokerUnavailable) as error:  # what is owed stays owed: the next round sends it
                log.warning("reconciliation deferred: %s", error)

    async def observe_balances_forever() -> None:
        while True:
            await asyncio.sleep(settings.balances_interval_s)
            try:
                await flow.observe_balances()
            except (PublishFailed, BrokerUnavailable) as error:
                log.warning("balances not observed: %s", error)

    async def close() -> None:
        await broker.close()
        store.close()

    def health() -> dict[str, object]:
        return {"working_orders": len(flow.account.working), "halted": flow.account.halted, "broker": broker.name,
                **venue_summary(settings.venue)}

    subscriptions = shared_subscriptions(bus.topology, "execution", SUBSCRIPTIONS, flow, settings.prefetch)
    return ServiceApp("execution", bus, subscriptions, tasks=[reconcile_forever, observe_balances_forever],
                      on_start=[start], on_stop=[close],
                      registry=registry, declare_suite=True, health_details=health, deps=flow)
