"""``sma_cross``: trade the crossings of a fast and a slow simple moving average of closes."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from shared.contracts import BarClosed

from ..api import Strategy, StrategyContext, StrategyParams
from ..indicators import Crossover


class SmaCrossParams(StrategyParams):
    """Parameters of ``sma_cross``."""

    fast: int = Field(10, ge=1, description="Bars in the fast SMA of closes.")
    slow: int = Field(30, ge=2, description="Bars in the slow SMA of closes; must exceed fast.")
    allow_short: bool = Field(False, description="Go short on a down-cross instead of only exiting a long.")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> Self:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be below slow ({self.slow})")
        return self


class SmaCross(Strategy[SmaCrossParams]):
    """Go long when SMA(fast) crosses above SMA(slow); exit (or go short) when it crosses below.

    Both averages include the current bar and are exact (Decimal), so equal averages are a tie, not noise.
    A cross is evaluated at bar t only when the slow SMA is defined at t-1 and t. With ``diff = fast - slow``
    and ``prev`` the last non-zero diff before t, an up-cross is ``prev < 0 < diff[t]`` and a down-cross
    ``prev > 0 > diff[t]``: a diff of exactly 0 neither crosses nor resets the comparison.

    Long only (the default): an up-cross emits LONG, a down-cross emits EXIT if the strategy had asked to be long.
    With ``allow_short``: an up-cross emits LONG and a down-cross SHORT. Signals are market orders; the
    execution service sizes them.
    """

    def __init__(self, params: SmaCrossParams, context: StrategyContext) -> None:
        super().__init__(params, context)
        self._crossover = Crossover(params.fast, params.slow)
        self._wants_long = False

    @property
    def warmup_bars(self) -> int:
        """Return ``slow``: with that many bars seen, the next bar is evaluated."""
        return self.params.slow

    def on_bar(self, bar: BarClosed) -> None:
        """Update both averages with the close and emit a signal on a cross."""
        if cross := self._crossover.update(bar.close):
            self._crossed(up=cross > 0)

    def _crossed(self, *, up: bool) -> None:
        if up:
            self._wants_long = True
            self.long()
        elif self.params.allow_short:
            self._wants_long = False
            self.short()
        elif self._wants_long:
            self._wants_long = False
            self.exit()
