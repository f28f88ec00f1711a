"""Run a trial's backtest on bars parsed once per process, not once per trial.

Every trial is a ``run_backtest`` (the four services built afresh) given the market events one pass of the files
produced (they are immutable), or a slice of them (a walk-forward window), instead of the files.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from services.data.adapters.feeds import MarketMessage
from services.data.domain import BadDataError
from shared.messaging.memory import InMemoryBus
from shared.messaging.topology import Topology
from shared.runtime.clock import SimulatedClock
from tools.backtest.command import DATA_LOGGERS
from tools.backtest.engine import BACKTEST, BacktestConfig, BacktestResult, build_suite, run_backtest
from tools.errors import UsageError

Window = tuple[int, int]
"""A slice ``[start, stop)`` of the market events (a walk-forward window)."""


def data_key(config: BacktestConfig) -> tuple[object, ...]:
    """Return what decides the market events of a run (files, symbols, how they are read)."""
    return (config.data, config.symbols, config.timeframe, config.bad_rows, config.tz,
            tuple(sorted(config.columns.items())))


def load_events(config: BacktestConfig) -> tuple[MarketMessage, ...]:
    """Return every market event the data service of ``config`` replays (bad rows skipped quietly, or refused)."""
    bus = InMemoryBus(Topology(BACKTEST))
    data, *_ = build_suite(config, bus, SimulatedClock(datetime(1, 1, 1, tzinfo=timezone.utc)))
    loggers = [logging.getLogger(name) for name in DATA_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        return tuple(data.deps.feed.iter_messages())
    except BadDataError as error:
        raise UsageError(f"bad row {error}; --bad-rows skip passes over bad rows") from None
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


class Evaluator:
    """Run backtests in this process, parsing each distinct data set once and keeping it."""

    def __init__(self) -> None:
        self._key: tuple[object, ...] | None = None
        self._events: tuple[MarketMessage, ...] = ()

    def events(self, config: BacktestConfig) -> tuple[MarketMessage, ...]:
        """Return the market events of ``config``, parsed on first use."""
        key = data_key(config)
        if key != self._key:
            self._events, self._key = load_events(config), key
        return self._events

    def run(self, config: BacktestConfig, window: Window | None = None) -> BacktestResult:
        """Return the backtest of ``config`` over its events, or over ``window`` of them."""
        events = self.events(config)
        if window is not None:
            events = events[window[0]:window[1]]
        return asyncio.run(run_backtest(config, events=events))
