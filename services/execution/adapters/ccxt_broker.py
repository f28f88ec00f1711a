"""A venue reached through ccxt (``ccxt.pro``): orders over REST, fills and order updates pushed over websockets.

The exchange object comes built (``shared.venues.open_exchange``, or a test's client pointed at the emulator); this
adapter only uses ccxt's unified API. What it decides:

- **Answers to a submit.** ``InvalidOrder``, ``InsufficientFunds``, ``BadRequest`` and any other ``ExchangeError``
  mean the venue answered and refused: ``Rejected`` with its message. ``AuthenticationError`` is not an answer about
  the order but a broken setup: it propagates (fail fast). ``OperationFailed`` (``NetworkError``,
  ``RequestTimeout``, ``ExchangeNotAvailable``, a 5xx, and the rate limits ``RateLimitExceeded``/``DDoSProtection``)
  and aiohttp/socket errors raise ``OutcomeUnknown``: a refusal for load may have come before or after the
  matching engine, and reconciliation asks the venue later, which is safe either way.
- **A duplicate client id** (Binance -2010 "Duplicate order sent.", which ccxt raises as ``InvalidOrder``, or
  ``DuplicateOrderId``) means the venue already has an order under this id: our own, sent before a crash or a lost
  answer. The broker looks it up and returns what it says (accepted, fills), so nothing is placed twice and
  nothing is lost; if the lookup fails, ``OutcomeUnknown``. (The paper broker rejects instead: it never loses
  an answer.)
- **Stream reports** go through one queue and one task, in arrival order, and through a ``Book`` that makes every
  fill's cumulative right (see ``ccxt_book``). The watch loops survive disconnects (backoff, logged); after one,
  working orders are fetched again so a missed fill or cancel still arrives. ``fills_since`` finds the rest.
- **Open orders** include orders tradebus did not place (their client id is the venue's): reconciliation adopts
  them, as it adopts any order the store lacks.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt

from shared.runtime.clock import Clock

from ..domain.orders import Order
from ..domain.reconcile import BrokerView
from ..domain.reports import Accepted, Filled, Rejected, Report
from .broker import Broker, BrokerUnavailable, OutcomeUnknown
from .ccxt_book import Book, Tracked
from .ccxt_records import ClientIds, create_args, dec, order_from_ccxt, trade_key

log = logging.getLogger(__name__)

UNREACHABLE = (ccxt.OperationFailed, aiohttp.ClientError, asyncio.TimeoutError, OSError)
"""Errors that say nothing about the order: the request or its answer may have been lost."""
CURSOR_MARGIN_MS = 1_000
"""How far before the last trade seen ``fills_since`` asks again (repeats are harmless, a gap is not)."""
TRADES_PAGE = 1_000


class CcxtBroker(Broker):
    """Trade ``symbols`` (ccxt unified, ``BTC/USDT``) on a ccxt.pro ``exchange`` built by ``open_exchange``.

    ``poll_interval_s`` is the first wait before a failed stream is watched again (doubling up to
    ``max_backoff_s``); ``name`` defaults to the exchange id.
    """

    def __init__(self, exchange: Any, symbols: Iterable[str], *, clock: Clock, poll_interval_s: float = 1.0,
                 max_backoff_s: float = 30.0, name: str | None = None) -> None:
        super().__init__()
        self.exchange = exchange
        self.symbols = tuple(symbols)
        self.name = name or exchange.id
        self._clock = clock
        self._backoff = (poll_interval_s, max_backoff_s)
        self._book = Book(exchange.id)
        self._ids = ClientIds()
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    # -- session -----------------------------------------------------------------------------------------------
    async def connect(self) -> None:
        """Load the markets, then watch the account's orders and trades in the background (once)."""
        if self._tasks:
            return
        await self.exchange.load_markets()
        missing = [symbol for symbol in self.symbols if symbol not in self.exchange.markets]
        if missing:
            raise ValueError(f"{self.name} has no market {', '.join(missing)}")
        self._tasks = [asyncio.create_task(self._watch("order", self.exchange.watch_orders)),
                       asyncio.create_task(self._watch("trade", self.exchange.watch_my_trades)),
                       asyncio.create_task(self._dispatch())]

    async def close(self) -> None:
        """Stop watching and close the exchange's connections."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.exchange.close()

    async def balances(self) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
        """Return every non-zero balance as ``{asset: (free, used, total)}``."""
        raw = await self._ask(self.exchange.fetch_balance)
        found = {}
        for asset, total in (raw.get("total") or {}).items():
            if dec(total):
                found[asset] = (dec(raw["free"].get(asset)) or Decimal(0), dec(raw["used"].get(asset)) or Decimal(0),
                                dec(total) or Decimal(0))
        return found

    # -- orders ------------------------------------------------------------------------------------------------
    async def submit(self, order: Order) -> Sequence[Report]:
        """Place ``order`` under its client id; see the module docstring for what each answer becomes."""
        now, client_id = self._clock.now(), order.client_order_id
        args = create_args(order, self.exchange.market(order.symbol), self.exchange.precisionMode,
                           self._ids.remember(client_id))
        if isinstance(args, str):
            log.info("not sending %s: %s", client_id, args)
            return [Rejected(client_id, args, now)]
        kind, amount, price, params = args
        try:
            raw = await self.exchange.create_order(order.symbol, kind, order.side.value, float(amount),
                                                   None if price is None else float(price), params)
        except (ccxt.DuplicateOrderId, ccxt.InvalidOrder) as error:
            if not isinstance(error, ccxt.DuplicateOrderId) and "duplicate order" not in str(error).lower():
                return self._refused(client_id, error, now)
            return await self._adopt_duplicate(order)
        except ccxt.AuthenticationError:
            raise
        except ccxt.ExchangeError as error:
            return self._refused(client_id, error, now)
        except UNREACHABLE as error:
            log.warning("submit of %s: outcome unknown (%s)", client_id, type(error).__name__)
            raise OutcomeUnknown(f"{type(error).__name__}: {error}") from error
        return self._answer(raw, order.quantity, now)

    async def cancel(self, client_order_id: str) -> Sequence[Report]:
        """Ask the venue to cancel; the ``Canceled`` report comes through the stream. ``()`` if not working."""
        tracked = self._book.by_client_id(client_order_id)
        symbols = (tracked.symbol,) if tracked else self.symbols
        params = {"origClientOrderId": self._ids.remember(client_order_id)}
        for symbol in symbols:
            try:
                await self._ask(self.exchange.cancel_order, None, symbol, params)
                return ()
            except (ccxt.OrderNotFound, ccxt.OperationRejected):
                continue  # not working in this symbol: filled, canceled, or never there
        return ()

    async def open_orders(self) -> Sequence[Order]:
        """Return the venue's working orders in every traded symbol, ours and any others."""
        now, found = self._clock.now(), []
        for symbol in self.symbols:
            for raw in await self._ask(self.exchange.fetch_open_orders, symbol):
                found.append(order_from_ccxt(raw, self._ids.ours(raw.get("clientOrderId"), raw["id"]), now))
        return found

    async def orders(self, client_order_ids: Iterable[str]) -> Sequence[Order]:
        """Return the venue's record of these orders, searching each traded symbol; unknown ids are left out."""
        now, found = self._clock.now(), []
        for client_id in client_order_ids:
            raw = await self._lookup(client_id)
            if raw is not None:
                found.append(order_from_ccxt(raw, client_id, now))
        return found

    async def view(self, client_order_ids: Iterable[str], cursor: str | None = None) -> BrokerView:
        """Remember the ids asked about (to translate hashed venue ids back), then reconcile as usual."""
        wanted = list(client_order_ids)
        for client_id in wanted:
            self._ids.remember(client_id)
        return await super().view(wanted, cursor)

    async def fills_since(self, cursor: str | None = None) -> tuple[Sequence[Filled], str | None]:
        """Return the account's trades since ``cursor`` (per symbol, the last trade's time), oldest first."""
        marks: dict[str, int] = json.loads(cursor) if cursor else {}
        found: list[tuple[tuple[int, str], Filled]] = []
        for symbol in self.symbols:
            since = marks.get(symbol)
            trades = await self._trades(symbol, None if since is None else since - CURSOR_MARGIN_MS)
            for trade in trades:
                marks[symbol] = max(marks.get(symbol, 0), int(trade.get("timestamp") or 0))
            found.extend(await self._fills_of(symbol, trades))
        found.sort(key=lambda keyed: keyed[0])
        return [fill for _, fill in found], json.dumps(marks, sort_keys=True)

    # -- helpers -----------------------------------------------------------------------------------------------
    def _answer(self, raw: dict[str, Any], ordered: Decimal, now: Any) -> list[Report]:
        tracked = self._book.track(raw, self._ids.ours(raw.get("clientOrderId"), raw["id"]), ordered)
        for trade in raw.get("trades") or []:
            if trade.get("id") is not None and str(trade["id"]) not in tracked.fills:
                tracked.held.setdefault(str(trade["id"]), {**trade, "order": raw["id"]})
        tracked.accepted = True
        self._book.needs_trades(tracked, raw)  # the stream brings fills the answer lacks
        return [Accepted(tracked.client_order_id, tracked.venue_order_id, now), *self._book.on_order(tracked, raw, now)]

    def _refused(self, client_id: str, error: Exception, now: Any) -> list[Report]:
        log.info("%s rejected by %s: %s", client_id, self.name, error)
        return [Rejected(client_id, str(error), now)]

    async def _adopt_duplicate(self, order: Order) -> list[Report]:
        log.warning("%s already at %s (duplicate client id): adopting it", order.client_order_id, self.name)
        try:
            raw = await self._lookup(order.client_order_id, (order.symbol,))
        except BrokerUnavailable as error:
            raise OutcomeUnknown(f"duplicate client id, and the lookup failed: {error}") from error
        if raw is None:
            raise OutcomeUnknown("duplicate client id, yet the venue does not find the order")
        tracked = self._book.track(raw, order.client_order_id, order.quantity)
        tracked.accepted = True
        return [Accepted(order.client_order_id, tracked.venue_order_id, self._clock.now()),
                *await self._on_order(tracked, raw)]

    async def _lookup(self, client_id: str, symbols: Sequence[str] | None = None) -> dict[str, Any] | None:
        tracked = self._book.by_client_id(client_id)
        params = {"origClientOrderId": self._ids.remember(client_id)}
        for symbol in symbols or ((tracked.symbol,) if tracked else self.symbols):
            try:
                return await self._ask(self.exchange.fetch_order, None, symbol, params)  # type: ignore[no-any-return]
            except ccxt.OrderNotFound:
                continue
        return None

    async def _trades(self, symbol: str, since: int | None) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        while True:
            page = await self._ask(self.exchange.fetch_my_trades, symbol, since, TRADES_PAGE)
            fresh = [trade for trade in page if str(trade["id"]) not in seen]
            seen.update((str(trade["id"]), trade) for trade in fresh)
            if len(page) < TRADES_PAGE or not fresh:
                return sorted(seen.values(), key=trade_key)
            since = max(int(trade["timestamp"]) for trade in page)

    async def _fills_of(self, symbol: str, trades: list[dict[str, Any]]) -> list[tuple[tuple[int, str], Filled]]:
        fills: list[tuple[tuple[int, str], Filled]] = []
        for venue_id in dict.fromkeys(str(trade["order"]) for trade in trades):
            tracked = self._book.get(venue_id)
            ids = [str(trade["id"]) for trade in trades if str(trade["order"]) == venue_id]
            if tracked is None or not all(trade_id in tracked.fills for trade_id in ids):
                raw = await self._ask(self.exchange.fetch_order, venue_id, symbol)
                tracked = self._book.track(raw, self._ids.ours(raw.get("clientOrderId"), venue_id))
                self._book.sync(tracked, await self._ask(self.exchange.fetch_order_trades, venue_id, symbol),
                                self._clock.now())
            fills.extend((trade_key(trade), tracked.fills[str(trade["id"])]) for trade in trades
                         if str(trade["order"]) == venue_id and str(trade["id"]) in tracked.fills)
        return fills

    async def _on_order(self, tracked: Tracked, raw: dict[str, Any]) -> list[Report]:
        now = self._clock.now()
        reports: list[Report] = []
        if self._book.needs_trades(tracked, raw):
            trades = await self._ask(self.exchange.fetch_order_trades, tracked.venue_order_id, tracked.symbol)
            reports.extend(self._book.sync(tracked, trades, now))
        return reports + self._book.on_order(tracked, raw, now)

    async def _ask(self, call: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Call the venue for a query or a cancel; unreachable means ``BrokerUnavailable`` (retry later)."""
        try:
            return await call(*args)
        except UNREACHABLE as error:
            raise BrokerUnavailable(f"{self.name} unreachable: {type(error).__name__}: {error}") from error

    # -- streams -----------------------------------------------------------------------------------------------
    async def _watch(self, kind: str, watch: Callable[[], Awaitable[list[dict[str, Any]]]]) -> None:
        delay = self._backoff[0]
        while True:
            try:
                for item in await watch():
                    if item.get("symbol") in self.symbols:
                        self._queue.put_nowait((kind, item))
                delay = self._backoff[0]
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - a stream must outlive any failure; reconciliation repairs
                log.warning("%s %s stream failed (%s: %s); watching again in %.1fs", self.name, kind,
                            type(error).__name__, error, delay)
                self._queue.put_nowait(("resync", None))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])

    async def _dispatch(self) -> None:
        while True:
            kind, item = await self._queue.get()
            try:
                for report in await self._translate(kind, item):
                    await self._deliver(report)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - one bad update must not stop the stream; reconciliation repairs
                log.exception("%s: could not handle a %s update", self.name, kind)

    async def _translate(self, kind: str, item: Any) -> list[Report]:
        if kind == "trade":
            return self._book.on_trade(item, self._clock.now())
        if kind == "order":
            tracked = self._book.track(item, self._ids.ours(item.get("clientOrderId"), item["id"]))
            return await self._on_order(tracked, item)
        self._book.forget_doubtful()
        reports: list[Report] = []
        for tracked in self._book.working():
            raw = await self._ask(self.exchange.fetch_order, tracked.venue_order_id, tracked.symbol)
            reports.extend(await self._on_order(tracked, raw))
        return reports

    async def _deliver(self, report: Report) -> None:
        if self.report_sink is None:
            return
        try:
            await self.report_sink([report])
        except Exception as error:  # noqa: BLE001 - the service refused it; reconciliation will say why
            log.error("%s: the service refused %s for %s: %s", self.name, type(report).__name__,
                      report.client_order_id, error)
