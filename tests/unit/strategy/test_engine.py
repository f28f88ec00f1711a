"""StrategyEngine: one instance per (strategy, symbol), events routed by symbol, fills by strategy and symbol."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.strategy.domain import NO_INTENTS, LoadedStrategy, SmaCross, SmaCrossParams, StrategyEngine
from shared.contracts import Direction

from .factories import make_bar, make_bars, make_fill, make_quote, make_tick, run_bars, sma_cross_engine
from .sample_strategies import Recorder, RecorderParams


def recorder_spec(strategy_id: str, symbols="all", **params) -> LoadedStrategy:
    return LoadedStrategy(strategy_id, Recorder, RecorderParams(**params), symbols)


def test_each_symbol_keeps_its_own_strategy_state():
    orcl, msft = make_bars([10, 9, 10], symbol="ORCL"), make_bars([5, 6, 5], symbol="MSFT")
    interleaved = [bar for pair in zip(orcl, msft, strict=True) for bar in pair]

    signals = run_bars(sma_cross_engine(fast=1, slow=2), interleaved)

    assert [(intent.symbol, intent.direction) for _, intent in signals] == [("ORCL", Direction.LONG)]
    assert signals[0][0] == interleaved.index(orcl[2])


def test_strategies_on_one_symbol_run_in_spec_order_and_their_intents_follow_it():
    engine = StrategyEngine([recorder_spec("b", long_at=1), recorder_spec("a", long_at=1)])

    intents = engine.on_bar(make_bar(3))

    assert [intent.strategy_id for intent in intents] == ["b", "a"]


def test_two_strategies_on_one_symbol_signal_as_each_would_alone():
    bars = make_bars([10, 9, 10, 11, 12, 13, 12, 10, 9, 11, 12, 10, 8, 9, 12, 13])
    quick, slow = SmaCrossParams(fast=1, slow=2), SmaCrossParams(fast=2, slow=4)
    alone = {
        name: [(index, i.direction) for index, i in run_bars(sma_cross_engine(**config.model_dump()), bars)]
        for name, config in (("quick", quick), ("slow", slow))
    }
    engine = StrategyEngine([LoadedStrategy("quick", SmaCross, quick), LoadedStrategy("slow", SmaCross, slow)])

    together = run_bars(engine, bars)

    assert alone["quick"] and alone["slow"] and alone["quick"] != alone["slow"]
    for name in ("quick", "slow"):
        assert [(index, i.direction) for index, i in together if i.strategy_id == name] == alone[name]


def test_a_strategy_only_sees_the_symbols_it_trades():
    engine = StrategyEngine([recorder_spec("orcl_only", symbols=["ORCL"], long_at=1)])

    assert engine.on_bar(make_bar(3, symbol="MSFT")) is NO_INTENTS
    assert len(engine.on_bar(make_bar(3, symbol="ORCL"))) == 1
    with pytest.raises(KeyError, match="does not trade"):
        engine.instance("orcl_only", "MSFT")


def test_a_bar_without_signals_returns_the_shared_empty_tuple():
    engine = StrategyEngine([recorder_spec("quiet")])

    assert engine.on_bar(make_bar(3)) is NO_INTENTS


def test_a_fill_reaches_only_the_instance_of_its_strategy_and_symbol():
    engine = StrategyEngine([recorder_spec("a"), recorder_spec("b")])
    for symbol in ("ORCL", "MSFT"):
        engine.on_bar(make_bar(3, symbol=symbol))

    intents = engine.on_fill(make_fill("b", symbol="MSFT", price="12.5"))

    assert [(i.strategy_id, i.symbol, i.direction, i.reference_price) for i in intents] == [
        ("b", "MSFT", Direction.EXIT, Decimal("12.5"))
    ]
    fills_seen = {
        (strategy_id, symbol): [kind for kind, _ in engine.instance(strategy_id, symbol).seen if kind == "fill"]
        for strategy_id in ("a", "b")
        for symbol in ("ORCL", "MSFT")
    }
    assert fills_seen == {("a", "ORCL"): [], ("a", "MSFT"): [], ("b", "ORCL"): [], ("b", "MSFT"): ["fill"]}


def test_a_fill_of_a_strategy_this_engine_does_not_run_is_ignored():
    engine = StrategyEngine([recorder_spec("mine", symbols=["ORCL"])])

    assert engine.on_fill(make_fill("theirs")) is NO_INTENTS
    assert engine.on_fill(make_fill("mine", symbol="MSFT")) is NO_INTENTS


def test_ticks_and_quotes_reach_the_instances_of_their_symbol():
    engine = StrategyEngine([recorder_spec("rec")])

    engine.on_tick(make_tick("10.5", symbol="ORCL"))
    [intent] = engine.on_quote(make_quote("10", "10.5", symbol="MSFT"))

    assert engine.instance("rec", "ORCL").seen == [("tick", Decimal("10.5"))]
    assert engine.instance("rec", "MSFT").seen == [("quote", Decimal("10"))]
    assert (intent.symbol, intent.reference_price) == ("MSFT", Decimal("10.25"))


def test_an_exception_in_a_strategy_propagates_and_drops_that_events_intents():
    engine = StrategyEngine([recorder_spec("emits", long_at=1), recorder_spec("buggy", fail_at=13)])

    with pytest.raises(RuntimeError, match="strategy bug"):
        engine.on_bar(make_bar(13, index=0))
    intents = engine.on_bar(make_bar(14, index=1))

    assert [(intent.strategy_id, intent.reference_price) for intent in intents] == [("emits", Decimal(14))]


def test_warm_up_builds_indicator_state_but_returns_no_signals():
    engine = sma_cross_engine(fast=1, slow=2)

    fed = engine.warm_up(make_bars([10, 9, 10, 9]))
    [intent] = engine.on_bar(make_bar(10, index=4))

    assert (fed, intent.direction) == (4, Direction.LONG)


def test_warmup_bars_is_the_largest_need_among_the_strategies_on_the_symbol():
    engine = StrategyEngine([recorder_spec("small", warmup=3), recorder_spec("large", symbols=["ORCL"], warmup=9)])

    assert (engine.warmup_bars("ORCL"), engine.warmup_bars("MSFT")) == (9, 3)


def test_strategy_ids_must_be_unique():
    with pytest.raises(ValueError, match="unique"):
        StrategyEngine([recorder_spec("same"), recorder_spec("same")])


def test_spec_rejects_a_config_of_another_strategy():
    with pytest.raises(TypeError, match="SmaCrossParams"):
        LoadedStrategy("sma", SmaCross, RecorderParams())


@pytest.mark.parametrize("symbols", ["ORCL", []])
def test_spec_rejects_symbols_that_are_a_bare_string_or_empty(symbols):
    with pytest.raises(ValueError, match="symbols"):
        recorder_spec("rec", symbols=symbols)
