"""A ledger store that keeps nothing: the backtester's, where a run starts from scratch and is replayable."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from shared.contracts.orders import OrderFilled

from ..domain.ledger import Ledger
from ..domain.positions import PositionUpdate
from .ledger_store import RiskState


class MemoryLedgerStore:
    """Apply fills straight to the ledger (it deduplicates by fill id itself) and persist nothing."""

    def load(self, starting_cash: Decimal) -> Ledger:
        return Ledger(starting_cash)

    def apply_fill(self, ledger: Ledger, fill: OrderFilled) -> PositionUpdate | None:
        return ledger.apply_fill(fill)

    def save_marks(self, marks: Mapping[str, Decimal]) -> None:
        pass

    def load_risk_state(self) -> RiskState:
        return RiskState()

    def save_risk_state(self, state: RiskState) -> None:
        pass

    def close(self) -> None:
        pass
