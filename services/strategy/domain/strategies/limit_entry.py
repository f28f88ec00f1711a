"""``limit_entry``: enter an SMA up-cross with a limit order below the close; protect the fill with a stop-loss.

``ProtectedEntry`` is the shared shape (also of ``stop_limit_entry``): the cross decides when to enter and when
to give up, a subclass decides the entry order, and every entry fill is protected by a stop-loss order.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Self, TypeVar

from pydantic import Field, model_validator

from shared.contracts import BarClosed, OrderFilled, OrderType, Side

from ..api import Strategy, StrategyContext, StrategyParams
from ..indicators import Crossover


class ProtectedEntryParams(StrategyParams):
    """Parameters every protected-entry strategy has."""

    fast: int = Field(10, ge=1, description="Bars in the fast SMA of closes.")
    slow: int = Field(30, ge=2, description="Bars in the slow SMA of closes; must exceed fast.")
    stop_loss: Decimal = Field(
        Decimal("0.05"), gt=0, lt=1, description="Stop-loss distance below the entry fill price, as a fraction of it."
    )
    tick_size: Decimal = Field(Decimal("0.01"), gt=0, description="Price increment order prices are rounded to.")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be below slow ({self.slow})")
        return self


class LimitEntryParams(ProtectedEntryParams):
    """Parameters of ``limit_entry``."""

    limit_offset: Decimal = Field(
        Decimal("0.01"), ge=0, lt=1, description="Entry limit distance below the close, as a fraction of it."
    )


ParamsT = TypeVar("ParamsT", bound=ProtectedEntryParams)


class ProtectedEntry(Strategy[ParamsT]):
    """Long only. On an SMA(fast) up-cross of SMA(slow) while out of the market, place the entry order
    (``entry_order``); on the fill of a buy, place a STOP exit at ``fill price * (1 - stop_loss)`` rounded down to
    the tick; on the down-cross, EXIT at market, which also cancels the entry or the stop still working.

    Crosses are those of ``sma_cross`` (exact averages; a zero difference neither crosses nor resets). The
    strategy is in a trade from the entry signal until the down-cross or the stop's fill, so an entry that
    never fills is given up at the down-cross. Orders are good till canceled.
    """

    def __init__(self, params: ParamsT, context: StrategyContext) -> None:
        super().__init__(params, context)
        self._crossover = Crossover(params.fast, params.slow)
        self._in_trade = False
        self._stop_working = False

    @property
    def warmup_bars(self) -> int:
        """Return ``slow``: with that many bars seen, the next bar is evaluated."""
        return self.params.slow

    def on_bar(self, bar: BarClosed) -> None:
        """Update both averages with the close; enter on an up-cross, exit on a down-cross."""
        sign = self._crossover.update(bar.close)
        if sign > 0 and not self._in_trade:
            self._in_trade = self.enter(bar.close)
        elif sign < 0 and self._in_trade:
            self._in_trade = self._stop_working = False
            self.exit()

    def on_fill(self, fill: OrderFilled) -> None:
        """Protect an entry fill with a stop-loss; the stop's fill ends the trade."""
        if fill.side is Side.SELL:
            # only the stop's: the fill of a down-cross exit may arrive after the next up-cross was handled
            if self._stop_working:
                self._in_trade = self._stop_working = False
        elif self._in_trade:
            stop = to_tick(fill.price * (1 - self.params.stop_loss), self.params.tick_size, ROUND_FLOOR)
            if stop > 0:
                self._stop_working = True
                self.exit(order_type=OrderType.STOP, stop_price=stop)

    def enter(self, close: Decimal) -> bool:
        """Emit the entry signal for an up-cross closing at ``close``; return whether one was emitted."""
        raise NotImplementedError


class LimitEntry(ProtectedEntry[LimitEntryParams]):
    """Buy an SMA up-cross with a LIMIT at close x (1 - limit_offset); stop-loss each fill; exit on the down-cross.

    The limit is rounded down to the tick; the rest is ``ProtectedEntry``: a STOP sell at fill price x
    (1 - stop_loss) after each entry fill, a market EXIT on the down-cross (canceling what still works).
    """

    def enter(self, close: Decimal) -> bool:
        """Emit a LONG with a LIMIT below ``close``; return whether the limit is a positive price."""
        limit = to_tick(close * (1 - self.params.limit_offset), self.params.tick_size, ROUND_FLOOR)
        if limit <= 0:
            return False
        self.long(order_type=OrderType.LIMIT, limit_price=limit)
        return True


def to_tick(price: Decimal, tick: Decimal, rounding: str = ROUND_CEILING) -> Decimal:
    """Return ``price`` rounded to a multiple of ``tick`` (``ROUND_FLOOR`` down, ``ROUND_CEILING`` up)."""
    return (price / tick).to_integral_value(rounding=rounding) * tick
