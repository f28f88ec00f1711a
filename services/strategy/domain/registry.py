"""Find strategies by name or by ``package.module:Class`` path, and build their parameters from strings."""

from __future__ import annotations

import importlib
from collections.abc import Collection, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from .api import Strategy, StrategyParams
from .engine import ALL_SYMBOLS, LoadedStrategy
from .strategies import MeanReversion, SmaCross

STRATEGIES: Mapping[str, type[Strategy[Any]]] = MappingProxyType(
    {"mean_reversion": MeanReversion, "sma_cross": SmaCross})
"""The built-in strategies, by the name configuration uses."""


class UnknownStrategy(LookupError):
    """No strategy has this name, or its ``package.module:Class`` path does not resolve."""


class StrategyParamsError(ValueError):
    """Strategy parameters that do not validate; the message names each bad parameter."""


def load_strategy(name_or_path: str) -> type[Strategy[Any]]:
    """Return the strategy class registered as ``name_or_path``, or importable at ``package.module:Class``."""
    if ":" not in name_or_path:
        try:
            return STRATEGIES[name_or_path]
        except KeyError:
            known = ", ".join(sorted(STRATEGIES))
            raise UnknownStrategy(
                f"unknown strategy {name_or_path!r}: built in are {known}; or give a package.module:Class path"
            ) from None
    found = _import_path(name_or_path)
    if not (isinstance(found, type) and issubclass(found, Strategy)):
        raise TypeError(f"{name_or_path} is {found!r}, not a Strategy subclass")
    return found


def _import_path(path: str) -> Any:
    module_name, _, attribute_path = path.partition(":")
    if not module_name or not attribute_path:
        raise UnknownStrategy(f"strategy path {path!r} is not of the form package.module:Class")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise UnknownStrategy(f"cannot import module {module_name!r} of strategy {path!r}: {error}") from error
    for attribute in attribute_path.split("."):
        try:
            found = getattr(found, attribute)
        except AttributeError:
            raise UnknownStrategy(f"module {module_name!r} has no {attribute_path!r} (strategy {path!r})") from None
    return found


def parse_params(pairs: Iterable[str]) -> dict[str, str]:
    """Turn ``--param`` values such as ``["fast=5", "slow=20"]`` into ``{"fast": "5", "slow": "20"}``."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        key = key.strip()
        if not separator or not key:
            raise StrategyParamsError(f"parameter {pair!r} is not of the form name=value")
        if key in params:
            raise StrategyParamsError(f"parameter {key!r} is given twice")
        params[key] = value.strip()
    return params


def build_params(strategy: type[Strategy[Any]], params: Mapping[str, Any]) -> StrategyParams:
    """Validate ``params`` (strings are parsed) into ``strategy``'s typed parameters; unset ones keep their defaults."""
    try:
        return strategy.Params.model_validate(dict(params))
    except ValidationError as error:
        problems = "; ".join(_describe(strategy.Params, problem) for problem in error.errors())
        raise StrategyParamsError(f"invalid parameters for {strategy.__name__}: {problems}") from None


def prepare_strategy(
    strategy_id: str, name_or_path: str, params: Mapping[str, Any], symbols: Collection[str] = ALL_SYMBOLS
) -> LoadedStrategy:
    """Resolve a strategy named in the settings into one ready to run; empty ``symbols`` means every symbol."""
    strategy = load_strategy(name_or_path)
    return LoadedStrategy(strategy_id, strategy, build_params(strategy, params), symbols or ALL_SYMBOLS)


def _describe(params: type[StrategyParams], problem: Mapping[str, Any]) -> str:
    name = ".".join(str(part) for part in problem["loc"])
    if problem["type"] == "extra_forbidden":
        return f"unknown parameter {name!r} (known: {', '.join(params.model_fields)})"
    message = str(problem["msg"]).removeprefix("Value error, ")
    if not name:
        return message
    return f"parameter {name!r}: {message} (got {problem['input']!r})"
