"""The strategy API: typed frozen configs, signal emission and its validation, intents that become messages."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.strategy.domain import SignalIntent, SmaCross, SmaCrossParams, Strategy, StrategyContext, StrategyParams
from shared.contracts import Direction, OrderType, SignalGenerated

from .factories import make_bar
from .sample_strategies import Recorder, RecorderParams


def handling(event, strategy_id: str = "s1") -> StrategyContext:
    context = StrategyContext(strategy_id, event.symbol)
    context.collector.event = event
    return context


def test_config_class_is_taken_from_the_type_argument():
    class ThresholdParams(StrategyParams):
        level: int = 1

    class Threshold(Strategy[ThresholdParams]):
        pass

    class Subclass(Threshold):
        pass

    assert (SmaCross.Params, Threshold.Params, Subclass.Params) == (SmaCrossParams, ThresholdParams, ThresholdParams)


def test_a_strategy_refuses_the_config_of_another_strategy():
    with pytest.raises(TypeError, match="RecorderParams"):
        Recorder(SmaCrossParams(), StrategyContext("s1", "ORCL"))


def test_params_are_frozen_and_reject_unknown_parameters():
    params = SmaCrossParams()

    with pytest.raises(ValidationError):
        params.fast = 5
    with pytest.raises(ValidationError, match="extra"):
        SmaCrossParams(fastt=5)


def test_a_strategy_emits_through_its_context_with_numbers_made_decimal():
    bar = make_bar("20.5")
    strategy = Recorder(RecorderParams(), handling(bar))

    intent = strategy.long(strength=0.5, order_type=OrderType.LIMIT, limit_price=20.1)

    assert strategy.context.collector.intents == [intent]
    assert (intent.direction, intent.strength, intent.limit_price) == (Direction.LONG, Decimal("0.5"), Decimal("20.1"))
    assert (intent.ts_event, intent.reference_price, strategy.context.now) == (bar.ts_event, bar.close, bar.ts_event)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"order_type": OrderType.LIMIT}, "needs limit_price"),
        ({"limit_price": Decimal(10)}, "takes no limit_price"),
        ({"order_type": OrderType.STOP, "stop_price": Decimal(-1)}, "stop_price must be positive"),
        ({"strength": 1.5}, "strength"),
        ({"target_weight": Decimal(-2)}, "target_weight"),
        ({"target_quantity": 0}, "target_quantity"),
        ({"strength": float("nan")}, "finite"),
    ],
)
def test_an_invalid_signal_fails_inside_the_strategy(options, problem):
    strategy = Recorder(RecorderParams(), handling(make_bar(10)))

    with pytest.raises(ValueError, match=problem):
        strategy.short(**options)
    assert strategy.context.collector.intents == []


def test_emitting_outside_an_event_is_an_error():
    strategy = Recorder(RecorderParams(), StrategyContext("s1", "ORCL"))

    with pytest.raises(RuntimeError, match="while an event is being handled"):
        strategy.exit()


def test_an_intent_fills_a_valid_signal_generated_caused_by_its_bar():
    bar = make_bar("31.25")
    strategy = Recorder(RecorderParams(), handling(bar, strategy_id="mr"))
    intent = strategy.signal(Direction.LONG, order_type=OrderType.LIMIT, limit_price=Decimal("31.1"), strength=1)

    message = SignalGenerated.caused_by(bar, ts_init=bar.ts_init, source="strategy", **intent.signal_fields())

    assert (message.correlation_id, message.causation_id) == (bar.correlation_id, bar.message_id)
    assert (message.strategy_id, message.symbol, message.limit_price) == ("mr", "ORCL", Decimal("31.1"))


def test_an_intent_needs_an_aware_time():
    with pytest.raises(ValueError, match="timezone"):
        SignalIntent("s1", "ORCL", Direction.EXIT, datetime(2024, 1, 1))
    assert SignalIntent("s1", "ORCL", Direction.EXIT, datetime(2024, 1, 1, tzinfo=UTC))
