"""``BinanceEmulator``: a local Binance spot venue on one port, scripted by tests, driven by the real ccxt client."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from aiohttp import web

from . import payloads
from .book import TIMEFRAME_MS, Kline, PublicTrade, SymbolData
from .faults import FaultPlan, Rule, WeightMeter
from .matching import ZERO, MarketSpec, MatchingEngine, Order, Rejected, Report, default_markets
from .server import build_app
from .streams import StreamHub

Number = Decimal | str | int | float
SPOT_ONLY_OPTIONS = {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                     "fetchMargins": False}


def _dec(value: Number) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


class BinanceEmulator:
    """Serve Binance's spot REST API and websockets on ``127.0.0.1``; use as ``async with``.

    State (orders, balances, klines) lives in the object, so ``restart()`` keeps it while every socket drops.
    """

    def __init__(self, balances: dict[str, Number] | None = None, maker_fee: Number = "0.001",
                 taker_fee: Number = "0.001", markets: Iterable[MarketSpec | dict[str, Any]] | None = None,
                 api_key: str = "test-key", secret: str = "test-secret", clock: Callable[[], int] | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        specs = [_spec(m) for m in markets] if markets is not None else default_markets()
        start = {asset: _dec(amount) for asset, amount in (balances or {"USDT": "10000", "BTC": "0"}).items()}
        for spec in specs:
            start.setdefault(spec.base, ZERO)
            start.setdefault(spec.quote, ZERO)
        self.engine = MatchingEngine(specs, start, _dec(maker_fee), _dec(taker_fee))
        self.data = {spec.symbol: SymbolData() for spec in specs}
        self.api_key, self.secret = api_key, secret
        self.host, self.port = host, port
        self.hub = StreamHub()
        self.faults = FaultPlan()
        self.weights = WeightMeter()
        self.request_log: list[str] = []
        self.listen_keys: set[str] = set()
        self._clock = clock
        self._subscription_ids = itertools.count(0)
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()

    # lifecycle

    async def __aenter__(self) -> BinanceEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start serving on ``port`` (0: a free one, remembered so ``restart()`` comes back on it)."""
        self._release = asyncio.Event()
        self._runner = web.AppRunner(build_app(self), handle_signals=False, access_log=None,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Drop every socket and held request, and stop serving."""
        self._release.set()
        await self.hub.disconnect("all")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self) -> None:
        """Stop and start again on the same port, keeping orders, balances and market data."""
        await self.stop()
        await self.start()

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def now(self) -> int:
        """Return the venue's time in ms: the injected clock, else the wall clock."""
        return self._clock() if self._clock is not None else int(time.time() * 1000)

    # the scripted market

    async def trade(self, symbol: str, price: Number, qty: Number, side: str = "buy", ts: int | None = None) -> None:
        """Print a market trade: tape, trade and kline streams, then fills of the resting orders it crosses."""
        price, qty, now = _dec(price), _dec(qty), ts if ts is not None else self.now()
        data, market_id = self.data[symbol], self.engine.markets[symbol].id
        trade = PublicTrade(self.engine.next_trade_id(symbol), price, qty, now, buyer_is_maker=side == "sell")
        touched = data.on_trade(trade, self._kline_timeframes(symbol))
        event = payloads.trade_event(market_id, trade, now)
        await self.hub.publish([f"{market_id.lower()}@trade"], event)
        await self.hub.publish([f"{market_id.lower()}@aggTrade"], {**payloads.agg_trade(trade), "e": "aggTrade",
                                                                   "E": now, "s": market_id})
        for timeframe, kline in touched:
            await self._publish_kline(market_id, timeframe, kline)
        await self._publish_reports(self.engine.on_trade(symbol, price, qty, now))

    async def quote(self, symbol: str, bid: Number, ask: Number, bid_size: Number = "1",
                    ask_size: Number = "1") -> None:
        """Set the top of book (bookTicker stream, ``GET /ticker/bookTicker``); MARKET orders fill at it."""
        data, market_id = self.data[symbol], self.engine.markets[symbol].id
        data.top = (_dec(bid), _dec(bid_size), _dec(ask), _dec(ask_size))
        data.top_update_id += 1
        self.engine.on_quote(symbol, _dec(bid), _dec(ask))
        await self.hub.publish([f"{market_id.lower()}@bookTicker"],
                               payloads.book_ticker(market_id, data.top, data.top_update_id))

    async def set_book(self, symbol: str, bids: list[tuple[Number, Number]], asks: list[tuple[Number, Number]]) -> None:
        """Replace the depth book (``GET /depth``) and push the diff on the depth streams; the best levels quote."""
        bid_levels = [(_dec(p), _dec(q)) for p, q in bids]
        ask_levels = [(_dec(p), _dec(q)) for p, q in asks]
        market_id = self.engine.markets[symbol].id.lower()
        diff = self.data[symbol].depth.replace(bid_levels, ask_levels)
        event = payloads.depth_event(market_id.upper(), diff, self.now())
        await self.hub.publish([f"{market_id}@depth", f"{market_id}@depth@100ms", f"{market_id}@depth@1000ms"], event)
        if bid_levels and ask_levels:
            best_bid, best_ask = max(bid_levels), min(ask_levels)
            await self.quote(symbol, best_bid[0], best_ask[0], best_bid[1], best_ask[1])

    def load_klines(self, symbol: str, timeframe: str, rows: Iterable[tuple]) -> None:
        """Add closed candles ``(open_ms, o, h, l, c, v)`` to the history ``GET /api/v3/klines`` serves."""
        for row in rows:
            self.data[symbol].add_closed(timeframe, _kline(timeframe, row))

    async def close_kline(self, symbol: str, timeframe: str, row: tuple) -> None:
        """Add a closed candle to the history and push it on the kline stream with ``x`` true."""
        kline = _kline(timeframe, row)
        self.data[symbol].add_closed(timeframe, kline)
        await self._publish_kline(self.engine.markets[symbol].id, timeframe, kline)

    def deposit(self, asset: str, amount: Number) -> None:
        """Credit ``amount`` of ``asset``; a user stream sees ``balanceUpdate`` and ``outboundAccountPosition``."""
        self.engine.account.credit(asset, _dec(amount))
        now = self.now()
        if self.hub.has_user_stream():
            asyncio.get_running_loop().create_task(self._publish_deposit(asset, _dec(amount), now))

    # what tests inspect

    def order(self, client_order_id: str) -> dict[str, Any] | None:
        """Return the venue's record of an order in Binance's ``GET /order`` shape, plus its ``fills``."""
        order = self.engine.by_client_id.get(client_order_id)
        if order is None:
            return None
        return {**payloads.order_query(order), "fills": payloads.order_result(order, "FULL", self.now())["fills"]}

    def orders_with(self, client_order_id: str) -> int:
        """Return how many orders were ever accepted under ``client_order_id`` (the venue refuses any reuse)."""
        return sum(1 for order in self.engine.orders.values() if order.client_order_id == client_order_id)

    @property
    def balances(self) -> dict[str, Decimal]:
        return dict(self.engine.account.free)

    @property
    def locked(self) -> dict[str, Decimal]:
        return dict(self.engine.account.locked)

    async def wait_subscribed(self, stream_substring: str, timeout: float = 5) -> None:
        """Wait until some market socket is subscribed to a stream whose name contains ``stream_substring``."""
        await self.hub.wait_until(lambda: any(stream_substring in name for name in self.hub.market_streams()),
                                  timeout)

    async def wait_user_stream(self, timeout: float = 5) -> None:
        """Wait until a user-data stream (WS-API subscription or listenKey socket) is connected."""
        await self.hub.wait_until(self.hub.has_user_stream, timeout)

    def requests_to(self, path_substring: str) -> int:
        return sum(1 for path in self.request_log if path_substring in path)

    # faults

    def lose_responses(self, path_substring: str, count: int = 1, method: str | None = None) -> None:
        """Process matching requests fully, then never answer them: ccxt times out while the effect happened."""
        self.faults.add(Rule("lose", path_substring, count, method))

    def fail_requests(self, path_substring: str, status: int = 503, count: int = 1) -> None:
        """Answer matching requests with HTTP ``status`` without processing them."""
        self.faults.add(Rule("fail", path_substring, count, status=status))

    def delay_responses(self, path_substring: str, seconds: float) -> None:
        """Delay every matching request by ``seconds`` before processing it."""
        self.faults.add(Rule("delay", path_substring, None, seconds=seconds))

    def limit_request_weight(self, max_per_minute: int) -> None:
        """Answer 429 with Binance's -1003 body once the minute's request weight exceeds ``max_per_minute``."""
        self.faults.max_weight_per_minute = max_per_minute

    def ban(self, seconds: float) -> None:
        """Answer every REST request with 418 (IP banned) for ``seconds``."""
        self.faults.banned_until_ms = self.now() + int(seconds * 1000)

    def clear(self) -> None:
        """Remove every fault, the weight limit and the ban."""
        self.faults.clear()

    async def disconnect_websockets(self, kind: str = "all") -> None:
        """Drop the open sockets of ``kind`` (market, user or all); clients must reconnect."""
        await self.hub.disconnect(kind)

    # used by the server

    def symbol_of(self, market_id: str) -> str | None:
        return next((s for s, m in self.engine.markets.items() if m.id == market_id.upper()), None)

    def next_subscription_id(self) -> int:
        return next(self._subscription_ids)

    async def hold_connection(self) -> None:
        """Wait until the venue stops (or two minutes pass): the client gives up first."""
        try:
            await asyncio.wait_for(self._release.wait(), 120)
        except TimeoutError:
            pass

    async def submit_order(self, symbol: str, params: dict[str, str], decimal: Callable) -> Order:
        """Place an order from ``POST /api/v3/order`` parameters; raise ``Rejected`` as Binance would."""
        side, type_ = params.get("side", "").upper(), params.get("type", "").upper()
        if side not in ("BUY", "SELL"):
            raise Rejected(-1102, "Mandatory parameter 'side' was not sent, was empty/null, or malformed.")
        time_in_force = params.get("timeInForce")
        if type_ in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") and not time_in_force:
            raise Rejected(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
        client_id = params.get("newClientOrderId") or "emu" + secrets.token_hex(10)
        reports = self.engine.place(symbol, side, type_, decimal(params, "quantity"), decimal(params, "price"),
                                    decimal(params, "stopPrice"), time_in_force, client_id, self.now(),
                                    quote_qty=decimal(params, "quoteOrderQty"))
        await self._publish_reports(reports)
        return reports[0].order

    async def cancel_order(self, order: Order) -> None:
        await self._publish_reports([self.engine.cancel(order, self.now())])

    def ticker_24hr(self, symbol: str) -> dict[str, Any]:
        """Answer ``GET /api/v3/ticker/24hr`` from the prints of the last 24 hours."""
        now, data, market = self.now(), self.data[symbol], self.engine.markets[symbol]
        day = [t for t in data.trades if t.time >= now - 86_400_000] or data.trades[-1:]
        last = self.engine.last_price.get(symbol, ZERO)
        open_ = day[0].price if day else ZERO
        bid, bid_size, ask, ask_size = data.top or (ZERO, ZERO, ZERO, ZERO)
        f = payloads.fmt
        return {"symbol": market.id, "priceChange": f(last - open_), "priceChangePercent":
                f((last - open_) / open_ * 100 if open_ else ZERO)[:-6], "weightedAvgPrice": f(last),
                "prevClosePrice": f(open_), "lastPrice": f(last), "lastQty": f(day[-1].qty if day else ZERO),
                "bidPrice": f(bid), "bidQty": f(bid_size), "askPrice": f(ask), "askQty": f(ask_size),
                "openPrice": f(open_), "highPrice": f(max((t.price for t in day), default=ZERO)),
                "lowPrice": f(min((t.price for t in day), default=ZERO)), "volume": f(sum(t.qty for t in day)),
                "quoteVolume": f(sum(t.qty * t.price for t in day)), "openTime": day[0].time if day else now,
                "closeTime": now, "firstId": day[0].trade_id if day else -1,
                "lastId": day[-1].trade_id if day else -1, "count": len(day)}

    # internals

    def _kline_timeframes(self, symbol: str) -> set[str]:
        market_id = self.engine.markets[symbol].id.lower()
        subscribed = {name.split("@kline_")[1] for name in self.hub.market_streams()
                      if name.startswith(market_id + "@kline_")}
        return (set(self.data[symbol].klines) | subscribed) & set(TIMEFRAME_MS)

    async def _publish_kline(self, market_id: str, timeframe: str, kline: Kline) -> None:
        await self.hub.publish([f"{market_id.lower()}@kline_{timeframe}"],
                               payloads.kline_event(market_id, timeframe, kline, self.now()))

    async def _publish_reports(self, reports: list[Report]) -> None:
        if not reports:
            return
        now = self.now()
        assets: list[str] = []
        for report in reports:
            await self.hub.publish_user(payloads.execution_report(report, now))
            for asset in (report.order.market.base, report.order.market.quote):
                if asset not in assets:
                    assets.append(asset)
        await self.hub.publish_user(payloads.account_position(self.engine.account, assets, now))

    async def _publish_deposit(self, asset: str, amount: Decimal, now: int) -> None:
        await self.hub.publish_user(payloads.balance_update(asset, amount, now))
        await self.hub.publish_user(payloads.account_position(self.engine.account, [asset], now))


def _spec(market: MarketSpec | dict[str, Any]) -> MarketSpec:
    if isinstance(market, MarketSpec):
        return market
    fields = {key: (_dec(value) if key != "symbol" else value) for key, value in market.items()}
    return MarketSpec(**fields)


def _kline(timeframe: str, row: tuple) -> Kline:
    open_ms, o, h, low, c, v = row[:6]
    return Kline(int(open_ms), TIMEFRAME_MS[timeframe], _dec(o), _dec(h), _dec(low), _dec(c), _dec(v))


def binance_client(venue: BinanceEmulator, **ccxt_options: Any) -> Any:
    """Return a ``ccxt.pro.binance`` client with the venue's keys, spot-only options, pointed at ``venue``.

    ``ccxt_options`` are ccxt constructor settings (``timeout=1000``, ``secret=...``); an ``options`` dict is
    merged over the spot-only defaults. The caller closes the client.
    """
    import ccxt.pro

    from shared.venues import point_at

    options = {**SPOT_ONLY_OPTIONS, **ccxt_options.pop("options", {})}
    config = {"apiKey": venue.api_key, "secret": venue.secret, "enableRateLimit": True, **ccxt_options,
              "options": options}
    client = ccxt.pro.binance(config)
    point_at(client, venue.rest_url)
    return client
