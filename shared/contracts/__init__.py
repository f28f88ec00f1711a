"""Event contracts: the messages tradebus services exchange (commands are imperatives, events are facts)."""

from .base import Command, Event, Message, Money, PositiveQuantity, Price, Quantity, SignedQuantity, UtcDatetime
from .control import WorkerHeartbeatSent
from .market import (
    BarClosed,
    BarHistoryProvided,
    BarView,
    BookLevel,
    OrderBookUpdated,
    QuoteTicked,
    RequestBarHistory,
    TradeTicked,
)
from .orders import (
    CancelOrder,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderType,
    Side,
    SubmitOrder,
    TimeInForce,
)
from .portfolio import (
    PortfolioSnapshot,
    PositionChanged,
    PositionView,
    StrategyAttribution,
    TradingHalted,
    TradingResumed,
)
from .registry import MESSAGE_TYPES, UnknownMessageType, decode, encode, message_class
from .signals import Direction, SignalGenerated
from .streams import MarketEvent, StreamKey, StreamPositions, stream_of

__all__ = [name for name in dir() if not name.startswith("_")]
