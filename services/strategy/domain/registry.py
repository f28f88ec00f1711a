"""Find strategies by name or by path, build their parameters from strings, and describe both.

A strategy is named by its registry name (``sma_cross``), by ``package.module:Class``, or by ``FILE.py:Class``.
Resolving a path imports code, so it goes through an ``Importer``: by default ``importlib`` (modules only);
``services.strategy.adapters.loading`` passes one that also loads files by path and looks in the current
directory.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, UnionType
from typing import Any, get_args, get_origin

from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import to_jsonable_python

from .api import Strategy, StrategyParams
from .engine import ALL_SYMBOLS, LoadedStrategy
from .strategies import LimitEntry, MeanReversion, SmaCross, StopLimitEntry

STRATEGIES: Mapping[str, type[Strategy[Any]]] = MappingProxyType(
    {"limit_entry": LimitEntry, "mean_reversion": MeanReversion, "sma_cross": SmaCross,
     "stop_limit_entry": StopLimitEntry})
"""The built-in strategies, by the name configuration uses."""

Importer = Callable[[str], object]
"""Return the object a ``location:Attribute`` strategy path names; raise ``UnknownStrategy`` when it cannot."""


class UnknownStrategy(LookupError):
    """No strategy has this name, or its path does not resolve (file or module missing, import failed)."""


class StrategyParamsError(ValueError):
    """Strategy parameters that do not validate; the message names each bad parameter."""


def is_strategy_path(name_or_path: str) -> bool:
    """Return whether ``name_or_path`` is a ``location:Class`` path rather than a registry name."""
    return ":" in name_or_path


def load_strategy(name_or_path: str, importer: Importer | None = None) -> type[Strategy[Any]]:
    """Return the strategy registered as ``name_or_path``, or the class its ``location:Class`` path names."""
    if not is_strategy_path(name_or_path):
        try:
            return STRATEGIES[name_or_path]
        except KeyError:
            known = ", ".join(sorted(STRATEGIES))
            raise UnknownStrategy(
                f"unknown strategy {name_or_path!r}: built in are {known}; or give FILE.py:Class or "
                "package.module:Class"
            ) from None
    found = (importer or import_attribute)(name_or_path)
    if not (isinstance(found, type) and issubclass(found, Strategy)):
        what = f"class {found.__name__}" if isinstance(found, type) else f"a {type(found).__name__}"
        raise TypeError(f"{name_or_path} is {what}, not a Strategy subclass (a strategy subclasses "
                        "services.strategy.domain.Strategy)")
    return found


def import_attribute(path: str) -> object:
    """Import ``package.module:Attribute.path`` with the interpreter's own import path (no files by path)."""
    module_name, attribute_path = split_path(path)
    if names_file(module_name):
        raise UnknownStrategy(f"strategy {path!r} names a file: load it with services.strategy.adapters.loading")
    try:
        module: object = importlib.import_module(module_name)
    except ImportError as error:
        raise UnknownStrategy(f"cannot import module {module_name!r} of strategy {path!r}: {error}") from error
    return resolve_attribute(module, attribute_path, f"module {module_name!r}", path)


def names_file(location: str) -> bool:
    """Return whether the part of a strategy path before its colon is a file (``x.py``, ``dir/x``), not a module."""
    return location.endswith(".py") or "/" in location or "\\" in location


def split_path(path: str) -> tuple[str, str]:
    """Split ``location:Attribute`` at its last colon (so ``C:\\dir\\x.py:Class`` splits right)."""
    location, _, attribute_path = path.rpartition(":")
    if not location or not attribute_path:
        raise UnknownStrategy(f"strategy path {path!r} is not of the form FILE.py:Class or package.module:Class")
    return location, attribute_path


def resolve_attribute(module: object, attribute_path: str, where: str, path: str) -> object:
    """Return ``module``'s attribute at the dotted ``attribute_path``; ``where`` names the module in errors."""
    found = module
    for attribute in attribute_path.split("."):
        try:
            found = getattr(found, attribute)
        except AttributeError:
            defined = ", ".join(strategies_in(module)) or "none"
            raise UnknownStrategy(
                f"{where} has no {attribute_path!r} (strategy {path!r}; Strategy classes in it: {defined})"
            ) from None
    return found


def strategies_in(module: object) -> list[str]:
    """Return the names of the ``Strategy`` subclasses ``module`` defines or imports."""
    return sorted(name for name, value in vars(module).items()
                  if isinstance(value, type) and issubclass(value, Strategy) and value is not Strategy)


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
    strategy_id: str, name_or_path: str, params: Mapping[str, Any], symbols: Collection[str] = ALL_SYMBOLS,
    importer: Importer | None = None,
) -> LoadedStrategy:
    """Resolve a strategy named in the settings into one ready to run; empty ``symbols`` means every symbol."""
    strategy = load_strategy(name_or_path, importer)
    return LoadedStrategy(strategy_id, strategy, build_params(strategy, params), symbols or ALL_SYMBOLS)


def _describe(params: type[StrategyParams], problem: Mapping[str, Any]) -> str:
    name = ".".join(str(part) for part in problem["loc"])
    if problem["type"] == "extra_forbidden":
        return f"unknown parameter {name!r} (known: {', '.join(params.model_fields)})"
    message = str(problem["msg"]).removeprefix("Value error, ")
    if not name:
        return message
    return f"parameter {name!r}: {message} (got {problem['input']!r})"


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """One strategy parameter as ``tradebus strategies`` shows it: ``default`` is JSON-ready, ``None`` if required."""

    name: str
    type: str
    default: Any
    required: bool
    constraints: str
    description: str


@dataclass(frozen=True, slots=True)
class StrategyInfo:
    """What a strategy is: the name it is run by, its class, its docstring's first paragraph, its parameters."""

    name: str
    qualname: str
    summary: str
    params: tuple[ParamInfo, ...]


def describe_strategy(name: str, strategy: type[Strategy[Any]]) -> StrategyInfo:
    """Return what ``strategy`` (run as ``name``) is and which parameters it takes, from its ``Params`` model."""
    summary = " ".join(inspect.cleandoc(strategy.__doc__ or "").split("\n\n")[0].split())
    params = tuple(_describe_field(field_name, info) for field_name, info in strategy.Params.model_fields.items())
    return StrategyInfo(name, f"{strategy.__module__}.{strategy.__qualname__}", summary, params)


def _describe_field(name: str, info: FieldInfo) -> ParamInfo:
    required = info.is_required()
    default = None if required else info.get_default(call_default_factory=True)
    constraints = ", ".join(text for item in info.metadata if (text := _constraint(item)))
    return ParamInfo(name, _type_name(info.annotation), to_jsonable_python(default), required, constraints,
                     info.description or "")


_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="), ("multiple_of", "multiple of"),
           ("min_length", "length >="), ("max_length", "length <="))


def _constraint(item: object) -> str:
    return ", ".join(f"{symbol} {getattr(item, attribute)}" for attribute, symbol in _BOUNDS
                     if getattr(item, attribute, None) is not None)


def _type_name(annotation: Any) -> str:
    if annotation is None or annotation is type(None):
        return "None"
    origin = get_origin(annotation)
    if origin is UnionType or str(origin) == "typing.Union":
        return " | ".join(_type_name(argument) for argument in get_args(annotation))
    if origin is not None:
        arguments = ", ".join(_type_name(argument) for argument in get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{arguments}]"
    return getattr(annotation, "__name__", str(annotation).removeprefix("typing."))
