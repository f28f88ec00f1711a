"""``mean_reversion``: buy a close far below its moving average with a limit order; exit back at the mean."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Self

from pydantic import Field, model_validator

from shared.contracts import BarClosed, OrderType

from ..api import Strategy, StrategyContext, StrategyParams
from ..indicators import SMA, RollingStd


class MeanReversionParams(StrategyParams):
    """Parameters of ``mean_reversion``."""

    period: int = Field(20, ge=2, description="Bars in the mean and standard deviation of closes.")
    entry_z: float = Field(2.0, gt=0, description="Enter long when the close's z-score falls below -entry_z.")
    exit_z: float = Field(0.0, description="Exit a long when the z-score rises to exit_z (a short at -exit_z).")
    limit_offset: Decimal = Field(
        Decimal("0.001"), ge=0, lt=1, description="Entry limit distance from the close, as a fraction of it."
    )
    tick_size: Decimal = Field(Decimal("0.01"), gt=0, description="Price increment entry limits are rounded to.")
    allow_short: bool = Field(False, description="Also enter short when the z-score rises above entry_z.")

    @model_validator(mode="after")
    def _exit_inside_entry(self) -> Self:
        if not -self.entry_z < self.exit_z < self.entry_z:
            raise ValueError(f"exit_z ({self.exit_z}) must lie strictly between -entry_z and entry_z")
        return self


class MeanReversion(Strategy[MeanReversionParams]):
    """Fade stretched closes: z = (close - SMA) / std over ``period`` bars (population std).

    Flat and ``z < -entry_z``: LONG with a LIMIT at ``close * (1 - limit_offset)``, rounded down to the tick.
    Long and ``z >= exit_z``: EXIT at market. With ``allow_short`` the mirror image: SHORT with a LIMIT at
    ``close * (1 + limit_offset)`` rounded up, and EXIT when ``z <= -exit_z``. The strategy tracks the position it
    asked for, not fills: an entry that never fills is still exited by the EXIT signal.
    """

    def __init__(self, params: MeanReversionParams, context: StrategyContext) -> None:
        super().__init__(params, context)
        self._mean: SMA[Decimal] = SMA(params.period)
        self._std = RollingStd(params.period)
        self._side = 0

    @property
    def warmup_bars(self) -> int:
        """Return ``period - 1``: the next bar completes the window."""
        return self.params.period - 1

    def on_bar(self, bar: BarClosed) -> None:
        """Update the mean and deviation with the close, then enter or exit on the z-score."""
        close = bar.close
        mean = self._mean.update(close)
        std = self._std.update(close)
        if mean is None or not std:
            return
        z = float(close - mean) / std
        params = self.params
        if self._side == 0:
            self._maybe_enter(close, z)
        elif (self._side > 0 and z >= params.exit_z) or (self._side < 0 and z <= -params.exit_z):
            self._side = 0
            self.exit()

    def _maybe_enter(self, close: Decimal, z: float) -> None:
        params = self.params
        if z < -params.entry_z:
            limit = _to_tick(close * (1 - params.limit_offset), params.tick_size, ROUND_FLOOR)
            if limit > 0:
                self._side = 1
                self.long(order_type=OrderType.LIMIT, limit_price=limit)
        elif params.allow_short and z > params.entry_z:
            self._side = -1
            limit = _to_tick(close * (1 + params.limit_offset), params.tick_size, ROUND_CEILING)
            self.short(order_type=OrderType.LIMIT, limit_price=limit)


def _to_tick(price: Decimal, tick: Decimal, rounding: str) -> Decimal:
    return (price / tick).to_integral_value(rounding=rounding) * tick
