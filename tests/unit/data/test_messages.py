"""Messages built without validation are the very objects pydantic would build; replay ids are stable UUIDs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import RFC_4122

from services.data.domain import new_bar, new_trade, replay_id, stream_id_base
from shared.contracts import BarClosed, TradeTicked, encode

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=timezone.utc)
PRICES = dict(open=Decimal("10.00"), high=Decimal("10.50"), low=Decimal("9.75"), close=Decimal("10.25"),
              volume=Decimal(1000))


def test_a_fast_bar_equals_the_model_construct_bar_in_fields_set_and_json() -> None:
    message_id = replay_id(stream_id_base("BarClosed", "test", "ORCL", "1d"), T0)
    fast = new_bar(message_id, T0, "test", "ORCL", 7, "1d", *PRICES.values())
    constructed = BarClosed.model_construct(message_id=message_id, correlation_id=message_id, ts_event=T0,
                                            ts_init=T0, source="test", symbol="ORCL", sequence=7, timeframe="1d",
                                            **PRICES)

    assert fast == constructed
    assert fast.model_fields_set == constructed.model_fields_set
    assert encode(fast) == encode(constructed)
    assert BarClosed.model_validate(fast.model_dump()) == fast


def test_a_fast_trade_equals_the_validated_trade() -> None:
    message_id = replay_id(stream_id_base("TradeTicked", "test", "ORCL"), T0)
    fast = new_trade(message_id, T0, "test", "ORCL", 3, Decimal("10.01"), Decimal(5), "buy", "t-1")
    validated = TradeTicked(message_id=message_id, correlation_id=message_id, ts_event=T0, ts_init=T0,
                            source="test", symbol="ORCL", sequence=3, price=Decimal("10.01"), size=Decimal(5),
                            aggressor="buy",
                            trade_id="t-1")

    assert fast == validated and encode(fast) == encode(validated)


def test_a_fast_message_copy_with_an_update_leaves_the_original_alone() -> None:
    bar = new_bar(replay_id(1 << 100, T0), T0, "test", "ORCL", 1, "1d", *PRICES.values())

    changed = bar.model_copy(update={"causation_id": bar.message_id})

    assert "causation_id" in changed.model_fields_set and "causation_id" not in bar.model_fields_set


def test_replay_ids_keep_the_version_5_and_rfc_variant_bits_even_before_1970() -> None:
    base = stream_id_base("BarClosed", "replay", "ORCL", "1d")

    for ts in (datetime(1, 1, 1, tzinfo=timezone.utc), datetime(1962, 7, 1, tzinfo=timezone.utc), T0,
               datetime(9999, 12, 31, tzinfo=timezone.utc)):
        for sequence in (0, 1, 12345):
            uuid = replay_id(base, ts, sequence)
            assert (uuid.version, uuid.variant) == (5, RFC_4122)


def test_replay_ids_differ_by_stream_timestamp_and_sequence_and_repeat_otherwise() -> None:
    orcl = stream_id_base("BarClosed", "replay", "ORCL", "1d")
    goog = stream_id_base("BarClosed", "replay", "GOOG", "1d")
    minute = timedelta(minutes=1)

    ids = {replay_id(base, T0 + i * minute, seq) for base in (orcl, goog) for i in range(100) for seq in range(3)}

    assert len(ids) == 600
    assert replay_id(orcl, T0, 2) == replay_id(stream_id_base("BarClosed", "replay", "ORCL", "1d"), T0, 2)
    assert stream_id_base("BarClosed", "replay", "ORCL", "1d") != stream_id_base("BarClosed", "replay", "ORCL", "1h")
