"""The field values of the portfolio's events, built from the ledger (the handlers add the envelope)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.contracts.portfolio import PositionView, StrategyAttribution

from .equity import DrawdownTracker
from .ledger import Ledger
from .positions import Position, PositionUpdate


def position_view(position: Position) -> PositionView:
    """Return ``position`` as it appears inside a ``PortfolioSnapshot``."""
    return PositionView(
        symbol=position.symbol,
        strategy_id=position.strategy_id,
        quantity=position.quantity,
        average_price=position.average_price,
        market_price=position.market_price,
        market_value=position.market_value,
        unrealized_pnl=position.unrealized_pnl,
        realized_pnl=position.realized_pnl,
    )


def snapshot_values(ledger: Ledger, drawdown: DrawdownTracker, *, trading_halted: bool) -> dict[str, Any]:
    """Return the fields of a ``PortfolioSnapshot`` (all but the envelope and ``account_id``).

    Open positions only; strategies include those that are flat now but have realised P&L. Drawdown is of the
    ledger's current equity against the tracker's peak (or that equity, if higher), so it never lags a fill.
    """
    equity = ledger.equity()
    peak = equity if drawdown.peak is None or equity > drawdown.peak else drawdown.peak
    return {
        "cash": ledger.cash,
        "equity": equity,
        "peak_equity": peak,
        "drawdown": (peak - equity) / peak if peak > 0 else Decimal(0),
        "gross_exposure": ledger.gross_exposure(),
        "net_exposure": ledger.net_exposure(),
        "realized_pnl": ledger.realized_pnl(),
        "unrealized_pnl": ledger.unrealized_pnl(),
        "positions": tuple(position_view(p) for p in ledger.positions()),
        "strategies": tuple(
            StrategyAttribution(
                strategy_id=row.strategy_id,
                realized_pnl=row.realized_pnl,
                unrealized_pnl=row.unrealized_pnl,
                gross_exposure=row.gross_exposure,
                net_exposure=row.net_exposure,
            )
            for row in ledger.attribution()
        ),
        "trading_halted": trading_halted,
    }


def position_changed_values(update: PositionUpdate) -> dict[str, Any]:
    """Return the fields of the ``PositionChanged`` event for one applied fill (all but the envelope)."""
    position = update.position
    return {
        "symbol": position.symbol,
        "strategy_id": position.strategy_id,
        "quantity": position.quantity,
        "average_price": position.average_price,
        "realized_pnl": position.realized_pnl,
        "unrealized_pnl": position.unrealized_pnl,
        "last_fill_id": update.fill_id,
    }
