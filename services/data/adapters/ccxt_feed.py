"""A live feed over a ccxt.pro exchange: trades, best bid/ask, optionally the book, and bars without gaps.

Per symbol, one task per ``watch_*`` call (trades, bid/ask, book, klines) feeds one queue the feed yields from;
a timer closes bars on time and watches for stale symbols. Bars come one of two ways (``bars``):

- ``"trades"``: built from the trades by ``domain.bars.BarBuilder`` (its rules: late trades, flat bars).
- ``"klines"``: the venue's own klines (``watch_ohlcv``). ccxt's unified rows drop Binance's "closed" flag, so a
  kline counts as closed when the next one starts, or when the clock passes its end plus the grace: then it is
  fetched by REST (authoritative), or taken as last streamed when REST does not have it.

Never a bar twice, never a gap: the feed publishes a bar only if it opens after the last one it published (per
symbol; at start, the newest bar of the history, so this survives a data-service restart). On start and after
every reconnect it backfills the closed bars since then from REST (``fetch_ohlcv``, paged; ccxt's rate limiter
paces it), and until that succeeded it holds the bars it builds. With ``bars="trades"`` the interval in
progress when the feed (re)subscribed missed trades, so REST is asked for it first when it closes.

A dropped link (ccxt's ``NetworkError``: ``ExchangeNotAvailable``, ``RequestTimeout`` ...) is retried with
exponential backoff per watch; the outage is logged once when it starts and once when data flows again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from prometheus_client import CollectorRegistry

from shared.runtime.clock import Clock, LiveClock

from ..domain import BarArchive
from ..domain.bars import BarBuilder, timeframe_ms, to_ms
from .backoff import backoff_delay
from .ccxt_bars import LINK_ERRORS, LiveBars
from .ccxt_messages import book_event, quote_event, trade_event
from .ccxt_streams import FeedMetrics, SymbolStream, log_bad_payload
from .feeds import Feed, MarketMessage

log = logging.getLogger("tradebus.data.ccxt")

_END = object()


class CcxtFeed(Feed):
    """Stream ``symbols`` of a ccxt.pro ``exchange`` (built by ``shared.venues.open_exchange``, closed by its owner).

    ``history`` is read once, for the last bar published of each symbol; the publisher appends to it.
    """

    def __init__(self, exchange: Any, symbols: Sequence[str], *, history: BarArchive, timeframe: str = "1m",
                 bars: Literal["trades", "klines"] = "trades", late_trade_grace: timedelta = timedelta(seconds=2),
                 stale_after_s: float = 60.0, order_book: bool = False, book_depth: int = 10,
                 backfill_bars: int = 500, clock: Clock | None = None, registry: CollectorRegistry | None = None,
                 service: str = "data", source: str | None = None, timer_s: float = 1.0,
                 backoff_s: tuple[float, float] = (0.5, 30.0),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if not symbols:
            raise ValueError("a live feed needs at least one symbol")
        self.exchange, self.symbols, self.timeframe, self.bars = exchange, tuple(symbols), timeframe, bars
        self.tf_ms, self.grace = timeframe_ms(timeframe), late_trade_grace
        self.source = source or f"data:{exchange.id}"
        self.stale_after = timedelta(seconds=stale_after_s)
        self.order_book, self.book_depth, self.backfill_bars = order_book, book_depth, backfill_bars
        self.clock, self.timer_s, self.backoff_s, self.sleep = clock or LiveClock(), timer_s, backoff_s, sleep
        self.metrics = FeedMetrics(registry or CollectorRegistry(), service)
        self.streams = {symbol: self._stream(symbol, history) for symbol in self.symbols}
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.live_bars = LiveBars(exchange, timeframe, source=self.source, grace=late_trade_grace,
                                  backfill_bars=backfill_bars, backoff_s=backoff_s, metrics=self.metrics,
                                  clock=self.clock, put=self._queue.put_nowait)
        self._failing: set[str] = set()
        self._outage_since: datetime | None = None
        self._closed = False

    def _stream(self, symbol: str, history: BarArchive) -> SymbolStream:
        builder = BarBuilder(symbol, self.timeframe, late_trade_grace=self.grace, source=self.source)
        stream = SymbolStream(symbol, builder, self.clock.now())
        last = history.bars_before(symbol, 1, self.timeframe)
        if last:
            stream.last_open_ms = to_ms(last[-1].ts_event)
            builder.resume_after(last[-1])
        return stream

    # -- iteration ---------------------------------------------------------------------------------------------
    async def __aiter__(self) -> AsyncIterator[MarketMessage]:
        now = self.clock.now()
        for stream in self.streams.values():
            stream.last_message = now
            self._resubscribing(stream)
        tasks = [asyncio.create_task(self._guarded(job)) for job in self._jobs()]
        try:
            while True:
                item = await self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _jobs(self) -> list[Awaitable[None]]:
        jobs: list[Awaitable[None]] = [self._timer()]
        quotes = self.exchange.watch_bids_asks if self.exchange.has.get("watchBidsAsks") else None
        for symbol, stream in self.streams.items():
            bar_trades = self.bars == "trades"
            jobs.append(self._watch(f"trades {symbol}", stream, lambda s=symbol: self.exchange.watch_trades(s),
                                    self._on_trades, bar_source=bar_trades))
            watch_quote = ((lambda s=symbol: quotes([s])) if quotes is not None
                           else (lambda s=symbol: self.exchange.watch_ticker(s)))
            jobs.append(self._watch(f"quotes {symbol}", stream, watch_quote, self._on_quotes))
            if self.order_book:
                jobs.append(self._watch(f"book {symbol}", stream, lambda s=symbol: self.exchange.watch_order_book(
                    s, self.book_depth), self._on_book))
            if not bar_trades:
                jobs.append(self._watch(f"klines {symbol}", stream, lambda s=symbol: self.exchange.watch_ohlcv(
                    s, self.timeframe), self._on_klines, bar_source=True))
        return jobs

    async def _guarded(self, job: Awaitable[None]) -> None:
        try:
            await job
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # noqa: BLE001 - handed to the iterating task, which raises it
            self._queue.put_nowait(error)

    async def close(self) -> None:
        """End the iteration (the watch tasks stop); the exchange stays open for its owner to close."""
        self._closed = True
        self._queue.put_nowait(_END)

    # -- the link ----------------------------------------------------------------------------------------------
    async def _watch(self, name: str, stream: SymbolStream, watch: Callable[[], Awaitable[Any]],
                     handle: Callable[[SymbolStream, Any], Awaitable[None]], *, bar_source: bool = False) -> None:
        failures = 0
        while not self._closed:
            try:
                result = await watch()
            except LINK_ERRORS as error:
                failures += 1
                self._lost(name, error)
                stream.down = stream.down or bar_source
                await self.sleep(backoff_delay(failures, *self.backoff_s))
                if bar_source:
                    self._resubscribing(stream)
                continue
            if failures:
                failures = 0
                self._back(name)
            self._alive(stream)
            await handle(stream, result)

    def _lost(self, name: str, error: BaseException) -> None:
        if self._outage_since is None:
            self._outage_since = self.clock.now()
            log.warning("venue %s: link lost (%s: %s); reconnecting with backoff", self.exchange.id,
                        type(error).__name__, error)
        self._failing.add(name)

    def _back(self, name: str) -> None:
        # the first data after an outage ends it: a watch still failing after that starts a new one (logged anew)
        self._failing.clear()
        if self._outage_since is not None:
            log.info("venue %s: data flows again after %.1f s (%s)", self.exchange.id,
                     (self.clock.now() - self._outage_since).total_seconds(), name)
            self._outage_since = None
            self.metrics.reconnects.inc()

    def _resubscribing(self, stream: SymbolStream) -> None:
        """Mark that the bar source of ``stream`` (re)subscribes now: backfill, and doubt the interval in progress."""
        now_ms = max(to_ms(self.clock.now()), stream.newest_ms)
        stream.down, stream.backfill_pending = False, True
        stream.trusted_from_ms = now_ms - now_ms % self.tf_ms + self.tf_ms if self.bars == "trades" else 0

    def _alive(self, stream: SymbolStream) -> None:
        stream.last_message = self.clock.now()
        if stream.stale:
            stream.stale = False
            self.metrics.stale(stream.symbol).set(0)
            log.info("%s: data flows again", stream.symbol)

    # -- handlers ----------------------------------------------------------------------------------------------
    async def _on_trades(self, stream: SymbolStream, trades: Sequence[dict[str, Any]]) -> None:
        now = self.clock.now()
        for raw in trades:
            try:
                trade = trade_event(raw, source=self.source, symbol=stream.symbol, now=now)
            except ValueError as error:
                log_bad_payload(stream.symbol, raw, error)
                continue
            if trade.sequence is not None:
                if trade.sequence <= stream.last_trade:
                    continue
                stream.last_trade = trade.sequence
            stream.newest_ms = max(stream.newest_ms, to_ms(trade.ts_event))
            if self.bars == "trades":
                outcome = stream.builder.add(trade.ts_event, trade.price, trade.size)
                if outcome.late:
                    self.metrics.late(stream.symbol).inc()
                if outcome.bars:
                    async with stream.lock:
                        await self.live_bars.settle(stream, outcome.bars)
            self._queue.put_nowait(trade)

    async def _on_quotes(self, stream: SymbolStream, tickers: Any) -> None:
        ticker = tickers.get(stream.symbol) if "bid" not in tickers else tickers
        if ticker is None:
            return
        try:
            self._queue.put_nowait(quote_event(ticker, source=self.source, symbol=stream.symbol,
                                               now=self.clock.now()))
        except ValueError as error:
            log_bad_payload(stream.symbol, ticker, error)

    async def _on_book(self, stream: SymbolStream, book: Any) -> None:
        try:
            self._queue.put_nowait(book_event(book, source=self.source, symbol=stream.symbol, now=self.clock.now(),
                                              depth=self.book_depth))
        except ValueError as error:
            log_bad_payload(stream.symbol, {"nonce": book.get("nonce")}, error)

    async def _on_klines(self, stream: SymbolStream, rows: Sequence[list[Any]]) -> None:
        for row in sorted(rows, key=lambda row: row[0]):
            forming = stream.forming_kline
            if forming is not None and row[0] > forming[0]:
                bar = self.live_bars.kline_bar(stream, forming)
                if bar is not None:
                    async with stream.lock:
                        await self.live_bars.settle(stream, [bar])
            if forming is None or row[0] >= forming[0]:
                stream.forming_kline = list(row)
                stream.newest_ms = max(stream.newest_ms, row[0])

    # -- bars --------------------------------------------------------------------------------------------------
    async def _timer(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.timer_s)
            now = self.clock.now()
            for stream in self.streams.values():
                self._check_stale(stream, now)
                if stream.down:
                    continue  # no trade seen proves nothing while the link is down: close nothing
                async with stream.lock:
                    if stream.backfill_pending or stream.held:
                        await self.live_bars.backfill(stream)
                    if self.bars == "trades":
                        if not stream.backfill_pending:
                            await self.live_bars.settle(stream, stream.builder.close_due(now))
                    else:
                        await self.live_bars.kline_due(stream, now)

    def _check_stale(self, stream: SymbolStream, now: datetime) -> None:
        if not stream.stale and now - stream.last_message > self.stale_after:
            stream.stale = True
            self.metrics.stale(stream.symbol).set(1)
            log.warning("%s: no market data for %.0f s (stale_after_s=%.0f)", stream.symbol,
                        (now - stream.last_message).total_seconds(), self.stale_after.total_seconds())

    # -- health ------------------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Return the per-symbol age of the last message, the stale symbols, and the link state."""
        now = self.clock.now()
        return {"bars": self.bars, "timeframe": self.timeframe, "link": "down" if self._failing else "up",
                "last_event_age_s": {symbol: round((now - stream.last_message).total_seconds(), 3)
                                     for symbol, stream in self.streams.items()},
                "stale": sorted(symbol for symbol, stream in self.streams.items() if stream.stale)}
