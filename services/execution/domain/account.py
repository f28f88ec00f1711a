"""What the execution service knows of the account between orders: positions it filled, orders working, prices.

Pure state, rebuilt at start-up from the order store and kept in step with it by applying every ``Change`` the
order lifecycle decides. Positions come from the service's own fills (it sees every fill first), so sizing never
waits for a portfolio snapshot; equity for percent and weight sizing comes from the latest ``PortfolioSnapshot``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from shared.contracts import OrderType

from .lifecycle import Change
from .orders import Order
from .risk import AccountExposure

_ZERO = Decimal(0)
Key = tuple[str, str]  # (strategy id, symbol)


class ExecutionAccount:
    """Positions by (strategy, symbol), working orders, last prices, equity and the halt flag."""

    def __init__(self, rate_window: timedelta = timedelta(seconds=1)) -> None:
        self.positions: dict[Key, Decimal] = {}
        self.working: dict[str, Order] = {}
        self.prices: dict[str, Decimal] = {}
        self.equity: Decimal | None = None
        self.halted = False
        self.halt_reason: str | None = None
        self._sent: deque[datetime] = deque()
        self._rate_window = rate_window

    def reset(self, positions: Mapping[Key, Decimal], open_orders: Iterable[Order]) -> None:
        """Take the positions and open orders the store holds (crash recovery is start-up)."""
        self.positions = dict(positions)
        self.working = {order.client_order_id: order for order in open_orders}

    def track(self, order: Order) -> None:
        """Take in a newly recorded order."""
        if not order.is_terminal:
            self.working[order.client_order_id] = order

    def apply(self, change: Change) -> None:
        """Take in what one report changed: the order as it is now, the position it moved."""
        order = change.order
        if change.filled:
            key = (order.strategy_id, order.symbol)
            self.positions[key] = self.positions.get(key, _ZERO) + change.position_delta
        if order.is_terminal:
            self.working.pop(order.client_order_id, None)
        else:
            self.working[order.client_order_id] = order

    def position(self, strategy_id: str, symbol: str) -> Decimal:
        """Return the filled position of one strategy in ``symbol`` (signed)."""
        return self.positions.get((strategy_id, symbol), _ZERO)

    def projected_position(self, strategy_id: str, symbol: str) -> Decimal:
        """Return the filled position plus what working market orders will certainly add.

        Market orders fill for sure, so a signal sizes against them (an exit right after an entry sells what the
        entry buys); resting limit and stop orders may never fill, so they do not count.
        """
        return self.position(strategy_id, symbol) + sum(
            (o.side.sign * o.leaves_quantity for o in self.resting(strategy_id, symbol)
             if o.order_type is OrderType.MARKET), _ZERO)

    def resting(self, strategy_id: str, symbol: str) -> list[Order]:
        """Return the working orders of one strategy in ``symbol``, oldest first."""
        return [o for o in self.working.values() if o.strategy_id == strategy_id and o.symbol == symbol]

    def note_sent(self, now: datetime) -> None:
        """Count an order sent at ``now`` towards the rate limit."""
        self._sent.append(now)
        while self._sent and now - self._sent[0] > self._rate_window:
            self._sent.popleft()

    def exposure(self, excluding: str | None = None) -> AccountExposure:
        """Return the account as pre-trade risk sees it (positions netted per symbol); the working order
        ``excluding`` (the one being checked, already tracked) is left out of what is pending."""
        net: dict[str, Decimal] = {}
        for (_, symbol), quantity in self.positions.items():
            net[symbol] = net.get(symbol, _ZERO) + quantity
        buys: dict[str, Decimal] = {}
        sells: dict[str, Decimal] = {}
        market: dict[str, Decimal] = {}
        for order in self.working.values():
            if order.client_order_id == excluding:
                continue
            side = buys if order.side.sign > 0 else sells
            side[order.symbol] = side.get(order.symbol, _ZERO) + order.leaves_quantity
            if order.order_type is OrderType.MARKET:
                market[order.symbol] = market.get(order.symbol, _ZERO) + order.side.sign * order.leaves_quantity
        gross = sum((abs(q) * self.prices.get(s, _ZERO) for s, q in net.items()), _ZERO)
        return AccountExposure(positions=net, prices=dict(self.prices), gross_exposure=gross, pending_buys=buys,
                         pending_sells=sells, recent_orders=tuple(self._sent), halted=self.halted,
                         halt_reason=self.halt_reason or "", equity=self.equity,
                         pending_market=market)
