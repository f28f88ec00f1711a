"""The strategy service's pure domain: the strategy API, incremental indicators, the engine and the registry."""

from .api import SignalIntent, SignalOptions, Strategy, StrategyContext, StrategyParams, reference_price
from .engine import ALL_SYMBOLS, NO_INTENTS, LoadedStrategy, StrategyEngine
from .indicators import EMA, RSI, SMA, RollingStd
from .registry import (
    STRATEGIES,
    StrategyParamsError,
    UnknownStrategy,
    build_params,
    load_strategy,
    parse_params,
    prepare_strategy,
)
from .strategies import MeanReversion, MeanReversionParams, SmaCross, SmaCrossParams

__all__ = [
    "ALL_SYMBOLS",
    "EMA",
    "NO_INTENTS",
    "RSI",
    "SMA",
    "STRATEGIES",
    "MeanReversion",
    "MeanReversionParams",
    "RollingStd",
    "SignalIntent",
    "SignalOptions",
    "SmaCross",
    "SmaCrossParams",
    "Strategy",
    "StrategyParams",
    "StrategyParamsError",
    "StrategyContext",
    "StrategyEngine",
    "LoadedStrategy",
    "UnknownStrategy",
    "build_params",
    "prepare_strategy",
    "load_strategy",
    "parse_params",
    "reference_price",
]
