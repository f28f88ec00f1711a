"""The aiohttp application: Binance's spot REST API, market streams and the WS-API user-data stream, one port.

Requests pass one middleware that counts them, applies the venue's faults, bans and weight limit, and turns a
``Rejected`` into Binance's error body ``{"code": ..., "msg": ...}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from . import payloads
from .book import TIMEFRAME_MS
from .matching import Rejected
from .streams import Connection

if TYPE_CHECKING:
    from .emulator import BinanceEmulator

VENUE = web.AppKey("venue", object)
WEIGHTS = {"/api/v3/exchangeInfo": 20, "/api/v3/account": 20, "/api/v3/myTrades": 20, "/api/v3/trades": 25,
           "/api/v3/depth": 5, "/api/v3/klines": 2, "/api/v3/openOrders": 6, "/api/v3/allOrders": 20,
           "/api/v3/ticker/24hr": 2, "/api/v3/ticker/bookTicker": 2}
RATE_LIMIT_MSG = ("Too much request weight used; current limit is {} request weight per 1 MINUTE. "
                  "Please use WebSocket Streams for live updates to avoid polling the API.")


def build_app(venue: BinanceEmulator) -> web.Application:
    """Return the application serving ``venue``."""
    app = web.Application(middlewares=[_venue_middleware])
    app[VENUE] = venue
    routes = [
        ("GET", "/api/v3/ping", _ping), ("GET", "/api/v3/time", _time), ("GET", "/api/v3/exchangeInfo", _info),
        ("GET", "/api/v3/depth", _depth), ("GET", "/api/v3/ticker/bookTicker", _book_ticker),
        ("GET", "/api/v3/ticker/24hr", _ticker_24hr), ("GET", "/api/v3/ticker/price", _ticker_price),
        ("GET", "/api/v3/klines", _klines), ("GET", "/api/v3/trades", _trades),
        ("GET", "/api/v3/aggTrades", _agg_trades), ("POST", "/api/v3/order", _new_order),
        ("POST", "/api/v3/order/test", _test_order), ("GET", "/api/v3/order", _query_order),
        ("DELETE", "/api/v3/order", _cancel_order), ("GET", "/api/v3/openOrders", _open_orders),
        ("DELETE", "/api/v3/openOrders", _cancel_all), ("GET", "/api/v3/allOrders", _all_orders),
        ("GET", "/api/v3/myTrades", _my_trades), ("GET", "/api/v3/account", _account),
        ("POST", "/api/v3/userDataStream", _listen_key_new), ("PUT", "/api/v3/userDataStream", _listen_key_keep),
        ("DELETE", "/api/v3/userDataStream", _listen_key_keep),
        ("GET", "/sapi/v1/capital/config/getall", _no_currencies),
        ("GET", "/ws", _market_socket), ("GET", "/ws/{name:.*}", _market_socket), ("GET", "/stream", _market_socket),
        ("GET", "/ws-api/v3", _ws_api),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    return app


def _venue(request: web.Request) -> BinanceEmulator:
    return request.app[VENUE]  # type: ignore[return-value]


def _error(rejected: Rejected, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"code": rejected.code, "msg": rejected.msg}, status=rejected.status, headers=headers)


@web.middleware
async def _venue_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    venue = _venue(request)
    if not request.path.startswith(("/api/", "/sapi/")):
        return await handler(request)
    venue.request_log.append(request.path)
    now = venue.now()
    faults = venue.faults
    if now < faults.banned_until_ms:
        return _error(Rejected(-1003, f"Way too much request weight used; IP banned until {faults.banned_until_ms}. "
                                      "Please use WebSocket Streams for live updates to avoid bans.", 418))
    used = venue.weights.add(now, WEIGHTS.get(request.path, 1))
    headers = {"x-mbx-used-weight": str(used), "x-mbx-used-weight-1m": str(used)}
    if faults.max_weight_per_minute is not None and used > faults.max_weight_per_minute:
        headers["Retry-After"] = str(60 - (now // 1000) % 60)
        return _error(Rejected(-1003, RATE_LIMIT_MSG.format(faults.max_weight_per_minute), 429), headers)
    verdict = faults.verdict(request.method, request.path)
    if verdict.fail_status is not None:
        return web.Response(status=verdict.fail_status, text="Service Unavailable", headers=headers)
    if verdict.delay:
        await asyncio.sleep(verdict.delay)
    try:
        response = await handler(request)
    except Rejected as rejected:
        response = _error(rejected)
    if verdict.lose:
        await venue.hold_connection()
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError  # the request was processed; the answer is lost on the way
    response.headers.update(headers)
    return response


# request parsing and signatures


async def _signed(request: web.Request) -> dict[str, str]:
    """Return the parameters of a SIGNED request once its key, timestamp and HMAC signature check out."""
    venue = _venue(request)
    _check_key(request, venue)
    body = await request.text() if request.method in ("POST", "PUT") else ""
    query, query_sig = _without_signature(request.query_string)
    body, body_sig = _without_signature(body)
    signature = query_sig or body_sig
    params = dict(parse_qsl(query, keep_blank_values=True)) | dict(parse_qsl(body, keep_blank_values=True))
    if signature is None:
        raise Rejected(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    _check_signature(venue.secret, query + body, signature)
    _check_timestamp(params, venue.now())
    return params


def _check_key(request: web.Request, venue: BinanceEmulator) -> None:
    key = request.headers.get("X-MBX-APIKEY")
    if not key:
        raise Rejected(-2014, "API-key format invalid.", 401)
    if key != venue.api_key:
        raise Rejected(-2015, "Invalid API-key, IP, or permissions for action.", 401)


def _without_signature(raw: str) -> tuple[str, str | None]:
    kept, signature = [], None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature="):]
        else:
            kept.append(part)
    return "&".join(kept), signature


def _check_signature(secret: str, payload: str, signature: str) -> None:
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise Rejected(-1022, "Signature for this request is not valid.")


def _check_timestamp(params: dict[str, Any], now: int) -> None:
    try:
        timestamp = int(params["timestamp"])
        window = int(params.get("recvWindow", 5000))
    except (KeyError, ValueError):
        raise Rejected(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.") from None
    if window > 60000:
        raise Rejected(-1131, "recvWindow must be less than 60000")
    if timestamp > now + 1000:
        raise Rejected(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now - timestamp > window:
        raise Rejected(-1021, "Timestamp for this request is outside of the recvWindow.")


def _decimal(params: dict[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise Rejected(-1100, f"Illegal characters found in parameter '{name}'; legal range is "
                              "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.") from None
    if not value.is_finite() or value < 0:
        raise Rejected(-1100, f"Illegal characters found in parameter '{name}'.")
    return value


def _int(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    try:
        return int(raw) if raw not in (None, "") else None
    except ValueError:
        raise Rejected(-1100, f"Illegal characters found in parameter '{name}'.") from None


def _symbol(venue: BinanceEmulator, params: Any, required: bool = True) -> str | None:
    market_id = params.get("symbol")
    if market_id is None:
        if required:
            raise Rejected(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.")
        return None
    symbol = venue.symbol_of(market_id)
    if symbol is None:
        raise Rejected(-1121, "Invalid symbol.")
    return symbol


# public REST


async def _ping(request: web.Request) -> web.Response:
    return web.json_response({})


async def _time(request: web.Request) -> web.Response:
    return web.json_response({"serverTime": _venue(request).now()})


async def _info(request: web.Request) -> web.Response:
    venue = _venue(request)
    return web.json_response(payloads.exchange_info(list(venue.engine.markets.values()), venue.now()))


async def _no_currencies(request: web.Request) -> web.Response:
    await _signed(request)
    return web.json_response([])


async def _depth(request: web.Request) -> web.Response:
    venue = _venue(request)
    symbol = _symbol(venue, request.query)
    limit = min(_int(dict(request.query), "limit") or 100, 5000)
    depth = venue.data[symbol].depth
    bids, asks = depth.snapshot(limit)
    return web.json_response({"lastUpdateId": depth.update_id,
                              "bids": [[payloads.fmt(p), payloads.fmt(q)] for p, q in bids],
                              "asks": [[payloads.fmt(p), payloads.fmt(q)] for p, q in asks]})


def _symbols_asked(venue: BinanceEmulator, query: Any) -> list[str] | None:
    """Resolve ``symbol`` or ``symbols`` (a JSON list); None when neither is given (every symbol)."""
    if "symbols" in query:
        return [_symbol(venue, {"symbol": market_id}) for market_id in json.loads(query["symbols"])]  # type: ignore
    symbol = _symbol(venue, query, required=False)
    return None if symbol is None else [symbol]


def _one_or_all(query: Any, rows: list[dict]) -> web.Response:
    return web.json_response(rows[0] if "symbol" in query else rows)


async def _book_ticker(request: web.Request) -> web.Response:
    venue = _venue(request)
    symbols = _symbols_asked(venue, request.query) or list(venue.engine.markets)
    rows = [payloads.rest_book_ticker(venue.engine.markets[s].id, venue.data[s].top) for s in symbols]
    return _one_or_all(request.query, rows)


async def _ticker_price(request: web.Request) -> web.Response:
    venue = _venue(request)
    symbols = _symbols_asked(venue, request.query) or list(venue.engine.markets)
    rows = [{"symbol": venue.engine.markets[s].id, "price": payloads.fmt(venue.engine.last_price.get(s))}
            for s in symbols]
    return _one_or_all(request.query, rows)


async def _ticker_24hr(request: web.Request) -> web.Response:
    venue = _venue(request)
    symbols = _symbols_asked(venue, request.query) or list(venue.engine.markets)
    rows = [venue.ticker_24hr(symbol) for symbol in symbols]
    return _one_or_all(request.query, rows)


async def _klines(request: web.Request) -> web.Response:
    venue = _venue(request)
    query = dict(request.query)
    symbol = _symbol(venue, query)
    interval = query.get("interval")
    if interval not in TIMEFRAME_MS:
        raise Rejected(-1120, "Invalid interval.")
    limit = max(1, min(_int(query, "limit") or 500, 1000))
    rows = venue.data[symbol].klines_between(interval, _int(query, "startTime"), _int(query, "endTime"), limit)
    return web.json_response([payloads.kline_row(row) for row in rows])


async def _trades(request: web.Request) -> web.Response:
    venue = _venue(request)
    query = dict(request.query)
    symbol = _symbol(venue, query)
    limit = max(1, min(_int(query, "limit") or 500, 1000))
    return web.json_response([payloads.rest_trade(t) for t in venue.data[symbol].trades[-limit:]])


async def _agg_trades(request: web.Request) -> web.Response:
    venue = _venue(request)
    query = dict(request.query)
    symbol = _symbol(venue, query)
    start, end, from_id = _int(query, "startTime"), _int(query, "endTime"), _int(query, "fromId")
    limit = max(1, min(_int(query, "limit") or 500, 1000))
    rows = [t for t in venue.data[symbol].trades if (start is None or t.time >= start)
            and (end is None or t.time <= end) and (from_id is None or t.trade_id >= from_id)]
    rows = rows[:limit] if (start is not None or from_id is not None) else rows[-limit:]
    return web.json_response([payloads.agg_trade(t) for t in rows])


# signed REST: orders and account


async def _new_order(request: web.Request) -> web.Response:
    venue = _venue(request)
    params = await _signed(request)
    order = await venue.submit_order(_symbol(venue, params), params, _decimal)  # type: ignore[arg-type]
    resp_type = params.get("newOrderRespType") or ("FULL" if order.type in ("MARKET", "LIMIT") else "ACK")
    return web.json_response(payloads.order_result(order, resp_type.upper(), venue.now()))


async def _test_order(request: web.Request) -> web.Response:
    await _signed(request)
    return web.json_response({})


def _find(venue: BinanceEmulator, params: dict[str, str], code: int, msg: str) -> Any:
    symbol = _symbol(venue, params)
    order_id, client_id = _int(params, "orderId"), params.get("origClientOrderId")
    if order_id is None and not client_id:
        raise Rejected(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
    order = venue.engine.find(symbol, order_id, client_id)  # type: ignore[arg-type]
    if order is None:
        raise Rejected(code, msg)
    return order


async def _query_order(request: web.Request) -> web.Response:
    venue = _venue(request)
    params = await _signed(request)
    order = _find(venue, params, -2013, "Order does not exist.")
    return web.json_response(payloads.order_query(order))


async def _cancel_order(request: web.Request) -> web.Response:
    venue = _venue(request)
    params = await _signed(request)
    order = _find(venue, params, -2011, "Unknown order sent.")
    await venue.cancel_order(order)
    cancel_id = params.get("newClientOrderId") or secrets.token_hex(11)
    return web.json_response(payloads.cancel_result(order, cancel_id, venue.now()))


async def _cancel_all(request: web.Request) -> web.Response:
    venue = _venue(request)
    params = await _signed(request)
    symbol = _symbol(venue, params)
    orders = venue.engine.open_orders(symbol)
    if not orders:
        raise Rejected(-2011, "Unknown order sent.")
    for order in orders:
        await venue.cancel_order(order)
    return web.json_response([payloads.cancel_result(o, secrets.token_hex(11), venue.now()) for o in orders])


async def _open_orders(request: web.Request) -> web.Response:
    venue = _venue(request)
    params = await _signed(request)
    orders = venue.engine.open_orders(_symbol(venue, params, required=False))
    return web.json_response([payloads.order_query(order) for order in orders])


async def _all_orders(request: web.Request) -> web.Response:
    venue = _venue(request)
    params = await _signed(request)
    symbol = _symbol(venue, params)
    start, end, from_id = _int(params, "startTime"), _int(params, "endTime"), _int(params, "orderId")
    limit = max(1, min(_int(params, "limit") or 500, 1000))
    rows = [o for o in venue.engine.orders.values() if o.market.symbol == symbol
            and (start is None or o.time >= start) and (end is None or o.time <= end)
            and (from_id is None or o.order_id >= from_id)]
    rows = rows[:limit] if from_id is not None or start is not None else rows[-limit:]
    return web.json_response([payloads.order_query(order) for order in rows])


async def _my_trades(request: web.Request) -> web.Response:
    venue = _venue(request)
    params = await _signed(request)
    symbol = _symbol(venue, params)
    order_id, from_id = _int(params, "orderId"), _int(params, "fromId")
    start, end = _int(params, "startTime"), _int(params, "endTime")
    limit = max(1, min(_int(params, "limit") or 500, 1000))
    rows = [(o, f) for o in venue.engine.orders.values() if o.market.symbol == symbol
            and (order_id is None or o.order_id == order_id) for f in o.fills
            if (from_id is None or f.trade_id >= from_id) and (start is None or f.time >= start)
            and (end is None or f.time <= end)]
    rows.sort(key=lambda row: row[1].trade_id)
    rows = rows[:limit] if from_id is not None or start is not None else rows[-limit:]
    return web.json_response([payloads.my_trade(order, fill) for order, fill in rows])


async def _account(request: web.Request) -> web.Response:
    venue = _venue(request)
    params = await _signed(request)
    info = payloads.account_info(venue.engine.account, venue.now())
    if params.get("omitZeroBalances") == "true":
        info["balances"] = [b for b in info["balances"] if Decimal(b["free"]) or Decimal(b["locked"])]
    return web.json_response(info)


async def _listen_key_new(request: web.Request) -> web.Response:
    venue = _venue(request)
    _check_key(request, venue)
    key = secrets.token_urlsafe(45)[:60]
    venue.listen_keys.add(key)
    return web.json_response({"listenKey": key})


async def _listen_key_keep(request: web.Request) -> web.Response:
    _check_key(request, _venue(request))
    return web.json_response({})


# websockets


async def _market_socket(request: web.Request) -> web.WebSocketResponse:
    """Serve ``/ws``, ``/ws/<streams or listenKey>`` and ``/stream?streams=a/b``; answer SUBSCRIBE requests."""
    venue = _venue(request)
    name = request.match_info.get("name", "")
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    if name in venue.listen_keys:
        conn = venue.hub.add(Connection(ws, "user", user=True))
    else:
        combined = request.path.startswith("/stream")
        initial = request.query.get("streams", "") if combined else name
        conn = venue.hub.add(Connection(ws, "market", combined, {s for s in initial.split("/") if "@" in s}))
    await venue.hub.changed()
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await _market_request(venue, conn, message.data)
    finally:
        await venue.hub.remove(conn)
    return ws


async def _market_request(venue: BinanceEmulator, conn: Connection, text: str) -> None:
    try:
        request = json.loads(text)
        method, params, request_id = request["method"], request.get("params", []), request.get("id")
    except (ValueError, KeyError, TypeError):
        await conn.ws.send_json({"error": {"code": 3, "msg": "Invalid JSON: expected a method"}})
        return
    result: Any = None
    if method == "SUBSCRIBE":
        conn.streams.update(params)
    elif method == "UNSUBSCRIBE":
        conn.streams.difference_update(params)
    elif method == "LIST_SUBSCRIPTIONS":
        result = sorted(conn.streams)
    elif method not in ("SET_PROPERTY", "GET_PROPERTY"):
        await conn.ws.send_json({"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"},
                                 "id": request_id})
        return
    await conn.ws.send_json({"result": result, "id": request_id})
    await venue.hub.changed()


async def _ws_api(request: web.Request) -> web.WebSocketResponse:
    """Serve the WS-API (``/ws-api/v3``): session logon, user-data subscriptions, ping and time."""
    venue = _venue(request)
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    conn = venue.hub.add(Connection(ws, "user"))
    session: dict[str, bool] = {"logged_on": False}
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await _ws_api_request(venue, conn, session, message.data)
    finally:
        await venue.hub.remove(conn)
    return ws


async def _ws_api_request(venue: BinanceEmulator, conn: Connection, session: dict, text: str) -> None:
    request: dict[str, Any] = {}
    try:
        request = json.loads(text)
        method, params = request["method"], request.get("params", {})
        result = _ws_api_result(venue, conn, session, method, params)
    except Rejected as rejected:
        await conn.ws.send_json({"id": request.get("id"), "status": rejected.status,
                                 "error": {"code": rejected.code, "msg": rejected.msg}})
        return
    except (ValueError, KeyError, TypeError, AttributeError):
        await conn.ws.send_json({"id": request.get("id"), "status": 400,
                                 "error": {"code": -1102, "msg": "Mandatory parameter 'method' was not sent."}})
        return
    await conn.ws.send_json({"id": request.get("id"), "status": 200, "result": result, "rateLimits": []})
    await venue.hub.changed()


def _ws_api_result(venue: BinanceEmulator, conn: Connection, session: dict, method: str, params: dict) -> Any:
    if method == "ping":
        return {}
    if method == "time":
        return {"serverTime": venue.now()}
    if method == "session.logon":
        _check_ws_signature(venue, params)
        session["logged_on"] = True
        return {"apiKey": venue.api_key, "authorizedSince": venue.now(), "connectedSince": venue.now(),
                "returnRateLimits": False, "serverTime": venue.now(), "userDataStream": conn.user}
    if method == "session.status":
        return {"apiKey": venue.api_key if session["logged_on"] else None, "serverTime": venue.now()}
    if method == "userDataStream.subscribe.signature":
        _check_ws_signature(venue, params)
        return _subscribe_user(venue, conn)
    if method == "userDataStream.subscribe":
        if not session["logged_on"]:
            raise Rejected(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return _subscribe_user(venue, conn)
    if method == "userDataStream.unsubscribe":
        conn.user, conn.subscription_id = False, None
        return {}
    raise Rejected(-1100, f"Unknown method '{method}'.")


def _subscribe_user(venue: BinanceEmulator, conn: Connection) -> dict[str, int]:
    conn.user, conn.subscription_id = True, venue.next_subscription_id()
    return {"subscriptionId": conn.subscription_id}


def _check_ws_signature(venue: BinanceEmulator, params: dict[str, Any]) -> None:
    # the WS-API signs its params sorted by name, joined as key=value&... without URL encoding
    if params.get("apiKey") != venue.api_key:
        raise Rejected(-2015, "Invalid API-key, IP, or permissions for action.", 401)
    signature = params.get("signature")
    if not signature:
        raise Rejected(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    payload = "&".join(f"{key}={_ws_value(value)}" for key, value in sorted(params.items()) if key != "signature")
    _check_signature(venue.secret, payload, str(signature))
    _check_timestamp(params, venue.now())


def _ws_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

