"""``stop_limit_entry``: enter an SMA up-cross on a breakout with a stop-limit order; protect it with a stop-loss."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from pydantic import Field

from shared.contracts import OrderType

from .limit_entry import ProtectedEntry, ProtectedEntryParams, to_tick


class StopLimitEntryParams(ProtectedEntryParams):
    """Parameters of ``stop_limit_entry``."""

    stop_offset: Decimal = Field(
        Decimal("0.01"), ge=0, lt=1, description="Entry stop (trigger) distance above the close, as a fraction of it."
    )
    limit_offset: Decimal = Field(
        Decimal("0.01"), gt=-1, lt=1, description="Entry limit distance above the entry stop, as a fraction of "
        "the stop (negative: below it, buying a pullback after the breakout)."
    )


class StopLimitEntry(ProtectedEntry[StopLimitEntryParams]):
    """Buy an SMA up-cross on a breakout with a STOP_LIMIT; stop-loss each fill; exit on the down-cross.

    The entry triggers at close x (1 + stop_offset) and fills no higher than stop x (1 + limit_offset), both
    rounded up to the tick; the rest is ``ProtectedEntry`` (``limit_entry``): a STOP sell at fill price x
    (1 - stop_loss) after each entry fill, a market EXIT on the down-cross (canceling what still works).
    """

    def enter(self, close: Decimal) -> bool:
        """Emit a LONG with a STOP_LIMIT above ``close``; return whether both prices are positive."""
        params = self.params
        stop = to_tick(close * (1 + params.stop_offset), params.tick_size, ROUND_CEILING)
        limit = to_tick(stop * (1 + params.limit_offset), params.tick_size, ROUND_CEILING)
        if limit <= 0:
            return False
        self.long(order_type=OrderType.STOP_LIMIT, stop_price=stop, limit_price=limit)
        return True
