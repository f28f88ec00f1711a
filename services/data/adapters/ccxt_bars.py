"""Put each live bar out once, in order, without gaps: from the builder or the kline stream, REST when in doubt.

A bar is published only if it opens after the last one published of its symbol (``SymbolStream.last_open_ms``).
REST (``fetch_ohlcv``, paged, paced by ccxt's rate limiter) fills what the stream missed: on start and after a
reconnect (``backfill_pending``: bars closed meanwhile are held until it succeeded), and for a bar that was in
progress while the link was down (opening before ``trusted_from_ms``). A failed backfill is retried after a
backoff. Every method here runs with the symbol's lock held.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import ccxt

from shared.contracts import BarClosed
from shared.runtime.clock import Clock

from ..domain.bars import timeframe_ms, to_ms
from .backoff import backoff_delay
from .ccxt_messages import ohlcv_bar
from .ccxt_streams import FeedMetrics, SymbolStream, log_bad_payload
from .feeds import MarketMessage

log = logging.getLogger("tradebus.data.ccxt")

LINK_ERRORS: tuple[type[BaseException], ...] = (ccxt.NetworkError,)
"""What ccxt raises when a socket or a request drops (ExchangeNotAvailable, RequestTimeout are among them)."""
BACKFILL_PAGE = 1000
"""Klines per ``fetch_ohlcv`` call: Binance's maximum."""


class LiveBars:
    """The bar rules of a live feed over ``exchange``: what to publish (through ``put``), what to fetch first."""

    def __init__(self, exchange: Any, timeframe: str, *, source: str, grace: timedelta, backfill_bars: int,
                 backoff_s: tuple[float, float], metrics: FeedMetrics, clock: Clock,
                 put: Callable[[MarketMessage], None]) -> None:
        self.exchange, self.timeframe, self.tf_ms, self.source = exchange, timeframe, timeframe_ms(timeframe), source
        self.grace, self.backfill_bars, self.backoff_s = grace, backfill_bars, backoff_s
        self.metrics, self.clock, self.put = metrics, clock, put

    def kline_bar(self, stream: SymbolStream, row: list[Any]) -> BarClosed | None:
        """Return the bar of an OHLCV row, or ``None`` (reported) when it is not a valid bar."""
        try:
            return ohlcv_bar(row, source=self.source, symbol=stream.symbol, timeframe=self.timeframe)
        except ValueError as error:
            log_bad_payload(stream.symbol, row, error)
            return None

    async def kline_due(self, stream: SymbolStream, now: datetime) -> None:
        """Close by time the kline due (the next one expected, or the one streaming): REST first, once per bar."""
        forming = stream.forming_kline
        expected = stream.last_open_ms + self.tf_ms if stream.last_open_ms is not None else None
        limit = to_ms(now) - self.tf_ms - self.grace // timedelta(milliseconds=1)
        due = [start for start in (expected, forming[0] if forming else None) if start is not None and start <= limit]
        if not due:
            return
        target = max(due)
        if stream.rest_tried_ms != target:
            stream.rest_tried_ms = target
            await self.backfill(stream)
        if forming is not None and forming[0] == target and not stream.backfill_pending:
            bar = self.kline_bar(stream, forming)
            if bar is not None:
                self.emit(stream, bar)  # REST does not have it: the kline as last streamed

    async def settle(self, stream: SymbolStream, built: list[BarClosed]) -> None:
        """Publish bars the builder or the kline stream closed, REST first for the doubted ones (lock held)."""
        if not built and not stream.held:
            return
        stream.held.extend(built)
        if stream.backfill_pending or any(to_ms(bar.ts_event) < stream.trusted_from_ms for bar in stream.held):
            await self.backfill(stream)
        if stream.backfill_pending:
            return
        for bar in sorted(stream.held, key=lambda bar: bar.ts_event):
            self.emit(stream, bar)
        stream.held.clear()

    async def backfill(self, stream: SymbolStream) -> None:
        """Publish the closed bars since the last one published, from REST (lock held); after a failure, wait for
        the backoff before the next try."""
        now = self.clock.now()
        if now < stream.retry_at:
            return
        venue_now = max(to_ms(now), stream.newest_ms)
        since = (stream.last_open_ms + self.tf_ms if stream.last_open_ms is not None
                 else venue_now - venue_now % self.tf_ms - self.backfill_bars * self.tf_ms)
        try:
            while since + self.tf_ms <= venue_now:
                rows = await self.exchange.fetch_ohlcv(stream.symbol, self.timeframe, since=since,
                                                       limit=BACKFILL_PAGE)
                newest = None
                for row in rows:
                    if row[0] < since or row[0] + self.tf_ms > venue_now:
                        continue  # older than asked, or still forming at the venue
                    newest = row[0]
                    bar = self.kline_bar(stream, row)
                    if bar is not None and self.emit(stream, bar):
                        self.metrics.backfilled.inc()
                if newest is None or len(rows) < BACKFILL_PAGE:
                    break
                since = newest + self.tf_ms
        except LINK_ERRORS as error:
            stream.failed_backfills += 1
            pause = backoff_delay(stream.failed_backfills, *self.backoff_s)
            stream.retry_at = now + timedelta(seconds=pause)
            log.warning("%s: backfill from REST failed (%s), retrying in %.1f s", stream.symbol, error, pause)
            return
        stream.failed_backfills, stream.backfill_pending = 0, False

    def emit(self, stream: SymbolStream, bar: BarClosed) -> bool:
        """Queue ``bar`` if it opens after the last bar published of its symbol; say whether it did."""
        open_ms = to_ms(bar.ts_event)
        if stream.last_open_ms is not None and open_ms <= stream.last_open_ms:
            return False
        stream.last_open_ms = open_ms
        stream.builder.resume_after(bar)
        self.put(bar)
        return True
