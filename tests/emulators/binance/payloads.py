"""Binance spot JSON shapes (REST answers and stream events) built from the emulator's records.

Field names and formats follow Binance's spot API documentation: decimals as strings with 8 places, times in ms.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .book import Kline, PublicTrade
from .matching import STOP_TYPES, Account, Fill, MarketSpec, Order, Report


def fmt(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)):.8f}"


def symbol_info(market: MarketSpec) -> dict[str, Any]:
    """Return one entry of ``exchangeInfo.symbols``."""
    return {
        "symbol": market.id, "status": "TRADING", "baseAsset": market.base, "baseAssetPrecision": 8,
        "quoteAsset": market.quote, "quotePrecision": 8, "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": False, "ocoAllowed": False, "otoAllowed": False, "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False, "cancelReplaceAllowed": False, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": fmt(market.min_price), "maxPrice": fmt(market.max_price),
             "tickSize": fmt(market.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": fmt(market.min_qty), "maxQty": fmt(market.max_qty),
             "stepSize": fmt(market.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": fmt(Decimal(0)), "maxQty": fmt(market.max_qty),
             "stepSize": fmt(Decimal(0))},
            {"filterType": "NOTIONAL", "minNotional": fmt(market.min_notional), "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def exchange_info(markets: list[MarketSpec], now: int) -> dict[str, Any]:
    return {
        "timezone": "UTC", "serverTime": now,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        ],
        "exchangeFilters": [], "symbols": [symbol_info(market) for market in markets],
    }


def _order_core(order: Order) -> dict[str, Any]:
    core = {
        "symbol": order.market.id, "orderId": order.order_id, "orderListId": -1,
        "clientOrderId": order.client_order_id, "price": fmt(order.price), "origQty": fmt(order.qty),
        "executedQty": fmt(order.executed), "cummulativeQuoteQty": fmt(order.quote_executed),
        "status": order.status, "timeInForce": order.time_in_force or "GTC", "type": order.type,
        "side": order.side, "selfTradePreventionMode": "EXPIRE_MAKER",
    }
    if order.type in STOP_TYPES:
        core["stopPrice"] = fmt(order.stop_price)
    return core


def order_result(order: Order, resp_type: str, now: int) -> dict[str, Any]:
    """Answer ``POST /api/v3/order`` in the ``newOrderRespType`` asked for (ACK, RESULT or FULL)."""
    ack = {"symbol": order.market.id, "orderId": order.order_id, "orderListId": -1,
           "clientOrderId": order.client_order_id, "transactTime": now}
    if resp_type == "ACK":
        return ack
    result = {**ack, **_order_core(order), "transactTime": now, "workingTime": order.time if order.triggered else -1,
              "origQuoteOrderQty": fmt(order.orig_quote_qty)}
    if resp_type == "FULL":
        result["fills"] = [{"price": fmt(f.price), "qty": fmt(f.qty), "commission": fmt(f.commission),
                            "commissionAsset": f.commission_asset, "tradeId": f.trade_id} for f in order.fills]
    return result


def order_query(order: Order) -> dict[str, Any]:
    """Answer ``GET /api/v3/order`` and each entry of ``openOrders`` / ``allOrders``."""
    return {**_order_core(order), "stopPrice": fmt(order.stop_price), "icebergQty": fmt(None),
            "time": order.time, "updateTime": order.update_time, "isWorking": order.triggered,
            "workingTime": order.time if order.triggered else -1, "origQuoteOrderQty": fmt(order.orig_quote_qty)}


def cancel_result(order: Order, cancel_client_id: str, now: int) -> dict[str, Any]:
    return {**_order_core(order), "origClientOrderId": order.client_order_id, "clientOrderId": cancel_client_id,
            "transactTime": now}


def my_trade(order: Order, fill: Fill) -> dict[str, Any]:
    """One entry of ``GET /api/v3/myTrades``."""
    return {"symbol": order.market.id, "id": fill.trade_id, "orderId": order.order_id, "orderListId": -1,
            "price": fmt(fill.price), "qty": fmt(fill.qty), "quoteQty": fmt(fill.price * fill.qty),
            "commission": fmt(fill.commission), "commissionAsset": fill.commission_asset, "time": fill.time,
            "isBuyer": order.side == "BUY", "isMaker": fill.maker, "isBestMatch": True}


def account_info(account: Account, now: int) -> dict[str, Any]:
    """Answer ``GET /api/v3/account``."""
    return {"makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": "0.00100000", "taker": "0.00100000", "buyer": "0.00000000",
                                "seller": "0.00000000"},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False, "updateTime": now, "accountType": "SPOT",
            "balances": [{"asset": asset, "free": fmt(free), "locked": fmt(account.locked.get(asset))}
                         for asset, free in sorted(account.free.items())],
            "permissions": ["SPOT"], "uid": 1}


def execution_report(report: Report, now: int) -> dict[str, Any]:
    """The user-data ``executionReport`` event for one step of an order."""
    order, fill = report.order, report.fill
    return {
        "e": "executionReport", "E": now, "s": order.market.id, "c": order.client_order_id, "S": order.side,
        "o": order.type, "f": order.time_in_force or "GTC", "q": fmt(order.qty), "p": fmt(order.price),
        "P": fmt(order.stop_price), "F": fmt(None), "g": -1,
        "C": order.client_order_id if report.execution_type == "CANCELED" else "",
        "x": report.execution_type, "X": report.status, "r": "NONE", "i": order.order_id,
        "l": fmt(fill.qty if fill else None), "z": fmt(report.executed), "L": fmt(fill.price if fill else None),
        "n": fmt(fill.commission if fill else None), "N": fill.commission_asset if fill else None,
        "T": fill.time if fill else now, "t": fill.trade_id if fill else -1, "v": 0, "I": 0, "w": order.is_open,
        "m": fill.maker if fill else False, "M": False, "O": order.time, "Z": fmt(report.quote_executed),
        "Y": fmt(fill.price * fill.qty if fill else None), "Q": fmt(order.orig_quote_qty),
        "W": order.time, "V": "EXPIRE_MAKER",
    }


def account_position(account: Account, assets: list[str], now: int) -> dict[str, Any]:
    """The user-data ``outboundAccountPosition`` event for the assets an event changed."""
    return {"e": "outboundAccountPosition", "E": now, "u": now,
            "B": [{"a": asset, "f": fmt(account.free.get(asset)), "l": fmt(account.locked.get(asset))}
                  for asset in assets]}


def balance_update(asset: str, delta: Decimal, now: int) -> dict[str, Any]:
    return {"e": "balanceUpdate", "E": now, "a": asset, "d": fmt(delta), "T": now}


def kline_row(kline: Kline) -> list[Any]:
    """One row of ``GET /api/v3/klines``."""
    return [kline.open_time, fmt(kline.open), fmt(kline.high), fmt(kline.low), fmt(kline.close), fmt(kline.volume),
            kline.close_time, fmt(kline.quote_volume), kline.trades, "0.00000000", "0.00000000", "0"]


def kline_event(symbol_id: str, timeframe: str, kline: Kline, now: int) -> dict[str, Any]:
    return {"e": "kline", "E": now, "s": symbol_id,
            "k": {"t": kline.open_time, "T": kline.close_time, "s": symbol_id, "i": timeframe, "f": 0, "L": 0,
                  "o": fmt(kline.open), "c": fmt(kline.close), "h": fmt(kline.high), "l": fmt(kline.low),
                  "v": fmt(kline.volume), "n": kline.trades, "x": kline.closed, "q": fmt(kline.quote_volume),
                  "V": "0.00000000", "Q": "0.00000000", "B": "0"}}


def trade_event(symbol_id: str, trade: PublicTrade, now: int) -> dict[str, Any]:
    return {"e": "trade", "E": now, "s": symbol_id, "t": trade.trade_id, "p": fmt(trade.price), "q": fmt(trade.qty),
            "T": trade.time, "m": trade.buyer_is_maker, "M": True}


def rest_trade(trade: PublicTrade) -> dict[str, Any]:
    return {"id": trade.trade_id, "price": fmt(trade.price), "qty": fmt(trade.qty),
            "quoteQty": fmt(trade.price * trade.qty), "time": trade.time, "isBuyerMaker": trade.buyer_is_maker,
            "isBestMatch": True}


def agg_trade(trade: PublicTrade) -> dict[str, Any]:
    return {"a": trade.trade_id, "p": fmt(trade.price), "q": fmt(trade.qty), "f": trade.trade_id,
            "l": trade.trade_id, "T": trade.time, "m": trade.buyer_is_maker, "M": True}


def book_ticker(symbol_id: str, top: tuple[Decimal, Decimal, Decimal, Decimal], update_id: int) -> dict[str, Any]:
    bid, bid_size, ask, ask_size = top
    return {"u": update_id, "s": symbol_id, "b": fmt(bid), "B": fmt(bid_size), "a": fmt(ask), "A": fmt(ask_size)}


def rest_book_ticker(symbol_id: str, top: tuple[Decimal, Decimal, Decimal, Decimal] | None) -> dict[str, Any]:
    bid, bid_size, ask, ask_size = top or (None, None, None, None)
    return {"symbol": symbol_id, "bidPrice": fmt(bid), "bidQty": fmt(bid_size), "askPrice": fmt(ask),
            "askQty": fmt(ask_size)}


def depth_event(symbol_id: str, diff: dict[str, Any], now: int) -> dict[str, Any]:
    return {"e": "depthUpdate", "E": now, "s": symbol_id, "U": diff["U"], "u": diff["u"],
            "b": [[fmt(p), fmt(q)] for p, q in diff["b"]], "a": [[fmt(p), fmt(q)] for p, q in diff["a"]]}
