"""Strategies written for tests: they record what they are fed and emit on demand."""

from __future__ import annotations

from services.strategy.domain import Strategy, StrategyContext, StrategyParams
from shared.contracts import BarClosed, OrderFilled, QuoteTicked, TradeTicked


class RecorderParams(StrategyParams):
    """Emit LONG on every bar whose close is at least ``long_at``; raise on a close equal to ``fail_at``."""

    long_at: int | None = None
    fail_at: int | None = None
    warmup: int = 0


class Recorder(Strategy[RecorderParams]):
    """Record every event it sees; exit on every fill."""

    def __init__(self, params: RecorderParams, context: StrategyContext) -> None:
        super().__init__(params, context)
        self.seen: list[tuple[str, object]] = []

    @property
    def warmup_bars(self) -> int:
        return self.params.warmup

    def on_bar(self, bar: BarClosed) -> None:
        self.seen.append(("bar", bar.close))
        if self.params.fail_at is not None and bar.close == self.params.fail_at:
            raise RuntimeError("strategy bug")
        if self.params.long_at is not None and bar.close >= self.params.long_at:
            self.long(strength=1)

    def on_tick(self, tick: TradeTicked) -> None:
        self.seen.append(("tick", tick.price))

    def on_quote(self, quote: QuoteTicked) -> None:
        self.seen.append(("quote", quote.bid))
        self.long()

    def on_fill(self, fill: OrderFilled) -> None:
        self.seen.append(("fill", fill.fill_id))
        self.exit()


class NotAStrategy:
    """A class that does not derive from Strategy."""
