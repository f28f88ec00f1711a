"""What a run saw besides the portfolio: each symbol's prices (for plots and buy-and-hold) and why trades ended."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence

from services.execution.domain.orders import Order
from services.portfolio.domain import ClosedTrade
from services.portfolio.domain.equity import to_micros
from shared.contracts import BarClosed, QuoteTicked, TradeTicked
from shared.contracts.orders import OrderType, Side


class PriceSeries:
    """One symbol's last price at each market event: epoch microseconds and prices (floats: plots, not money)."""

    __slots__ = ("micros", "prices")

    def __init__(self) -> None:
        self.micros: array[int] = array("q")
        self.prices: array[float] = array("d")

    def __len__(self) -> int:
        return len(self.prices)


class PriceRecorder:
    """Keep a ``PriceSeries`` per symbol from a replay's market events (bars: close, trades: price, quotes: mid)."""

    __slots__ = ("series",)

    def __init__(self) -> None:
        self.series: dict[str, PriceSeries] = {}

    def record(self, event: object) -> None:
        """Append the price ``event`` carries, if it carries one."""
        if isinstance(event, BarClosed):
            price = event.close
        elif isinstance(event, TradeTicked):
            price = event.price
        elif isinstance(event, QuoteTicked):
            price = (event.bid + event.ask) / 2
        else:
            return
        series = self.series.get(event.symbol)
        if series is None:
            series = self.series[event.symbol] = PriceSeries()
        series.micros.append(to_micros(event.ts_event))
        series.prices.append(float(price))


def buy_and_hold(prices: Mapping[str, PriceSeries], cash: float, micros: Sequence[int]) -> array[float]:
    """Return the value at each of ``micros`` of ``cash`` split evenly over the symbols, bought at their first price.

    A symbol counts at its last price at or before each time, and as cash until its first price.
    """
    usable = [s for s in prices.values() if len(s) and s.prices[0] > 0]
    if not usable:
        return array("d", (cash for _ in micros))
    share = cash / len(usable)
    units = [share / s.prices[0] for s in usable]
    cursors = [0] * len(usable)
    values = array("d")
    for now in micros:
        total = 0.0
        for i, series in enumerate(usable):
            j, times = cursors[i], series.micros
            while j + 1 < len(times) and times[j + 1] <= now:
                j += 1
            cursors[i] = j
            total += units[i] * series.prices[j] if times[j] <= now else share
        values.append(total)
    return values


_EXIT_NAMES = {OrderType.MARKET: "signal", OrderType.LIMIT: "limit", OrderType.STOP: "stop",
               OrderType.STOP_LIMIT: "stop-limit"}


def exit_reasons(trades: Sequence[ClosedTrade], orders: Iterable[Order]) -> tuple[str, ...]:
    """Return, for each trade, why it ended: the closing order's own reason, else its type (``signal`` for market).

    A closing order is found by strategy, symbol, side and the time it last changed (its fill); a reversal (an
    order that also opens the other way) is marked so. A trade whose order is not found gets ``""``.
    """
    closing = {(o.strategy_id, o.symbol, o.side, to_micros(o.updated_at)): o
               for o in orders if o.updated_at is not None and o.filled_quantity > 0}
    reasons = []
    for trade in trades:
        exit_side = Side.SELL if trade.side is Side.BUY else Side.BUY
        order = closing.get((trade.strategy_id, trade.symbol, exit_side, to_micros(trade.exit_ts)))
        reasons.append(_reason(order, trade) if order is not None else "")
    return tuple(reasons)


def _reason(order: Order, trade: ClosedTrade) -> str:
    if order.reason:
        return order.reason
    name = _EXIT_NAMES.get(order.order_type, "signal")
    return f"{name} (reversal)" if order.filled_quantity > trade.quantity else name
