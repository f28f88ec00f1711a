"""Every message type by name, and decoding of wire bytes into typed messages."""

from __future__ import annotations

from .base import Message
from .control import WorkerHeartbeatSent
from .market import BarClosed, BarHistoryProvided, OrderBookUpdated, QuoteTicked, RequestBarHistory, TradeTicked
from .operator import (
    BalancesDiffered,
    BalancesObserved,
    ExecutionStatusReported,
    FlattenPositions,
    HaltTrading,
    RequestStatus,
    ResumeTrading,
)
from .orders import (
    CancelOrder,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    SubmitOrder,
)
from .portfolio import PortfolioSnapshot, PositionChanged, TradingHalted, TradingResumed
from .signals import SignalGenerated

MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        BarClosed,
        TradeTicked,
        QuoteTicked,
        OrderBookUpdated,
        RequestBarHistory,
        BarHistoryProvided,
        SignalGenerated,
        SubmitOrder,
        CancelOrder,
        OrderAccepted,
        OrderRejected,
        OrderCanceled,
        OrderExpired,
        OrderFilled,
        PositionChanged,
        PortfolioSnapshot,
        TradingHalted,
        TradingResumed,
        WorkerHeartbeatSent,
        HaltTrading,
        ResumeTrading,
        FlattenPositions,
        RequestStatus,
        ExecutionStatusReported,
        BalancesObserved,
        BalancesDiffered,
    )
}


class UnknownMessageType(ValueError):
    """Raised when a message names a type no contract defines."""


def message_class(type_name: str) -> type[Message]:
    """Return the class registered under ``type_name``, or raise ``UnknownMessageType``."""
    try:
        return MESSAGE_TYPES[type_name]
    except KeyError:
        raise UnknownMessageType(f"unknown message type {type_name!r}") from None


def decode(type_name: str, body: bytes | str) -> Message:
    """Validate JSON ``body`` as the message type ``type_name``; raise ``UnknownMessageType`` or ``ValidationError``."""
    return message_class(type_name).model_validate_json(body)


def encode(message: Message) -> bytes:
    """Serialise ``message`` to compact JSON bytes (decimals as strings, datetimes as ISO 8601 UTC)."""
    return message.__pydantic_serializer__.to_json(message)
