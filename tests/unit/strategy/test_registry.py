"""Loading strategies by name or import path, and building typed configs from ``--param`` strings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.strategy.domain import (
    STRATEGIES,
    MeanReversion,
    MeanReversionParams,
    SmaCross,
    SmaCrossParams,
    StrategyParamsError,
    UnknownStrategy,
    build_params,
    load_strategy,
    parse_params,
    prepare_strategy,
)

from .sample_strategies import NotAStrategy, Recorder


def test_built_in_strategies_load_by_name():
    assert (load_strategy("sma_cross"), load_strategy("mean_reversion")) == (SmaCross, MeanReversion)
    assert set(STRATEGIES) == {"sma_cross", "mean_reversion", "limit_entry", "stop_limit_entry"}


def test_a_strategy_loads_by_its_import_path():
    assert load_strategy(f"{Recorder.__module__}:Recorder") is Recorder
    assert load_strategy("services.strategy.domain.strategies.sma_cross:SmaCross") is SmaCross


def test_an_unknown_name_is_reported_with_the_built_in_names():
    with pytest.raises(UnknownStrategy, match="unknown strategy 'sma_crossover'.*mean_reversion, sma_cross"):
        load_strategy("sma_crossover")


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("no_such_package.strategies:Thing", "cannot import module 'no_such_package.strategies'"),
        ("services.strategy.domain.strategies:Nope", "has no 'Nope'"),
        (":SmaCross", "not of the form"),
    ],
)
def test_a_path_that_does_not_resolve_is_reported(path, problem):
    with pytest.raises(UnknownStrategy, match=problem):
        load_strategy(path)


@pytest.mark.parametrize("path", [f"{NotAStrategy.__module__}:NotAStrategy", "decimal:Decimal", "math:pi"])
def test_a_path_to_something_that_is_not_a_strategy_is_refused(path):
    with pytest.raises(TypeError, match="not a Strategy subclass"):
        load_strategy(path)


def test_param_strings_are_parsed_through_the_typed_config():
    params = parse_params(["period=10", "entry_z=1.5", "tick_size=0.05", "allow_short=true"])

    config = build_params(MeanReversion, params)

    assert config == MeanReversionParams(period=10, entry_z=1.5, tick_size=Decimal("0.05"), allow_short=True)
    assert build_params(SmaCross, {}) == SmaCrossParams(fast=10, slow=30, allow_short=False)


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"fast": "ten"}, "parameter 'fast': .*valid integer.*'ten'"),
        ({"slow": "1"}, "parameter 'slow': .*greater than or equal to 2"),
        ({"fast": "30"}, r"fast \(30\) must be below slow \(30\)"),
        ({"fats": "5"}, r"unknown parameter 'fats' \(known: fast, slow, allow_short\)"),
    ],
)
def test_invalid_params_are_reported_by_name(params, problem):
    with pytest.raises(StrategyParamsError, match=problem):
        build_params(SmaCross, params)


@pytest.mark.parametrize(
    ("pairs", "problem"), [(["fast"], "name=value"), (["=5"], "name=value"), (["fast=5", "fast=6"], "twice")]
)
def test_malformed_param_strings_are_refused(pairs, problem):
    with pytest.raises(StrategyParamsError, match=problem):
        parse_params(pairs)


def test_param_values_may_contain_equals_signs_and_surrounding_spaces_are_dropped():
    assert parse_params([" label = a=b "]) == {"label": "a=b"}


def test_a_spec_is_built_from_configuration_with_no_symbols_meaning_all():
    spec = prepare_strategy("s1", "sma_cross", {"fast": "5", "slow": "20"}, symbols=())

    assert (spec.strategy, spec.params, spec.symbols) == (SmaCross, SmaCrossParams(fast=5, slow=20), "all")
    assert prepare_strategy("s2", "mean_reversion", {}, symbols=("ORCL",)).symbols == frozenset({"ORCL"})
