"""Orders, balances and fills of one emulated Binance spot account: pure logic, no I/O, Decimal throughout.

The engine answers every order the way Binance's matching engine would for a single account trading against a
scripted market: a MARKET order takes the top of book, a LIMIT order that crosses takes it too, otherwise it rests
and fills (as maker) when a scripted trade prints at or through its price. Stops rest untriggered until a print
reaches their stop price, then behave as the limit order they carry.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

ZERO = Decimal("0")
COMMISSION_UNIT = Decimal("0.00000001")  # Binance books commissions to 8 decimals

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
STOP_TYPES = frozenset({"STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
ORDER_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")


class Rejected(Exception):
    """An order or request Binance refuses: carries Binance's error code, message and HTTP status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.status = code, msg, status


@dataclass(frozen=True)
class MarketSpec:
    """One spot symbol and its exchange filters (PRICE_FILTER, LOT_SIZE, NOTIONAL)."""

    symbol: str  # unified, e.g. "BTC/USDT"
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    min_price: Decimal = Decimal("0.01")
    max_price: Decimal = Decimal("1000000")
    max_qty: Decimal = Decimal("9000")

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1]

    @property
    def id(self) -> str:
        return self.base + self.quote


def default_markets() -> list[MarketSpec]:
    """Return BTC/USDT and ETH/USDT with filters like Binance's (tick 0.01, step 0.00001 / 0.0001, notional 5)."""
    return [
        MarketSpec("BTC/USDT", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("5")),
        MarketSpec("ETH/USDT", Decimal("0.01"), Decimal("0.0001"), Decimal("0.0001"), Decimal("5")),
    ]


@dataclass
class Fill:
    """One execution of an order: a Binance trade id, price, quantity and commission in the received asset."""

    trade_id: int
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    maker: bool
    time: int


@dataclass
class Order:
    """The venue's record of one order, in Binance's terms (status NEW / PARTIALLY_FILLED / FILLED / ...)."""

    order_id: int
    client_order_id: str
    market: MarketSpec
    side: str  # BUY | SELL
    type: str
    qty: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: str | None
    time: int
    status: str = "NEW"
    executed: Decimal = ZERO
    quote_executed: Decimal = ZERO
    locked: Decimal = ZERO  # what this order still holds of the spent asset
    triggered: bool = True
    update_time: int = 0
    fills: list[Fill] = field(default_factory=list)
    orig_quote_qty: Decimal = ZERO

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.executed

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass
class Report:
    """What an order went through in one step: the execution type and, for a TRADE, its fill."""

    order: Order
    execution_type: str  # NEW | TRADE | CANCELED | EXPIRED
    fill: Fill | None = None
    status: str = ""  # the order's status right after this step
    executed: Decimal = ZERO
    quote_executed: Decimal = ZERO


class Account:
    """Free and locked balances per asset."""

    def __init__(self, balances: dict[str, Decimal]) -> None:
        self.free: dict[str, Decimal] = dict(balances)
        self.locked: dict[str, Decimal] = {asset: ZERO for asset in balances}

    def credit(self, asset: str, amount: Decimal) -> None:
        self.free[asset] = self.free.get(asset, ZERO) + amount
        self.locked.setdefault(asset, ZERO)

    def lock(self, asset: str, amount: Decimal) -> None:
        if self.free.get(asset, ZERO) < amount:
            raise Rejected(-2010, "Account has insufficient balance for requested action.")
        self.free[asset] -= amount
        self.locked[asset] = self.locked.get(asset, ZERO) + amount

    def unlock(self, asset: str, amount: Decimal) -> None:
        self.locked[asset] -= amount
        self.free[asset] += amount

    def spend_locked(self, asset: str, amount: Decimal) -> None:
        self.locked[asset] -= amount


class MatchingEngine:
    """Place, cancel and fill the orders of one account against prices the caller scripts."""

    def __init__(self, markets: list[MarketSpec], balances: dict[str, Decimal], maker_fee: Decimal,
                 taker_fee: Decimal) -> None:
        self.markets = {market.symbol: market for market in markets}
        self.account = Account(balances)
        self.maker_fee, self.taker_fee = maker_fee, taker_fee
        self.orders: dict[int, Order] = {}
        self.by_client_id: dict[str, Order] = {}
        self.tops: dict[str, tuple[Decimal, Decimal]] = {}  # symbol -> (bid, ask)
        self.last_price: dict[str, Decimal] = {}
        self._order_ids = itertools.count(1)
        self._trade_ids: dict[str, itertools.count] = {}

    def next_trade_id(self, symbol: str) -> int:
        return next(self._trade_ids.setdefault(symbol, itertools.count(1)))

    # placing and cancelling

    def place(self, symbol: str, side: str, type_: str, qty: Decimal | None, price: Decimal | None,
              stop_price: Decimal | None, time_in_force: str | None, client_order_id: str, now: int,
              quote_qty: Decimal | None = None) -> list[Report]:
        """Accept an order (or raise ``Rejected`` as Binance would) and return what happened to it at once."""
        market = self.markets[symbol]
        if client_order_id in self.by_client_id:
            # Binance refuses a client id only while its order is open; the emulator refuses any reuse, so a
            # retry after a lost answer can never create a second order
            raise Rejected(-2010, "Duplicate order sent.")
        qty = self._market_qty(market, side, type_, qty, quote_qty)
        validate(market, type_, qty, price, stop_price, self._reference_price(market, side))
        order = Order(next(self._order_ids), client_order_id, market, side, type_, qty, price, stop_price,
                      time_in_force if type_ in ("LIMIT", *STOP_TYPES) else None, now, update_time=now,
                      triggered=type_ not in STOP_TYPES, orig_quote_qty=quote_qty or ZERO)
        if type_ == "LIMIT_MAKER" and self._crosses(order):
            raise Rejected(-2010, "Order would immediately match and take.")
        self._lock_for(order)
        self.orders[order.order_id] = order
        self.by_client_id[client_order_id] = order
        reports = [self._report(order, "NEW")]
        if order.triggered:
            reports += self._take_liquidity(order, now)
        return reports

    def cancel(self, order: Order, now: int) -> Report:
        """Cancel an open order, release what it locked; raise ``Rejected`` (-2011) when it is not open."""
        if not order.is_open:
            raise Rejected(-2011, "Unknown order sent.")
        self._release(order)
        order.status, order.update_time = "CANCELED", now
        return self._report(order, "CANCELED")

    def find(self, symbol: str, order_id: int | None, client_order_id: str | None) -> Order | None:
        order = self.orders.get(order_id) if order_id is not None else self.by_client_id.get(client_order_id or "")
        return order if order is not None and order.market.symbol == symbol else None

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open and (symbol is None or o.market.symbol == symbol)]

    # the scripted market

    def on_quote(self, symbol: str, bid: Decimal, ask: Decimal) -> None:
        self.tops[symbol] = (bid, ask)

    def on_trade(self, symbol: str, price: Decimal, qty: Decimal, now: int) -> list[Report]:
        """Print a market trade: trigger stops it reaches, then fill resting orders it crosses, up to ``qty``."""
        self.last_price[symbol] = price
        reports: list[Report] = []
        for order in self.open_orders(symbol):
            if not order.triggered and _stop_reached(order, price):
                order.triggered, order.update_time = True, now
        available = qty
        for order in sorted(self._crossed_by(symbol, price), key=_priority):
            if available <= ZERO:
                break
            fill_qty = min(order.remaining, available)
            available -= fill_qty
            reports.append(self._fill(order, order.price, fill_qty, maker=True, now=now))
        return reports

    # internals

    def _market_qty(self, market: MarketSpec, side: str, type_: str, qty: Decimal | None,
                    quote_qty: Decimal | None) -> Decimal:
        if qty is not None:
            return qty
        if type_ != "MARKET" or quote_qty is None:
            raise Rejected(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
        price = self._reference_price(market, side)
        if price is None:
            raise Rejected(-2010, "Order book liquidity is less than LOT_SIZE filter minimum quantity.")
        return (quote_qty / price).quantize(market.step_size, rounding=ROUND_DOWN)

    def _reference_price(self, market: MarketSpec, side: str) -> Decimal | None:
        top = self.tops.get(market.symbol)
        if top is not None:
            return top[1] if side == "BUY" else top[0]
        return self.last_price.get(market.symbol)

    def _crosses(self, order: Order) -> bool:
        top = self.tops.get(order.market.symbol)
        if top is None or order.price is None:
            return False
        bid, ask = top
        return order.price >= ask if order.side == "BUY" else order.price <= bid

    def _lock_for(self, order: Order) -> None:
        market = order.market
        if order.side == "SELL":
            order.locked = order.qty
            self.account.lock(market.base, order.locked)
            return
        price = order.price if order.type != "MARKET" else self._reference_price(market, "BUY")
        order.locked = order.qty * (price or ZERO)
        self.account.lock(market.quote, order.locked)

    def _release(self, order: Order) -> None:
        asset = order.market.quote if order.side == "BUY" else order.market.base
        self.account.unlock(asset, order.locked)
        order.locked = ZERO

    def _take_liquidity(self, order: Order, now: int) -> list[Report]:
        reports: list[Report] = []
        price = self._reference_price(order.market, order.side)
        takes = order.type == "MARKET" or self._crosses(order)
        if takes and price is not None:
            reports.append(self._fill(order, price, order.remaining, maker=False, now=now))
        elif order.type == "MARKET" or order.time_in_force in ("IOC", "FOK"):
            self._release(order)
            order.status = "EXPIRED"
            reports.append(self._report(order, "EXPIRED"))
        return reports

    def _crossed_by(self, symbol: str, price: Decimal) -> list[Order]:
        crossed = []
        for order in self.open_orders(symbol):
            if order.triggered and order.price is not None:
                if (order.side == "BUY" and price <= order.price) or (order.side == "SELL" and price >= order.price):
                    crossed.append(order)
        return crossed

    def _fill(self, order: Order, price: Decimal, qty: Decimal, *, maker: bool, now: int) -> Report:
        market, account = order.market, self.account
        rate = self.maker_fee if maker else self.taker_fee
        notional = price * qty
        if order.side == "BUY":
            commission, asset = (qty * rate).quantize(COMMISSION_UNIT), market.base
            spent = min(notional, order.locked) if order.type != "MARKET" else notional
            account.spend_locked(market.quote, min(spent, order.locked))
            if spent > order.locked:  # a market buy dearer than the price it locked at
                account.free[market.quote] -= spent - order.locked
            order.locked = max(order.locked - spent, ZERO)
            account.credit(market.base, qty - commission)
        else:
            commission, asset = (notional * rate).quantize(COMMISSION_UNIT), market.quote
            account.spend_locked(market.base, qty)
            order.locked -= qty
            account.credit(market.quote, notional - commission)
        fill = Fill(self.next_trade_id(market.symbol), price, qty, commission, asset, maker, now)
        order.fills.append(fill)
        order.executed += qty
        order.quote_executed += notional
        order.update_time = now
        order.status = "FILLED" if order.remaining == ZERO else "PARTIALLY_FILLED"
        if order.status == "FILLED" and order.locked > ZERO:  # a buy filled below its limit keeps no change
            self._release(order)
        return self._report(order, "TRADE", fill)

    @staticmethod
    def _report(order: Order, execution_type: str, fill: Fill | None = None) -> Report:
        return Report(order, execution_type, fill, order.status, order.executed, order.quote_executed)


def validate(market: MarketSpec, type_: str, qty: Decimal, price: Decimal | None, stop_price: Decimal | None,
             reference: Decimal | None) -> None:
    """Apply Binance's PRICE_FILTER, LOT_SIZE and NOTIONAL filters; raise ``Rejected`` (-1013) on a violation."""
    if type_ not in ORDER_TYPES:
        raise Rejected(-1116, "Invalid orderType.")
    if type_ != "MARKET" and price is None:
        raise Rejected(-1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
    if type_ in STOP_TYPES and stop_price is None:
        raise Rejected(-1102, "Mandatory parameter 'stopPrice' was not sent, was empty/null, or malformed.")
    for value in (price, stop_price):
        if value is not None and (value < market.min_price or value > market.max_price
                                  or value % market.tick_size != ZERO):
            raise Rejected(-1013, "Filter failure: PRICE_FILTER")
    if qty < market.min_qty or qty > market.max_qty or qty % market.step_size != ZERO:
        raise Rejected(-1013, "Filter failure: LOT_SIZE")
    notional_price = price if price is not None else reference
    if notional_price is not None and qty * notional_price < market.min_notional:
        raise Rejected(-1013, "Filter failure: NOTIONAL")


def _stop_reached(order: Order, price: Decimal) -> bool:
    # a stop loss protects against the price moving against the order's side; a take profit waits for it to move
    # in favour: a sell stop triggers falling, a buy stop rising, take profits the other way round
    assert order.stop_price is not None
    falling = price <= order.stop_price
    rising = price >= order.stop_price
    if order.type == "STOP_LOSS_LIMIT":
        return falling if order.side == "SELL" else rising
    return rising if order.side == "SELL" else falling


def _priority(order: Order) -> tuple[Decimal, int]:
    assert order.price is not None
    return (-order.price if order.side == "BUY" else order.price, order.order_id)
