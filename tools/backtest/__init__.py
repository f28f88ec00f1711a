"""The backtester: the four services' handlers in one process, over the in-memory bus, on a simulated clock."""

from .engine import BacktestConfig, BacktestResult, run_backtest

__all__ = ["BacktestConfig", "BacktestResult", "run_backtest"]
