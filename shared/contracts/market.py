"""Market events published by the data service: bars, trades, quotes and order-book updates."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import Command, Event, Price, PositiveQuantity, Quantity, Symbol, UtcDatetime


class BarClosed(Event):
    """Record that an OHLCV bar of ``timeframe`` (e.g. ``1d``, ``1m``) closed; ``ts_event`` is the bar's open time."""

    type: Literal["BarClosed"] = "BarClosed"
    schema_version: Literal[1] = 1
    symbol: Symbol
    timeframe: str
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Quantity

    @model_validator(mode="after")
    def _check_range(self) -> Self:
        if self.high < self.low:
            raise ValueError(f"high {self.high} is below low {self.low}")
        if not (self.low <= self.open <= self.high and self.low <= self.close <= self.high):
            raise ValueError("open and close must lie within [low, high]")
        return self


class TradeTicked(Event):
    """Record one trade printed on the venue."""

    type: Literal["TradeTicked"] = "TradeTicked"
    schema_version: Literal[1] = 1
    symbol: Symbol
    price: Price
    size: PositiveQuantity
    aggressor: Literal["buy", "sell", "unknown"] = "unknown"
    trade_id: str | None = None


class QuoteTicked(Event):
    """Record a change of the top of book: best bid and ask with their sizes."""

    type: Literal["QuoteTicked"] = "QuoteTicked"
    schema_version: Literal[1] = 1
    symbol: Symbol
    bid: Price
    ask: Price
    bid_size: Quantity
    ask_size: Quantity

    @model_validator(mode="after")
    def _check_not_crossed(self) -> Self:
        if self.bid > self.ask:
            raise ValueError(f"crossed quote: bid {self.bid} above ask {self.ask}")
        return self


class BookLevel(BaseModel):
    """One price level of an order book; size 0 in a delta removes the level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    price: Price
    size: Quantity


class OrderBookUpdated(Event):
    """Record an order-book change: a full snapshot, or a delta of levels to set (size 0 deletes)."""

    type: Literal["OrderBookUpdated"] = "OrderBookUpdated"
    schema_version: Literal[1] = 1
    symbol: Symbol
    is_snapshot: bool
    bids: tuple[BookLevel, ...] = ()
    asks: tuple[BookLevel, ...] = ()
    sequence: int | None = None


class BarView(BaseModel):
    """One bar inside a history reply."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ts: UtcDatetime
    open: Price
    high: Price
    low: Price
    close: Price
    volume: Quantity


class RequestBarHistory(Command):
    """Ask the data service for the last ``count`` bars of ``symbol`` (a strategy worker warming up).

    With ``before``, only bars whose ``ts_event`` is earlier count: the history a worker that takes over a symbol
    at the event of that time needs, whatever the data service published since. The reply goes to ``requester``.
    """

    type: Literal["RequestBarHistory"] = "RequestBarHistory"
    schema_version: Literal[2] = 2
    symbol: Symbol
    timeframe: str | None = None
    count: int = Field(ge=1, le=100_000)
    requester: str = Field(min_length=1, max_length=128)
    before: UtcDatetime | None = None


class BarHistoryProvided(Event):
    """Answer a ``RequestBarHistory``: the bars, oldest first (fewer than asked when the data service has fewer)."""

    type: Literal["BarHistoryProvided"] = "BarHistoryProvided"
    schema_version: Literal[1] = 1
    symbol: Symbol
    timeframe: str
    requester: str
    bars: tuple[BarView, ...] = ()

    def routing_symbol(self) -> str | None:
        """Return the requester: a reply is routed to the one worker that asked, not to a symbol's consumers."""
        return self.requester
