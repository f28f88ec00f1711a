"""Turn ccxt's unified structures (trades, bid/ask tickers, order books, OHLCV rows) into market events.

Validation happens here, at the boundary: a structure that does not make a valid event raises ``ValueError``
(pydantic's ``ValidationError`` is one) and the feed reports and skips it.

Sequences (the consumer-side dedupe of ``shared.contracts.streams``):

- trades: the venue's trade id when it is a positive integer (Binance's are, increasing per symbol); the id
  also makes the message id, so a trade seen twice is the same event. Otherwise ``None``.
- quotes and books: the venue's update id when there is one (Binance's ``u`` of bookTicker, the book's
  ``nonce``); otherwise ``None``, *not deduplicated*. A per-process counter would be worse than nothing: after a
  data-service restart it starts again at 1 and every consumer would drop the quotes as older.
- bars: ``open_ms // tf_ms`` (``domain.bars``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from shared.contracts import BarClosed, BookLevel, OrderBookUpdated, QuoteTicked, TradeTicked

from ..domain import bar_problem, replay_id, stream_id_base
from ..domain.bars import closed_bar, from_ms

_ID_BITS = (1 << 48) - 1  # replay_id puts its sequence above bit 80 of a 128-bit id


def decimal(value: Any) -> Decimal:
    """Return a ccxt number (float, str or int) as the ``Decimal`` it prints as; ``ValueError`` if missing."""
    if value is None:
        raise ValueError("missing number")
    return Decimal(str(value))


def venue_sequence(value: Any) -> int | None:
    """Return ``value`` as a stream sequence when it is a positive integer (or its digits), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 1 else None
    if isinstance(value, str) and value.isdigit() and int(value) >= 1:
        return int(value)
    return None


def trade_event(trade: Mapping[str, Any], *, source: str, symbol: str, now: datetime) -> TradeTicked:
    """Return the ``TradeTicked`` of one ccxt trade (aggressor from its ``side``)."""
    sequence = venue_sequence(trade.get("id"))
    ts = from_ms(trade["timestamp"]) if trade.get("timestamp") is not None else now
    message_id = (replay_id(stream_id_base("TradeTicked", source, symbol), ts, sequence & _ID_BITS)
                  if sequence is not None else uuid4())
    side = trade.get("side")
    return TradeTicked(message_id=message_id, ts_event=ts, ts_init=now, source=source, symbol=symbol,
                       sequence=sequence, price=decimal(trade.get("price")), size=decimal(trade.get("amount")),
                       aggressor=side if side in ("buy", "sell") else "unknown",
                       trade_id=None if trade.get("id") is None else str(trade["id"]))


def quote_event(ticker: Mapping[str, Any], *, source: str, symbol: str, now: datetime) -> QuoteTicked:
    """Return the ``QuoteTicked`` of a ccxt bid/ask ticker (``watch_bids_asks`` or ``watch_ticker``)."""
    info = ticker.get("info") or {}
    ts = from_ms(ticker["timestamp"]) if ticker.get("timestamp") is not None else now
    return QuoteTicked(ts_event=ts, ts_init=now, source=source, symbol=symbol,
                       sequence=venue_sequence(info.get("u") if isinstance(info, Mapping) else None),
                       bid=decimal(ticker.get("bid")), ask=decimal(ticker.get("ask")),
                       bid_size=decimal(ticker.get("bidVolume") or 0), ask_size=decimal(ticker.get("askVolume") or 0))


def book_event(book: Mapping[str, Any], *, source: str, symbol: str, now: datetime, depth: int) -> OrderBookUpdated:
    """Return a snapshot ``OrderBookUpdated`` of the best ``depth`` levels of a ccxt order book."""
    ts = from_ms(book["timestamp"]) if book.get("timestamp") is not None else now

    def levels(side: Sequence[Sequence[Any]]) -> tuple[BookLevel, ...]:
        return tuple(BookLevel(price=decimal(level[0]), size=decimal(level[1])) for level in side[:depth])

    return OrderBookUpdated(ts_event=ts, ts_init=now, source=source, symbol=symbol,
                            sequence=venue_sequence(book.get("nonce")), is_snapshot=True,
                            bids=levels(book.get("bids") or ()), asks=levels(book.get("asks") or ()))


def ohlcv_bar(row: Sequence[Any], *, source: str, symbol: str, timeframe: str) -> BarClosed:
    """Return the ``BarClosed`` of one ccxt OHLCV row ``[open_ms, open, high, low, close, volume]``."""
    if len(row) < 6 or not isinstance(row[0], int):
        raise ValueError(f"not an OHLCV row: {row!r}")
    values = [decimal(value) for value in row[1:6]]
    problem = bar_problem(*values)
    if problem is not None:
        raise ValueError(problem)
    return closed_bar(source, symbol, timeframe, row[0], *values)
