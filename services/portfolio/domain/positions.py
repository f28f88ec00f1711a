"""The ledger's value types: a position's state, a closed round trip, a fill's effect, per-strategy P&L."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import Protocol

from shared.contracts.orders import Side

_ZERO = Decimal(0)
_EXACT = Context(prec=64, traps=[Inexact, InvalidOperation, Overflow])


class Fill(Protocol):
    """What the ledger reads from a fill (``OrderFilled`` has all of it)."""

    fill_id: str
    strategy_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    commission: Decimal
    commission_currency: str | None
    ts_event: datetime


@dataclass(frozen=True, slots=True)
class Position:
    """A position's state at one moment; ``quantity`` is signed (negative is short), ``cost_basis`` too."""

    strategy_id: str
    symbol: str
    quantity: Decimal
    average_price: Decimal
    cost_basis: Decimal
    realized_pnl: Decimal
    commission: Decimal
    market_price: Decimal | None
    episode_id: str | None
    opened_at: datetime | None

    @property
    def is_flat(self) -> bool:
        """Return whether no quantity is held."""
        return not self.quantity

    @property
    def side(self) -> Side | None:
        """Return ``BUY`` for a long, ``SELL`` for a short, ``None`` when flat."""
        return None if not self.quantity else Side.BUY if self.quantity > 0 else Side.SELL

    @property
    def market_value(self) -> Decimal:
        """Return quantity times market price (signed; zero without a price)."""
        return _ZERO if self.market_price is None else _EXACT.multiply(self.quantity, self.market_price)

    @property
    def unrealized_pnl(self) -> Decimal:
        """Return market value minus cost basis (zero when flat or unpriced)."""
        if self.market_price is None or not self.quantity:
            return _ZERO
        return _EXACT.subtract(self.market_value, self.cost_basis)


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """One round trip, flat to flat. ``side`` is the entry side; prices are volume-weighted averages.

    ``gross_pnl`` is the realised price P&L (average-cost method); ``commission`` is every commission paid by
    the fills of the round trip (a flipping fill's commission is split pro rata between the two trips).
    """

    strategy_id: str
    symbol: str
    side: Side
    quantity: Decimal
    entry_ts: datetime
    entry_price: Decimal
    exit_ts: datetime
    exit_price: Decimal
    gross_pnl: Decimal
    commission: Decimal

    @property
    def net_pnl(self) -> Decimal:
        """Return gross P&L minus commission."""
        return _EXACT.subtract(self.gross_pnl, self.commission)


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    """What one applied fill did: the position after it, its realised P&L (net) and a trade it closed."""

    fill_id: str
    position: Position
    realized_pnl: Decimal
    closed_trade: ClosedTrade | None


@dataclass(frozen=True, slots=True)
class StrategyPnl:
    """P&L and exposure attributed to one strategy (exposure at current marks)."""

    strategy_id: str
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    gross_exposure: Decimal
    net_exposure: Decimal
    commission: Decimal
