"""The strategy API: typed frozen parameters, event hooks, and signals emitted through a per-symbol context.

A strategy is a class::

    class Breakout(Strategy[BreakoutParams]):
        def __init__(self, params, context):
            super().__init__(params, context)
            self.high = ...

        def on_bar(self, bar):
            if bar.close > self.high:
                self.long(strength=1)

The engine makes one instance per (strategy id, symbol), so instance attributes are per-symbol state. Hooks
return nothing; ``long``/``short``/``exit``/``signal`` record a ``SignalIntent`` that the engine hands back to the
service, which publishes it as a ``SignalGenerated``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypedDict, TypeVar, Unpack, cast, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from shared.contracts import (
    BarClosed,
    Direction,
    Message,
    OrderBookUpdated,
    OrderFilled,
    OrderType,
    QuoteTicked,
    TradeTicked,
)


class StrategyParams(BaseModel):
    """Base of every strategy's parameters: typed, frozen, and unknown parameters rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


ParamsT = TypeVar("ParamsT", bound=StrategyParams)


@dataclass(frozen=True, slots=True)
class SignalIntent:
    """Record a strategy's wish to change its position in ``symbol``, as ``SignalGenerated`` will carry it.

    ``ts_event`` is the event time of the market event (or fill) being handled when the strategy emitted it.
    Construction validates what ``SignalGenerated`` validates, so a bad signal fails inside the strategy.
    """

    strategy_id: str
    symbol: str
    direction: Direction
    ts_event: datetime
    strength: Decimal | None = None
    target_quantity: Decimal | None = None
    target_weight: Decimal | None = None
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    reference_price: Decimal | None = None

    def __post_init__(self) -> None:
        _check_intent(self)

    def signal_fields(self) -> dict[str, Any]:
        """Return the fields of the ``SignalGenerated`` this intent becomes (all but the envelope's)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def _check_intent(intent: SignalIntent) -> None:
    if intent.ts_event.tzinfo is None:
        raise ValueError("signal ts_event must be timezone-aware")
    if intent.strength is not None and not 0 <= intent.strength <= 1:
        raise ValueError(f"strength must lie in [0, 1], got {intent.strength}")
    if intent.target_weight is not None and not -1 <= intent.target_weight <= 1:
        raise ValueError(f"target_weight must lie in [-1, 1], got {intent.target_weight}")
    for name in ("target_quantity", "limit_price", "stop_price", "reference_price"):
        value = getattr(intent, name)
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be positive, got {value}")
    if intent.direction is not Direction.EXIT:
        intent.order_type.check_prices(intent.limit_price, intent.stop_price)


class SignalOptions(TypedDict, total=False):
    """How a signal asks to be sized and executed; every key is optional."""

    strength: Decimal | float | None
    target_quantity: Decimal | float | None
    target_weight: Decimal | float | None
    order_type: OrderType
    limit_price: Decimal | float | None
    stop_price: Decimal | float | None
    reference_price: Decimal | float | None


class IntentCollector:
    """Collect the intents emitted while one event is handled, and remember which event that is."""

    __slots__ = ("event", "intents")

    def __init__(self) -> None:
        self.event: Message | None = None
        self.intents: list[SignalIntent] = []

    def take(self) -> tuple[SignalIntent, ...]:
        """Return the collected intents and empty the collector."""
        taken = tuple(self.intents)
        self.intents.clear()
        return taken


class StrategyContext:
    """Give one strategy instance its identity, the event being handled, and a place to emit signals."""

    __slots__ = ("strategy_id", "symbol", "collector")

    def __init__(self, strategy_id: str, symbol: str, collector: IntentCollector | None = None) -> None:
        self.strategy_id = strategy_id
        self.symbol = symbol
        self.collector = collector if collector is not None else IntentCollector()

    @property
    def event(self) -> Message | None:
        """Return the event being handled, or ``None`` outside a hook."""
        return self.collector.event

    @property
    def now(self) -> datetime | None:
        """Return the event time of the event being handled: a strategy's only clock."""
        event = self.collector.event
        return None if event is None else event.ts_event

    def emit(self, direction: Direction, **options: Unpack[SignalOptions]) -> SignalIntent:
        """Record a signal in ``direction``; ``reference_price`` defaults to the current event's price."""
        if self.collector.event is None:
            raise RuntimeError("signals can only be emitted while an event is being handled")
        values = {name: _as_decimal(name, cast(Decimal | float | None, value))
                  for name, value in options.items() if name != "order_type"}
        values.setdefault("reference_price", reference_price(self.collector.event))
        intent = SignalIntent(
            strategy_id=self.strategy_id,
            symbol=self.symbol,
            direction=Direction(direction),
            ts_event=self.collector.event.ts_event,
            order_type=OrderType(options.get("order_type", OrderType.MARKET)),
            **values,
        )
        self.collector.intents.append(intent)
        return intent


def _as_decimal(name: str, value: Decimal | float | None) -> Decimal | None:
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    # str() keeps what was written (0.1 stays 0.1 instead of its binary expansion).
    return Decimal(str(value))


def reference_price(event: Message | None) -> Decimal | None:
    """Return the price an event quotes: a bar's close, a trade's or fill's price, a quote's mid; else ``None``."""
    if isinstance(event, BarClosed):
        return event.close
    if isinstance(event, (TradeTicked, OrderFilled)):
        return event.price
    if isinstance(event, QuoteTicked):
        return (event.bid + event.ask) / 2
    return None


class Strategy(Generic[ParamsT]):
    """Base of every strategy. Subclass as ``Strategy[MyParams]`` and override the hooks you need.

    ``Params`` (the pydantic parameters class) is taken from the type argument unless the subclass sets it. The
    engine constructs one instance per (strategy id, symbol) and calls the hooks with that symbol's events in
    order; hooks record signals with ``long``, ``short``, ``exit`` or ``signal`` and return nothing.
    """

    Params: ClassVar[type[StrategyParams]] = StrategyParams

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Params" not in cls.__dict__:
            cls.Params = _params_argument(cls) or cls.Params

    def __init__(self, params: ParamsT, context: StrategyContext) -> None:
        if not isinstance(params, self.Params):
            raise TypeError(f"{type(self).__name__} needs a {self.Params.__name__}, got {type(params).__name__}")
        self.params = params
        self.context = context

    @property
    def strategy_id(self) -> str:
        """Return the id this instance runs under."""
        return self.context.strategy_id

    @property
    def symbol(self) -> str:
        """Return the symbol this instance trades."""
        return self.context.symbol

    @property
    def warmup_bars(self) -> int:
        """Return how many bars of history must be fed before a new bar can produce a signal."""
        return 0

    def on_bar(self, bar: BarClosed) -> None:
        """Handle a closed bar of this symbol."""

    def on_tick(self, tick: TradeTicked) -> None:
        """Handle a trade of this symbol."""

    def on_quote(self, quote: QuoteTicked) -> None:
        """Handle a top-of-book change of this symbol."""

    def on_book(self, book: OrderBookUpdated) -> None:
        """Handle an order-book update of this symbol."""

    def on_fill(self, fill: OrderFilled) -> None:
        """Handle a fill of an order this strategy caused in this symbol."""

    def signal(self, direction: Direction, **options: Unpack[SignalOptions]) -> SignalIntent:
        """Emit a signal in ``direction``; see ``SignalOptions`` for sizing and order type."""
        return self.context.emit(direction, **options)

    def long(self, **options: Unpack[SignalOptions]) -> SignalIntent:
        """Emit a signal to be long."""
        return self.context.emit(Direction.LONG, **options)

    def short(self, **options: Unpack[SignalOptions]) -> SignalIntent:
        """Emit a signal to be short."""
        return self.context.emit(Direction.SHORT, **options)

    def exit(self, **options: Unpack[SignalOptions]) -> SignalIntent:
        """Emit a signal to be flat."""
        return self.context.emit(Direction.EXIT, **options)


def _params_argument(cls: type) -> type[StrategyParams] | None:
    for base in getattr(cls, "__orig_bases__", ()):
        origin = get_origin(base)
        if isinstance(origin, type) and issubclass(origin, Strategy):
            for argument in get_args(base):
                if isinstance(argument, type) and issubclass(argument, StrategyParams):
                    return argument
    return None
