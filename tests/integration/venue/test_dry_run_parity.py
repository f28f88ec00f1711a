"""Dry-run trades the same as a replay of the same prices.

The prices: the first ``BARS`` bars of ``tests/fixtures/eurusd-2017-2018-hourly.csv`` (backtesting.py's EURUSD
hourly sample, 2017-04-19 09:00 UTC on), relabelled as BTC/USDT 1m bars: bar i opens i minutes after the series'
first timestamp, prices are multiplied by 10 000 (1.07083 -> 10708.30: on the market's 0.01 tick, near where BTC
traded in 2017) and volumes by 0.001 (base quantities on the 0.00001 step).

Dry-run: the local Binance emulator closes each bar as a kline (its stream and its REST history), and the four
services run in this process on one in-memory bus, each built by its own ``bootstrap``: the data service streams
the venue through real ccxt in ``bars="klines"`` mode, ``sma_cross`` trades the bars, execution fills on the
paper broker (venue in dry-run) and the portfolio books the fills. Every service keeps the wall clock, as a
dry-run does, years after the bars' times: a kline that far in the past is closed (and published) at once.

Replay: the same bars in a CSV file through ``tradebus backtest``'s own path (``config_from``, ``run_backtest``);
the dry-run services are configured from that same ``BacktestConfig``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from services.data.bootstrap import bootstrap as data_bootstrap
from services.data.domain.bars import from_ms, to_ms
from services.data.settings import DataSettings
from services.execution.bootstrap import bootstrap as execution_bootstrap
from services.execution.settings import ExecutionSettings, PaperSettings, SizingSettings
from services.portfolio.bootstrap import bootstrap as portfolio_bootstrap
from services.portfolio.domain import ClosedTrade
from services.portfolio.handlers import PortfolioDeps
from services.portfolio.settings import PortfolioSettings
from services.strategy.bootstrap import bootstrap as strategy_bootstrap
from services.strategy.settings import StrategySettings, StrategySpec
from shared.contracts import BarClosed, Message
from shared.messaging.bus import Subscription
from shared.messaging.memory import InMemoryBus
from shared.messaging.topology import Topology
from shared.runtime.service import ServiceRunner
from shared.venues import VenueSettings
from tests.emulators.binance import BinanceEmulator
from tests.paths import fixture_file
from tools.backtest.command import add_arguments, config_from
from tools.backtest.engine import BacktestConfig, BacktestResult, run_backtest

BTC = "BTC/USDT"
BARS = 300
PRICE_SCALE = Decimal(10_000)
VOLUME_SCALE = Decimal("0.001")
MINUTE_MS = 60_000
Row = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]
"""A kline as the emulator takes it: (open ms, open, high, low, close, volume)."""


def series(count: int = BARS) -> list[Row]:
    """Return the first ``count`` EURUSD hourly bars as BTC/USDT 1m klines (see the module docstring)."""
    lines = fixture_file("eurusd-2017-2018-hourly.csv").read_text().splitlines()
    assert lines[0] == "Datetime,Open,High,Low,Close,Volume"
    first = lines[1].split(",")[0]
    start_ms = to_ms(datetime.fromisoformat(first + "+00:00"))
    rows = []
    for i, line in enumerate(lines[1:count + 1]):
        o, h, low, c, v = (Decimal(value) for value in line.split(",")[1:])
        price = [(value * PRICE_SCALE).quantize(Decimal("0.01")) for value in (o, h, low, c)]
        rows.append((start_ms + i * MINUTE_MS, *price, (v * VOLUME_SCALE).quantize(Decimal("0.00001"))))
    return rows  # type: ignore[return-value]


def write_csv(path: Path, rows: Sequence[Row]) -> Path:
    """Write ``rows`` in the layout ``tradebus backtest`` reads (UTC ISO times)."""
    lines = ["Datetime,Open,High,Low,Close,Volume"]
    lines += [f"{from_ms(ms).isoformat()},{o},{h},{low},{c},{v}" for ms, o, h, low, c, v in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def backtest_config(csv: Path, fill: str) -> BacktestConfig:
    """Return the replay as ``tradebus backtest`` builds it from its command line."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return config_from(parser.parse_args([
        "--data", str(csv), "--symbol", BTC, "--timeframe", "1m", "--strategy", "sma_cross",
        "--param", "fast=5", "--param", "slow=20", "--quantity", "2", "--cash", "100000", "--commission", "0.001",
        "--fill", fill]))


class BarsSeen:
    """What the bus carries of ``BarClosed``, in order; ``until`` waits (on a signal) for a count of them."""

    def __init__(self) -> None:
        self.bars: list[BarClosed] = []
        self._changed = asyncio.Condition()

    async def subscribe(self, bus: InMemoryBus) -> None:
        queue = bus.topology.service_queue("test", "bars", bus.topology.bind(BarClosed))
        await bus.subscribe(Subscription(queue, {BarClosed: self._record}))

    async def _record(self, bar: Message) -> None:
        async with self._changed:
            self.bars.append(bar)  # type: ignore[arg-type]
            self._changed.notify_all()

    async def until(self, count: int, timeout: float = 10) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.bars) >= count), timeout)


@dataclass(frozen=True)
class Books:
    """What a run ends with, for comparison."""

    trades: tuple[ClosedTrade, ...]
    cash: Decimal
    equity: Decimal
    fills: int
    open_positions: tuple[tuple[str, str, Decimal, Decimal], ...]

    @classmethod
    def of_backtest(cls, result: BacktestResult) -> Books:
        return cls(result.trades, result.cash, result.final_value, result.fills, positions(result.open_positions))

    @classmethod
    def of_portfolio(cls, deps: PortfolioDeps) -> Books:
        ledger = deps.ledger
        return cls(tuple(ledger.closed_trades), ledger.cash, ledger.equity(), ledger.fill_count,
                   positions(ledger.positions()))


def positions(found: Sequence[object]) -> tuple[tuple[str, str, Decimal, Decimal], ...]:
    return tuple((p.strategy_id, p.symbol, p.quantity, p.average_price) for p in found)  # type: ignore[attr-defined]


def differences(dry_run: Books, replay: Books) -> str:
    """Return a readable account of where the two runs differ (empty when they agree)."""
    out = []
    for name in ("cash", "equity", "fills", "open_positions"):
        if getattr(dry_run, name) != getattr(replay, name):
            out.append(f"{name}: dry-run {getattr(dry_run, name)} != replay {getattr(replay, name)}")
    header = " | ".join(f.name for f in fields(ClosedTrade))
    for i in range(max(len(dry_run.trades), len(replay.trades))):
        mine = dry_run.trades[i] if i < len(dry_run.trades) else None
        theirs = replay.trades[i] if i < len(replay.trades) else None
        if mine != theirs:
            out.append(f"trade {i} ({header}):\n  dry-run {mine and astuple(mine)}\n"
                       f"  replay  {theirs and astuple(theirs)}")
    return "\n".join(out)


async def dry_run(venue: BinanceEmulator, config: BacktestConfig, rows: Sequence[Row],
                  state: Path) -> tuple[Books, list[BarClosed]]:
    """Run the four services in dry-run on the venue, close ``rows`` there one by one, return the books."""
    common = dict(namespace="dryrun", instance_id="dryrun")
    bus = InMemoryBus(Topology("dryrun"))
    data = data_bootstrap(DataSettings.isolated(
        venue=VenueSettings(exchange="binance", mode="dry-run", endpoint=venue.rest_url, timeout_ms=2000),
        live_symbols=(BTC,), bars="klines", timeframe=config.timeframe, backfill_bars=0, stale_after_s=600,
        state_dir=state / "data", **common), bus=bus)
    strategy = strategy_bootstrap(StrategySettings.isolated(strategies=(StrategySpec(
        id=config.strategy, name=config.strategy, params=config.params),), **common), bus=bus)
    execution = execution_bootstrap(ExecutionSettings.isolated(
        venue=VenueSettings(exchange="binance", mode="dry-run", endpoint=venue.rest_url),
        sizing=SizingSettings(quantity=config.quantity),
        paper=PaperSettings(commission_rate=config.commission, fill_on=config.fill_on,
                            slippage_bps=config.slippage_bps),
        state_dir=state / "execution", **common), bus=bus)
    portfolio = portfolio_bootstrap(PortfolioSettings.isolated(
        starting_cash=config.cash, state_dir=state / "portfolio", **common), bus=bus)
    seen = BarsSeen()
    await seen.subscribe(bus)
    runners = [ServiceRunner(app) for app in (portfolio, execution, strategy, data)]
    for runner in runners:
        await runner.start()
    try:
        await venue.wait_subscribed("btcusdt@kline_1m")
        for i, row in enumerate(rows):
            await venue.close_kline(BTC, config.timeframe, row)
            # the feed publishes kline i-1 when kline i starts streaming: settle its consequences before going on,
            # as the replay does, so the comparison does not depend on how messages interleave
            await seen.until(i)
            await bus.drain()
        await seen.until(len(rows))  # the last kline closes by time: its end is long past on the wall clock
        await bus.drain()
    finally:
        for runner in reversed(runners):
            await runner.stop()
    return Books.of_portfolio(portfolio.deps), seen.bars


@pytest.mark.parametrize("fill", ["next_open", "close"])
async def test_a_dry_run_on_venue_klines_trades_exactly_as_the_replay_of_the_same_bars(tmp_path: Path,
                                                                                      fill: str) -> None:
    rows = series()
    config = backtest_config(write_csv(tmp_path / "btcusdt-1m.csv", rows), fill)
    replay = Books.of_backtest(await run_backtest(config))

    async with BinanceEmulator() as venue:
        live, published = await dry_run(venue, config, rows, tmp_path)

    assert [(bar.ts_event, bar.open, bar.high, bar.low, bar.close, bar.volume) for bar in published] == \
        [(from_ms(ms), *values) for ms, *values in rows]
    assert len(replay.trades) >= 5, "the series should make sma_cross trade a few times"
    assert live == replay, differences(live, replay)
    assert published[-1].ts_event < datetime.now(timezone.utc) - timedelta(days=365)  # bars far behind the clock
