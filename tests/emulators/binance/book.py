"""Public market data of the emulated venue: top of book, depth with update ids, trades and klines. Pure logic."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal("0")

TIMEFRAME_MS = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000, "30m": 1_800_000,
    "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000, "8h": 28_800_000, "12h": 43_200_000,
    "1d": 86_400_000, "3d": 259_200_000, "1w": 604_800_000,
}


@dataclass(frozen=True)
class PublicTrade:
    """One print on the tape, as the ``trade`` stream and ``GET /api/v3/trades`` show it."""

    trade_id: int
    price: Decimal
    qty: Decimal
    time: int
    buyer_is_maker: bool


@dataclass
class Kline:
    """One candle; ``closed`` once its interval is over (the stream's ``x`` flag)."""

    open_time: int
    interval_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal = ZERO
    trades: int = 0
    closed: bool = True

    @property
    def close_time(self) -> int:
        return self.open_time + self.interval_ms - 1

    def add(self, price: Decimal, qty: Decimal) -> None:
        self.high, self.low, self.close = max(self.high, price), min(self.low, price), price
        self.volume += qty
        self.quote_volume += price * qty
        self.trades += 1


class DepthBook:
    """Price levels of one symbol and the update id Binance attaches to each change."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.update_id = 1

    def replace(self, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]) -> dict:
        """Replace every level; return the diff (levels changed, removed ones with qty 0) and its update ids."""
        new_bids, new_asks = dict(bids), dict(asks)
        diff = {"U": self.update_id + 1, "u": self.update_id + 1,
                "b": _diff(self.bids, new_bids), "a": _diff(self.asks, new_asks)}
        self.bids, self.asks = new_bids, new_asks
        self.update_id += 1
        return diff

    def snapshot(self, limit: int) -> tuple[list, list]:
        bids = sorted(self.bids.items(), key=lambda level: -level[0])[:limit]
        asks = sorted(self.asks.items())[:limit]
        return bids, asks


def _diff(old: dict[Decimal, Decimal], new: dict[Decimal, Decimal]) -> list[tuple[Decimal, Decimal]]:
    changed = [(price, qty) for price, qty in new.items() if old.get(price) != qty]
    removed = [(price, ZERO) for price in old if price not in new]
    return changed + removed


class SymbolData:
    """Everything public about one symbol."""

    def __init__(self) -> None:
        self.depth = DepthBook()
        self.top: tuple[Decimal, Decimal, Decimal, Decimal] | None = None  # bid, bid size, ask, ask size
        self.top_update_id = 0
        self.trades: list[PublicTrade] = []
        self.klines: dict[str, list[Kline]] = {}  # closed history, sorted by open time
        self.current: dict[str, Kline] = {}  # the open candle per timeframe

    def history(self, timeframe: str) -> list[Kline]:
        return self.klines.setdefault(timeframe, [])

    def add_closed(self, timeframe: str, kline: Kline) -> None:
        rows = self.history(timeframe)
        times = [row.open_time for row in rows]
        index = bisect.bisect_left(times, kline.open_time)
        if index < len(rows) and rows[index].open_time == kline.open_time:
            rows[index] = kline
        else:
            rows.insert(index, kline)
        current = self.current.get(timeframe)
        if current is not None and current.open_time <= kline.open_time:
            del self.current[timeframe]

    def on_trade(self, trade: PublicTrade, timeframes: set[str]) -> list[tuple[str, Kline]]:
        """Record a print and fold it into the open candle of each timeframe; return the candles closed or touched."""
        self.trades.append(trade)
        touched = []
        for timeframe in sorted(timeframes | {"1m"}):
            interval = TIMEFRAME_MS[timeframe]
            open_time = trade.time - trade.time % interval
            kline = self.current.get(timeframe)
            if kline is not None and kline.open_time != open_time:
                kline.closed = True
                self.add_closed(timeframe, kline)
                touched.append((timeframe, kline))
                kline = None
            if kline is None:
                kline = Kline(open_time, interval, trade.price, trade.price, trade.price, trade.price, ZERO,
                              closed=False)
                self.current[timeframe] = kline
            kline.add(trade.price, trade.qty)
            touched.append((timeframe, kline))
        return touched

    def klines_between(self, timeframe: str, start: int | None, end: int | None, limit: int) -> list[Kline]:
        """Answer ``GET /api/v3/klines``: the oldest ``limit`` candles from ``start`` (or the newest without it)."""
        rows = list(self.history(timeframe))
        current = self.current.get(timeframe)
        if current is not None:
            rows.append(current)
        rows = [row for row in rows if (start is None or row.open_time >= start)
                and (end is None or row.open_time <= end)]
        return rows[:limit] if start is not None else rows[-limit:]
