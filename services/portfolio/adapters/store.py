"""What the portfolio's handlers ask of a ledger store: the SQLite one (the service) or the memory one (backtests).

Both keep the same promises a single process can observe (a fill applied once, what a fill or a bar owes held in
an outbox until published) and run the same contract tests; only the SQLite one outlives the process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from shared.contracts import BarClosed, Message, OrderFilled, StreamKey
from shared.messaging.outbox import Outbox

from ..domain import CurvePoint, KillSwitchState, Ledger, PositionUpdate

Announce = Callable[[PositionUpdate], Sequence[Message]]
"""What a fill owes: the events to publish for the position update it made."""


@dataclass(frozen=True)
class StoredState:
    """What the store keeps beside the ledger: the kill switch, each market stream's position, the equity curve."""

    kill_switch: KillSwitchState = KillSwitchState()
    streams: Sequence[tuple[StreamKey, int]] = ()
    curve: Sequence[CurvePoint] = field(default_factory=tuple)
    balance_baseline: Mapping[str, Decimal] = field(default_factory=dict)
    """The venue's holdings beyond the books when each asset was first compared (``domain.balances``)."""


class LedgerPersistence(Protocol):
    """Where applied fills, per-bar state and owed messages (``outbox``) are kept."""

    outbox: Outbox

    def load(self, starting_cash: Decimal) -> Ledger: ...
    def state(self) -> StoredState: ...
    def apply_fill(self, ledger: Ledger, fill: OrderFilled,
                   announce: Announce | None = None) -> PositionUpdate | None: ...
    def record_bar(self, bar: BarClosed, point: CurvePoint, kill_switch: KillSwitchState | None,
                   owed: Sequence[Message] = ()) -> None: ...
    def save_kill_switch(self, state: KillSwitchState, owed: Sequence[Message] = ()) -> None: ...
    def save_balance_baseline(self, baseline: Mapping[str, Decimal], owed: Sequence[Message] = ()) -> None: ...
    def close(self) -> None: ...
