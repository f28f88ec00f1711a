"""Operator controls and what the venue says: halt, resume, flatten, status, and balances.

An operator's tool publishes a command and waits for the event that confirms it: ``TradingHalted`` or
``TradingResumed`` caused by the command, the portfolio's ``PortfolioSnapshot`` caused by a flatten or status
request, and the execution service's ``ExecutionStatusReported``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .base import Command, Event, Money, PositiveQuantity, Price, Quantity, Symbol
from .orders import OrderType, Side


class HaltTrading(Command):
    """Stop taking new risk: execution refuses orders that do not reduce a position and cancels working entries."""

    type: Literal["HaltTrading"] = "HaltTrading"
    schema_version: Literal[1] = 1
    reason: str = Field("operator", min_length=1, max_length=256)


class ResumeTrading(Command):
    """Trade again after a halt (the operator's or the kill switch's); the drawdown is measured afresh from now."""

    type: Literal["ResumeTrading"] = "ResumeTrading"
    schema_version: Literal[1] = 1
    reason: str = Field("operator", min_length=1, max_length=256)


class FlattenPositions(Command):
    """Close the open positions (of ``symbol``, or all) with market orders through the normal order path."""

    type: Literal["FlattenPositions"] = "FlattenPositions"
    schema_version: Literal[1] = 1
    symbol: Symbol | None = None
    reason: str = Field("operator", min_length=1, max_length=256)


class RequestStatus(Command):
    """Ask the portfolio and execution services to say where they stand (each answers with an event)."""

    type: Literal["RequestStatus"] = "RequestStatus"
    schema_version: Literal[1] = 1


class WorkingOrderView(BaseModel):
    """One working order inside a status report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_order_id: str
    strategy_id: str
    symbol: Symbol
    side: Side
    order_type: OrderType
    quantity: PositiveQuantity
    filled_quantity: Quantity
    limit_price: Price | None = None
    stop_price: Price | None = None
    status: str


class ExecutionStatusReported(Event):
    """Record where the execution service stands: its venue and mode, the halt, and the working orders."""

    type: Literal["ExecutionStatusReported"] = "ExecutionStatusReported"
    schema_version: Literal[1] = 1
    venue: str = Field(description="The broker orders go to: paper, or a ccxt exchange id.")
    mode: str = Field(description="replay, dry-run, sandbox or live.")
    trading_halted: bool
    halt_reason: str | None = None
    working_orders: tuple[WorkingOrderView, ...] = ()


class BalanceView(BaseModel):
    """One asset's balance at the venue."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset: str = Field(min_length=1, max_length=32)
    free: Money
    used: Money
    total: Money


class BalancesObserved(Event):
    """Record the venue's balances, read after the execution service had announced the fill ``last_fill_id``.

    The portfolio compares them with its own books once it has applied that fill, and reports a difference; it
    never overwrites either side.
    """

    type: Literal["BalancesObserved"] = "BalancesObserved"
    schema_version: Literal[1] = 1
    venue: str
    balances: tuple[BalanceView, ...]
    last_fill_id: str | None = None


class BalanceDifference(BaseModel):
    """How much of ``asset`` the venue holds beyond (positive) or short of (negative) what the books expect."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    asset: str
    expected: Money
    observed: Money
    difference: Money


class BalancesDiffered(Event):
    """Record that the venue's balances moved differently from the portfolio's books since they were first seen."""

    type: Literal["BalancesDiffered"] = "BalancesDiffered"
    schema_version: Literal[1] = 1
    venue: str
    differences: tuple[BalanceDifference, ...]
