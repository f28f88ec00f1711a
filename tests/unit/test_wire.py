"""A timestamp property no datetime can hold decodes as nothing instead of breaking the frame (and the connection)."""

from __future__ import annotations

import struct
from datetime import datetime, timezone

import pytest
from pamqp import commands

from shared.messaging.wire import lenient_timestamp, tolerate_bad_timestamps

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=timezone.utc)
MICROSECONDS = 1_704_205_800_000_000


def test_an_ordinary_timestamp_decodes_as_before_in_seconds_or_milliseconds() -> None:
    seconds = int(T0.timestamp())

    assert lenient_timestamp(struct.pack(">Q", seconds)) == (8, T0)
    assert lenient_timestamp(struct.pack(">Q", seconds * 1000)) == (8, T0)


def test_a_timestamp_in_microseconds_decodes_as_nothing() -> None:
    assert lenient_timestamp(struct.pack(">Q", MICROSECONDS)) == (8, None)


def test_a_short_timestamp_is_still_an_error() -> None:
    with pytest.raises(ValueError):
        lenient_timestamp(b"\x00\x01")


def test_pamqp_then_decodes_a_properties_frame_carrying_such_a_timestamp() -> None:
    tolerate_bad_timestamps()
    data = bytearray(commands.Basic.Properties(message_type="BarClosed", timestamp=T0).marshal())
    at = data.index(struct.pack(">Q", int(T0.timestamp())))
    data[at:at + 8] = struct.pack(">Q", MICROSECONDS)

    decoded = commands.Basic.Properties()
    decoded.unmarshal(struct.unpack(">H", data[:2])[0], bytes(data[2:]))

    assert (decoded.message_type, decoded.timestamp) == ("BarClosed", None)
