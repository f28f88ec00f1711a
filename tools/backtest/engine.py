"""Run the four services' real handlers in one process over the in-memory bus.

The data service replays the file; after each market event the bus is drained, so every consequence of bar t
(signals, orders, fills, marks) is settled before bar t+1 exists: deterministic, and free of look-ahead. The
simulated clock follows the data. Nothing here is a shortcut: a backtest is the suite, minus the network.

Speed comes from the composition, not from skipping handlers: the order store and the paper broker keep their
records in dicts instead of SQLite, the portfolio persists nothing, a replay feed is read synchronously (no
``await`` per bar to get the next one), and the journal of unconsumed events keeps only its last
``JOURNAL_LENGTH`` entries.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from services.data.adapters import MarketMessage, MessagesFeed, ReplayFeed
from services.data.adapters.replay import NoPositions, Replay
from services.data.bootstrap import bootstrap as data_bootstrap
from services.data.domain import BarHistory
from services.data.settings import DataSettings
from services.execution.adapters.memory_store import MemoryOrderStore
from services.execution.adapters.paper import PaperBroker
from services.execution.bootstrap import bootstrap as execution_bootstrap
from services.execution.bootstrap import matcher_config
from services.execution.settings import ExecutionSettings, PaperSettings, RiskSettings, SizingSettings
from services.portfolio.adapters import MemoryLedgerStore
from services.portfolio.bootstrap import bootstrap as portfolio_bootstrap
from services.portfolio.domain import ClosedTrade, EquityCurve, Ledger, PerformanceMetrics, Position, compute_metrics
from services.portfolio.handlers import PortfolioDeps
from services.portfolio.settings import PortfolioSettings
from services.strategy.bootstrap import bootstrap as strategy_bootstrap
from services.strategy.settings import StrategySettings, StrategySpec
from shared.messaging.memory import InMemoryBus
from shared.messaging.topology import QueueSpec, Topology
from shared.runtime.clock import SimulatedClock
from shared.runtime.service import ServiceApp

from .series import PriceRecorder, PriceSeries, exit_reasons

BACKTEST = "backtest"
JOURNAL_LENGTH = 1_000
HISTORY_BARS = 8
"""Bars per symbol the data service keeps in a backtest: nobody warms up there."""
"""Events no service consumes (acceptances, position changes) that a backtest keeps, the latest ones."""
PROGRESS_EVERY = 1_000
"""Market events between two calls of a run's progress callback."""
GC_THRESHOLD = 50_000
"""Net allocations between two young-generation collections during the replay loop (Python's default: 700)."""


@dataclass(frozen=True)
class BacktestConfig:
    """What to replay, which strategy with which parameters, and the account and fill model."""

    data: tuple[Path, ...]
    symbols: tuple[str, ...]
    strategy: str = "sma_cross"
    params: dict[str, str] = field(default_factory=dict)
    timeframe: str = "1d"
    quantity: Decimal = Decimal(100)
    cash: Decimal = Decimal(100000)
    commission: Decimal = Decimal(0)
    fill_on: Literal["next_open", "close"] = "next_open"
    slippage_bps: Decimal = Decimal(0)
    strict: bool = False
    """Round-trip every message through JSON (slower; catches contract drift)."""
    bad_rows: Literal["skip", "reject"] = "skip"
    tz: str = "UTC"
    columns: Mapping[str, str] = field(default_factory=dict)
    """How to read the files (``DataSettings.columns``: column names, ``datetime_format``, ``sep``)."""
    sizing: SizingSettings | None = None
    """The execution service's sizing; unset: fixed ``quantity``."""
    risk: RiskSettings = field(default_factory=RiskSettings)
    paper: PaperSettings | None = None
    """The paper broker's fill and cost model; unset: ``commission``, ``fill_on`` and ``slippage_bps``."""
    portfolio: Mapping[str, Any] = field(default_factory=dict)
    """``PortfolioSettings`` fields (stops, kill switch), over ``starting_cash=cash``."""


@dataclass(frozen=True)
class BacktestResult:
    """The portfolio at the end of a run, its equity curve and metrics."""

    bars: int
    final_value: Decimal
    cash: Decimal
    trades: tuple[ClosedTrade, ...]
    open_positions: tuple[Position, ...]
    metrics: PerformanceMetrics
    curve: EquityCurve
    fills: int
    fill_ids: frozenset[str] = frozenset()
    loop_seconds: float = 0.0
    """Wall time of the replay loop alone (reading the data included; start-up and summary excluded)."""
    prices: Mapping[str, PriceSeries] = field(default_factory=dict)
    """Each symbol's price at each of its market events (for plots and buy-and-hold)."""
    exit_reasons: tuple[str, ...] = ()
    """Why each of ``trades`` ended (same order; ``""`` where unknown)."""


Progress = Callable[[int], None]
"""Called with the number of market events replayed so far, every ``PROGRESS_EVERY`` of them."""


def build_suite(config: BacktestConfig, bus: InMemoryBus, clock: SimulatedClock) -> list[ServiceApp]:
    """Return the four services wired to one in-memory bus and one simulated clock (data first)."""
    common: dict[str, Any] = {"instance_id": BACKTEST, "namespace": BACKTEST}
    data = data_bootstrap(DataSettings.isolated(
        csv_paths=config.data, symbols=config.symbols, timeframe=config.timeframe, bad_rows=config.bad_rows,
        tz=config.tz, columns=dict(config.columns), **common),
        bus=bus, clock=clock, history=BarHistory(HISTORY_BARS), positions=NoPositions())
    strategy = strategy_bootstrap(StrategySettings.isolated(
        strategies=(StrategySpec(id=config.strategy, name=config.strategy, params=config.params),), **common),
        bus=bus, clock=clock)
    paper = config.paper or PaperSettings(commission_rate=config.commission, fill_on=config.fill_on,
                                          slippage_bps=config.slippage_bps)
    execution_settings = ExecutionSettings.isolated(
        sizing=config.sizing or SizingSettings(quantity=config.quantity), risk=config.risk,
        # the in-memory bus delivers in causal order: no order ever arrives after newer data
        paper=paper.model_copy(update={"replay_window": 8}), **common)
    execution = execution_bootstrap(
        execution_settings, bus=bus, clock=clock, store=MemoryOrderStore(),
        broker=PaperBroker(matcher_config(execution_settings), clock=clock, path=None))
    execution.deps.account.equity = config.portfolio.get("starting_cash", config.cash)  # buying power from bar one
    portfolio = portfolio_bootstrap(PortfolioSettings.isolated(**{"starting_cash": config.cash, **config.portfolio},
                                                               **common),
                                    bus=bus, clock=clock, store=MemoryLedgerStore())
    return [data, strategy, execution, portfolio]


async def run_backtest(config: BacktestConfig, *, progress: Progress | None = None,
                       events: Sequence[MarketMessage] | None = None) -> BacktestResult:
    """Replay ``config.data`` through the four services and return the result; report progress if asked.

    ``events``: market events already read (the optimiser parses a file once for many runs), replayed instead.
    """
    clock = SimulatedClock(datetime(1, 1, 1, tzinfo=timezone.utc))
    bus = InMemoryBus(Topology(BACKTEST), strict=config.strict)
    data, *services = build_suite(config, bus, clock)
    if events is not None:
        data.deps.feed = MessagesFeed(events)
    for spec in bus.topology.suite_queues():
        await bus.declare(capped(spec))
    for app in (data, *services):
        for subscription in app.subscriptions:
            await bus.subscribe(subscription)
        for hook in app.on_start:
            await hook()
    with rare_collections():
        started = time.perf_counter()
        prices = PriceRecorder()
        bars = await replay_settled(data.deps, clock, bus, prices=prices, progress=progress)
        await bus.drain()
        loop_seconds = time.perf_counter() - started
    portfolio: PortfolioDeps = services[-1].deps
    result = summarise(bars, portfolio.ledger, portfolio.curve, loop_seconds)
    orders = services[1].deps.store.all_orders()
    return replace(result, prices=prices.series, exit_reasons=exit_reasons(result.trades, orders))


@contextmanager
def rare_collections(threshold: int = GC_THRESHOLD) -> Iterator[None]:
    """Run the block with the garbage collector's youngest generation collected every ``threshold`` allocations.

    A replay keeps thousands of recent bars alive (the history, the paper matcher's window), so at Python's
    default (700) every young collection walks them all again; they are freed by reference counting anyway.
    """
    before = gc.get_threshold()
    gc.set_threshold(threshold, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def capped(spec: QueueSpec) -> QueueSpec:
    """Return ``spec``, the journal shortened to ``JOURNAL_LENGTH`` (nobody reads it during a backtest)."""
    return replace(spec, max_length=JOURNAL_LENGTH) if spec.mode == "journal" else spec


async def replay_settled(replay: Replay, clock: SimulatedClock, bus: InMemoryBus, *,
                         prices: PriceRecorder | None = None, progress: Progress | None = None) -> int:
    """Publish every event of the data service's feed at its own time, draining the bus after each one.

    ``prices`` records each event's price; ``progress`` is called every ``PROGRESS_EVERY`` events.
    """
    feed = replay.feed
    events = feed.iter_messages() if isinstance(feed, ReplayFeed) else [event async for event in feed]
    record = (prices or PriceRecorder()).record
    count, next_report = 0, PROGRESS_EVERY if progress else -1
    for event in events:
        clock.set(event.ts_event)
        await replay.publish(event)
        await bus.drain()
        record(event)
        count += 1
        if count == next_report:
            progress(count)  # type: ignore[misc]
            next_report += PROGRESS_EVERY
    if progress:
        progress(count)
    return count


def summarise(bars: int, ledger: Ledger, curve: EquityCurve, loop_seconds: float = 0.0) -> BacktestResult:
    """Return the result of a run from the portfolio's ledger and equity curve."""
    trades = tuple(ledger.closed_trades)
    metrics = compute_metrics(curve, trades, traded_notional=ledger.traded_notional())
    return BacktestResult(bars=bars, final_value=ledger.equity(), cash=ledger.cash, trades=trades,
                          open_positions=tuple(ledger.positions()), metrics=metrics, curve=curve,
                          fills=ledger.fill_count, fill_ids=ledger.fill_ids(), loop_seconds=loop_seconds)
