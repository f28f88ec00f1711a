"""The strategy engine: several strategies on several symbols, one instance per (strategy id, symbol).

Each event goes to the instances of its symbol, in the order the specs were given, and the engine returns the
intents they emitted (a shared empty tuple when there are none, so the hot path allocates nothing). An exception
from a strategy propagates: that event's intents are dropped and the caller decides the outcome.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

from shared.contracts import BarClosed, Message, OrderBookUpdated, OrderFilled, QuoteTicked, TradeTicked

from .api import IntentCollector, SignalIntent, Strategy, StrategyContext, StrategyParams

ALL_SYMBOLS: Final[Literal["all"]] = "all"
NO_INTENTS: tuple[SignalIntent, ...] = ()
FILLS_REMEMBERED = 100_000
"""Fill ids remembered to drop a repeated fill (a redelivery comes within the broker's prefetch, far fewer)."""


@dataclass(frozen=True)
class LoadedStrategy:
    """Name one strategy ready to run: its id, class, validated parameters, and the symbols it trades (``"all"`` for
    any symbol).

    ``symbols`` is stored as a ``frozenset`` (or ``"all"``), so a spec compares and hashes by value.
    """

    strategy_id: str
    strategy: type[Strategy[Any]]
    params: StrategyParams
    symbols: Collection[str] | Literal["all"] = ALL_SYMBOLS

    def __post_init__(self) -> None:
        if not self.strategy_id:
            raise ValueError("strategy_id must not be empty")
        if not (isinstance(self.strategy, type) and issubclass(self.strategy, Strategy)):
            raise TypeError(f"{self.strategy!r} is not a Strategy subclass")
        if not isinstance(self.params, self.strategy.Params):
            expected, given = self.strategy.Params.__name__, type(self.params).__name__
            raise TypeError(f"{self.strategy.__name__} needs a {expected}, got {given}")
        object.__setattr__(self, "symbols", _symbol_set(self.symbols))

    def trades(self, symbol: str) -> bool:
        """Return whether this strategy runs on ``symbol``."""
        return self.symbols == ALL_SYMBOLS or symbol in self.symbols


def _symbol_set(symbols: Collection[str] | str) -> frozenset[str] | Literal["all"]:
    if symbols == ALL_SYMBOLS:
        return ALL_SYMBOLS
    if isinstance(symbols, str):
        raise ValueError(f'symbols must be a collection of symbols or "all", got the string {symbols!r}')
    if not symbols:
        raise ValueError('symbols must not be empty; use "all" for every symbol')
    return frozenset(symbols)


class StrategyEngine:
    """Route market events and fills to per-(strategy, symbol) strategy instances and collect their intents."""

    def __init__(self, specs: Iterable[LoadedStrategy]) -> None:
        self.specs = tuple(specs)
        self._specs_by_id = {spec.strategy_id: spec for spec in self.specs}
        if len(self._specs_by_id) != len(self.specs):
            raise ValueError(f"strategy ids must be unique: {[spec.strategy_id for spec in self.specs]}")
        self._collector = IntentCollector()
        self._instances: dict[tuple[str, str], Strategy[Any]] = {}
        self._routes: dict[str, tuple[Strategy[Any], ...]] = {}
        self._fills_seen: set[str] = set()
        self._fill_order: deque[str] = deque()

    def on_bar(self, bar: BarClosed) -> tuple[SignalIntent, ...]:
        """Feed a closed bar to every strategy trading its symbol; return the intents they emitted."""
        instances = self._routes.get(bar.symbol)
        if instances is None:
            instances = self._route(bar.symbol)
        collector = self._collector
        collector.event = bar
        try:
            for strategy in instances:
                strategy.on_bar(bar)
        except BaseException:
            collector.intents.clear()
            raise
        return collector.take() if collector.intents else NO_INTENTS

    def on_tick(self, tick: TradeTicked) -> tuple[SignalIntent, ...]:
        """Feed a trade to every strategy trading its symbol; return the intents they emitted."""
        return self._dispatch("on_tick", tick, self._symbol_instances(tick.symbol))

    def on_quote(self, quote: QuoteTicked) -> tuple[SignalIntent, ...]:
        """Feed a quote to every strategy trading its symbol; return the intents they emitted."""
        return self._dispatch("on_quote", quote, self._symbol_instances(quote.symbol))

    def on_book(self, book: OrderBookUpdated) -> tuple[SignalIntent, ...]:
        """Feed an order-book update to every strategy trading its symbol; return the intents they emitted."""
        return self._dispatch("on_book", book, self._symbol_instances(book.symbol))

    def on_fill(self, fill: OrderFilled) -> tuple[SignalIntent, ...]:
        """Feed a fill to the instance of ``fill.strategy_id`` for its symbol, once per fill id (delivery is at
        least once); ignore fills of other strategies."""
        spec = self._specs_by_id.get(fill.strategy_id)
        if spec is None or not spec.trades(fill.symbol) or not self._first_sight(fill.fill_id):
            return NO_INTENTS
        return self._dispatch("on_fill", fill, (self._instance(spec, fill.symbol),))

    def _first_sight(self, fill_id: str) -> bool:
        if fill_id in self._fills_seen:
            return False
        self._fills_seen.add(fill_id)
        self._fill_order.append(fill_id)
        if len(self._fill_order) > FILLS_REMEMBERED:
            self._fills_seen.discard(self._fill_order.popleft())
        return True

    def warm_up(self, bars: Iterable[BarClosed]) -> int:
        """Feed history bars to build indicator state, discarding the signals they produce; return the count."""
        count = 0
        for bar in bars:
            self.on_bar(bar)
            count += 1
        return count

    def warmup_bars(self, symbol: str) -> int:
        """Return how many history bars ``symbol`` needs before its next bar can produce any strategy's signal."""
        return max((strategy.warmup_bars for strategy in self._symbol_instances(symbol)), default=0)

    def instance(self, strategy_id: str, symbol: str) -> Strategy[Any]:
        """Return the instance running ``strategy_id`` on ``symbol``, creating it if needed."""
        spec = self._specs_by_id.get(strategy_id)
        if spec is None:
            raise KeyError(f"unknown strategy id {strategy_id!r}")
        if not spec.trades(symbol):
            raise KeyError(f"strategy {strategy_id!r} does not trade {symbol!r}")
        return self._instance(spec, symbol)

    def _dispatch(self, hook: str, event: Message, instances: tuple[Strategy[Any], ...]) -> tuple[SignalIntent, ...]:
        collector = self._collector
        collector.event = event
        try:
            for strategy in instances:
                getattr(strategy, hook)(event)
        except BaseException:
            collector.intents.clear()
            raise
        return collector.take() if collector.intents else NO_INTENTS

    def _symbol_instances(self, symbol: str) -> tuple[Strategy[Any], ...]:
        instances = self._routes.get(symbol)
        return self._route(symbol) if instances is None else instances

    def _route(self, symbol: str) -> tuple[Strategy[Any], ...]:
        instances = tuple(self._instance(spec, symbol) for spec in self.specs if spec.trades(symbol))
        self._routes[symbol] = instances
        return instances

    def _instance(self, spec: LoadedStrategy, symbol: str) -> Strategy[Any]:
        key = (spec.strategy_id, symbol)
        strategy = self._instances.get(key)
        if strategy is None:
            context = StrategyContext(spec.strategy_id, symbol, self._collector)
            strategy = self._instances[key] = spec.strategy(spec.params, context)
        return strategy
