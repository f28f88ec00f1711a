"""The strategy service's pure domain: the strategy API, incremental indicators, the engine and the registry."""

from .api import SignalIntent, SignalOptions, Strategy, StrategyConfig, StrategyContext, reference_price
from .engine import ALL_SYMBOLS, NO_INTENTS, StrategyEngine, StrategySpec
from .indicators import EMA, RSI, SMA, RollingStd
from .registry import (
    STRATEGIES,
    StrategyConfigError,
    UnknownStrategy,
    build_config,
    build_spec,
    load_strategy,
    parse_params,
)
from .strategies import MeanReversion, MeanReversionConfig, SmaCross, SmaCrossConfig

__all__ = [
    "ALL_SYMBOLS",
    "EMA",
    "NO_INTENTS",
    "RSI",
    "SMA",
    "STRATEGIES",
    "MeanReversion",
    "MeanReversionConfig",
    "RollingStd",
    "SignalIntent",
    "SignalOptions",
    "SmaCross",
    "SmaCrossConfig",
    "Strategy",
    "StrategyConfig",
    "StrategyConfigError",
    "StrategyContext",
    "StrategyEngine",
    "StrategySpec",
    "UnknownStrategy",
    "build_config",
    "build_spec",
    "load_strategy",
    "parse_params",
    "reference_price",
]
