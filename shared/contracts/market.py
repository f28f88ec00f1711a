"""Market events published by the data service: bars, trades, quotes and order-book updates."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .base import Command, Event, PositiveQuantity, Price, Quantity, Symbol, UtcDatetime

StreamSequence = Annotated[int | None, Field(None, ge=1, description=(
    "Position of the event in its stream (source, type, symbol, timeframe), counted from 1 by its publisher. "
    "Delivery is at least once: a consumer drops an event whose sequence is not above the last one it saw of "
    "the same stream. None: the event is not deduplicated."))]
"""The position of a market event in its stream: what makes a repeated or older event recognisable."""


class BarClosed(Event):
    """Record that an OHLCV bar of ``timeframe`` (e.g. ``1d``, ``1m``) closed; ``ts_event`` is the bar's open time."""

    type: Literal["BarClosed"] = "BarClosed"
    schema_version: Literal[2] = 2
    symbol: Symbol
    sequence: StreamSequence
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
    schema_version: Literal[2] = 2
    symbol: Symbol
    sequence: StreamSequence
    price: Price
    size: PositiveQuantity
    aggressor: Literal["buy", "sell", "unknown"] = "unknown"
    trade_id: str | None = None


class QuoteTicked(Event):
    """Record a change of the top of book: best bid and ask with their sizes."""

    type: Literal["QuoteTicked"] = "QuoteTicked"
    schema_version: Literal[2] = 2
    symbol: Symbol
    sequence: StreamSequence
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
    schema_version: Literal[2] = 2
    symbol: Symbol
    sequence: StreamSequence
    is_snapshot: bool
    bids: tuple[BookLevel, ...] = ()
    asks: tuple[BookLevel, ...] = ()


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
    """Answer a ``RequestBarHistory`` with one page of the bars, oldest first (fewer than asked when the data
    service has fewer).

    A long history comes as ``pages`` messages numbered ``page`` 0, 1, ..., each holding consecutive bars, so no
    message grows past the bus's size limit; the requester joins them in page order.
    """

    type: Literal["BarHistoryProvided"] = "BarHistoryProvided"
    schema_version: Literal[2] = 2
    symbol: Symbol
    timeframe: str
    requester: str
    bars: tuple[BarView, ...] = ()
    page: int = Field(0, ge=0)
    pages: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _check_page(self) -> Self:
        if self.page >= self.pages:
            raise ValueError(f"page {self.page} of {self.pages} pages")
        return self

    def routing_symbol(self) -> str | None:
        """Return the requester: a reply is routed to the one worker that asked, not to a symbol's consumers."""
        return self.requester
