"""A guard on the AMQP wire format: one malformed property must not cost a consumer its connection.

pamqp decodes a ``timestamp`` property (and a timestamp inside a header table) with ``datetime.fromtimestamp``;
a value no ``datetime`` can hold (a publisher writing microseconds: year 55974) raises while the frame is parsed,
before any message exists, and aiormq closes the whole connection. The service reconnects, is handed the same
message, and loses the connection again, for every queue it consumes. ``tolerate_bad_timestamps`` makes such a
timestamp decode as ``None`` instead, so the message reaches the dispatcher, which judges it like any other.
"""

from __future__ import annotations

import datetime

from pamqp import decode

_decode_timestamp = decode.timestamp


def lenient_timestamp(value: bytes) -> tuple[int, datetime.datetime | None]:
    """Decode an AMQP timestamp as pamqp does, but give ``None`` for one out of ``datetime``'s range."""
    try:
        return _decode_timestamp(value)
    except (ValueError, OverflowError, OSError):
        if len(value) < 8:
            raise  # a short frame is malformed for real: let pamqp's error stand
        return 8, None


def tolerate_bad_timestamps() -> None:
    """Install ``lenient_timestamp`` in pamqp's decoders (idempotent)."""
    decode.METHODS["timestamp"] = lenient_timestamp
    decode.TABLE_MAPPING[b"T"] = lenient_timestamp
