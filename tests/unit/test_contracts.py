from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.contracts import (
    MESSAGE_TYPES,
    BarClosed,
    CancelOrder,
    Command,
    Event,
    QuoteTicked,
    SubmitOrder,
    decode,
    encode,
)
from tests.factories import T0, bar, fill, signal, submit_order, tick


def test_every_message_round_trips_through_json_unchanged():
    for message in (bar(), tick(), signal(), submit_order(), fill()):
        assert decode(message.type, encode(message)) == message


def test_decimals_travel_as_strings_and_keep_every_digit():
    message = bar(open=Decimal("2.370370"), high=Decimal("2.370371"), low=Decimal("2.37037"), close=Decimal("2.37037"))
    assert b'"open":"2.370370"' in encode(message)
    assert decode("BarClosed", encode(message)).open == Decimal("2.370370")


@pytest.mark.parametrize("field, value", [
    ("open", Decimal("NaN")), ("open", "Infinity"), ("open", float("nan")), ("close", float("inf")),
    ("volume", Decimal(-1)), ("low", Decimal(0)), ("open", "-1"),
])
def test_non_finite_negative_or_zero_values_are_rejected(field, value):
    with pytest.raises(ValidationError):
        bar(**{field: value})


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValidationError, match="timezone"):
        bar(ts_event=datetime(2024, 1, 2, 14, 30))


def test_aware_datetimes_are_normalised_to_utc():
    eastern = timezone(timedelta(hours=-5))
    message = bar(ts_event=datetime(2024, 1, 2, 9, 30, tzinfo=eastern))
    assert message.ts_event == T0 and message.ts_event.tzinfo is timezone.utc


def test_messages_are_immutable_and_refuse_unknown_fields():
    message = bar()
    with pytest.raises(ValidationError):
        message.close = Decimal(1)  # type: ignore[misc]
    with pytest.raises(ValidationError, match="Extra inputs"):
        bar(colour="red")


def test_bar_high_below_low_is_rejected():
    with pytest.raises(ValidationError, match="below low"):
        bar(high=Decimal("9.00"), low=Decimal("9.50"), open=Decimal("9.2"), close=Decimal("9.2"))


def test_crossed_quote_is_rejected():
    with pytest.raises(ValidationError, match="crossed"):
        QuoteTicked(ts_event=T0, ts_init=T0, source="t", symbol="X", bid=Decimal(2), ask=Decimal(1),
                    bid_size=Decimal(1), ask_size=Decimal(1))


@pytest.mark.parametrize("order_type, prices, ok", [
    ("market", {}, True), ("market", {"limit_price": Decimal(1)}, False),
    ("limit", {"limit_price": Decimal(1)}, True), ("limit", {}, False),
    ("stop", {"stop_price": Decimal(1)}, True), ("stop", {"limit_price": Decimal(1)}, False),
    ("stop_limit", {"stop_price": Decimal(1), "limit_price": Decimal(1)}, True),
    ("stop_limit", {"stop_price": Decimal(1)}, False),
])
def test_order_prices_must_match_the_order_type(order_type, prices, ok):
    if ok:
        assert submit_order(order_type=order_type, **prices).order_type == order_type
    else:
        with pytest.raises(ValidationError):
            submit_order(order_type=order_type, **prices)


def test_order_and_fill_quantities_must_be_positive():
    with pytest.raises(ValidationError):
        submit_order(quantity=Decimal(0))
    with pytest.raises(ValidationError):
        fill(quantity=Decimal(-5))


def test_caused_by_carries_the_chain():
    cause = bar()
    effect = SubmitOrder.caused_by(cause, ts_event=T0, ts_init=T0, source="t", client_order_id="c",
                                   strategy_id="s", symbol="ORCL", side="buy", quantity=Decimal(1))
    assert effect.correlation_id == cause.correlation_id == cause.message_id
    assert effect.causation_id == cause.message_id and effect.message_id != cause.message_id


def test_commands_are_imperatives_and_events_past_tense_facts():
    for name, cls in MESSAGE_TYPES.items():
        assert issubclass(cls, Command) != issubclass(cls, Event), name
    assert {n for n, c in MESSAGE_TYPES.items() if issubclass(c, Command)} == {"SubmitOrder", "CancelOrder",
                                                                             "RequestBarHistory", "HaltTrading",
                                                                             "ResumeTrading", "FlattenPositions",
                                                                             "RequestStatus"}
    # past participles (one irregular), and a snapshot: the fact "the account stood so"
    assert all(name.endswith(("ed", "Sent", "Snapshot")) for name, cls in MESSAGE_TYPES.items()
               if issubclass(cls, Event))


def test_every_message_has_the_full_envelope():
    envelope = {"message_id", "type", "schema_version", "ts_event", "ts_init", "correlation_id", "causation_id",
                "source"}
    for name, cls in MESSAGE_TYPES.items():
        assert envelope <= set(cls.model_fields), name
        assert cls.model_fields["type"].default == name


def test_decode_refuses_a_body_of_another_type():
    with pytest.raises(ValidationError):
        decode("CancelOrder", encode(bar()))
    assert isinstance(decode("CancelOrder", encode(CancelOrder(ts_event=T0, ts_init=T0, source="t",
                                                               client_order_id="c", symbol="X"))), CancelOrder)


def test_message_ids_are_unique():
    assert len({bar().message_id for _ in range(100)}) == 100
    assert isinstance(BarClosed.model_fields["schema_version"].default, int)
