"""A ledger store in memory: the backtester's, where a run starts from scratch and nothing must outlive it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from shared.contracts import BarClosed, Message, OrderFilled
from shared.messaging.outbox import MemoryOutbox

from ..domain import CurvePoint, KillSwitchState, Ledger, PositionUpdate
from .store import Announce, StoredState


class MemoryLedgerStore:
    """Apply fills straight to the ledger (it deduplicates by fill id itself); keep the outbox in memory."""

    def __init__(self) -> None:
        self.outbox = MemoryOutbox()

    def load(self, starting_cash: Decimal) -> Ledger:
        return Ledger(starting_cash)

    def state(self) -> StoredState:
        return StoredState()

    def apply_fill(self, ledger: Ledger, fill: OrderFilled, announce: Announce | None = None) -> PositionUpdate | None:
        update = ledger.apply_fill(fill)
        if update is not None and announce is not None:
            self.outbox.enqueue(announce(update))
        return update

    def record_bar(self, bar: BarClosed, point: CurvePoint, kill_switch: KillSwitchState | None,
                   owed: Sequence[Message] = ()) -> None:
        if owed:
            self.outbox.enqueue(owed)

    def save_kill_switch(self, state: KillSwitchState, owed: Sequence[Message] = ()) -> None:
        if owed:
            self.outbox.enqueue(owed)

    def save_balance_baseline(self, baseline: Mapping[str, Decimal], owed: Sequence[Message] = ()) -> None:
        if owed:
            self.outbox.enqueue(owed)

    def close(self) -> None:
        pass
