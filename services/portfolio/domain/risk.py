"""Risk rules the portfolio enforces with its own orders: a max-drawdown kill switch, stop-loss and take-profit.

The checks are pure functions. ``RiskGuard`` adds the memory that makes each action happen once: at most one
working exit per position *episode* (the run from flat to flat, named by the id of the fill that opened it), and
a halt only on the transition into the halted state. Exit intent ids are deterministic (strategy, symbol,
episode, attempt): a redelivered bar, or a restart that forgot what was issued, yields the same id, so the
``client_order_id`` derived from it is deduplicated downstream instead of becoming a second exit order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from shared.contracts.orders import Side

from .ledger import Ledger
from .positions import Position

MAX_INTENT_ID_LENGTH = 128


class ExitReason(StrEnum):
    """Why the portfolio closes a position."""

    KILL_SWITCH = "kill_switch"
    OPERATOR = "operator"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"


@dataclass(frozen=True, slots=True)
class RiskRules:
    """Limits, each optional: ``max_drawdown`` as a fraction of peak equity (0.2 halts at a 20% fall);
    ``stop_loss_pct`` and ``take_profit_pct`` as fractions of a position's average price."""

    max_drawdown: Decimal | None = None
    stop_loss_pct: Decimal | None = None
    take_profit_pct: Decimal | None = None

    def __post_init__(self) -> None:
        if self.max_drawdown is not None and not 0 < self.max_drawdown <= 1:
            raise ValueError(f"max_drawdown must be in (0, 1], got {self.max_drawdown}")
        if self.stop_loss_pct is not None and not 0 < self.stop_loss_pct < 1:
            raise ValueError(f"stop_loss_pct must be in (0, 1), got {self.stop_loss_pct}")
        if self.take_profit_pct is not None and not self.take_profit_pct > 0:
            raise ValueError(f"take_profit_pct must be positive, got {self.take_profit_pct}")

    @property
    def has_stops(self) -> bool:
        """Return whether a stop-loss or a take-profit is set."""
        return self.stop_loss_pct is not None or self.take_profit_pct is not None


@dataclass(frozen=True, slots=True)
class KillSwitchState:
    """What fills cannot rebuild of the risk rules' state: the peak equity and whether (and why) trading halted."""

    peak_equity: Decimal | None = None
    halted: bool = False
    halt_reason: str | None = None
    flattening: bool = True
    """Whether the halt closes every position (the kill switch's) or only stops new risk (an operator's)."""


@dataclass(frozen=True, slots=True)
class ExitIntent:
    """An order the portfolio wants placed to close a position: market, reduce-only, for its whole size."""

    intent_id: str
    strategy_id: str
    symbol: str
    side: Side
    quantity: Decimal
    reason: ExitReason
    episode_id: str


@dataclass(frozen=True, slots=True)
class RiskActions:
    """What a risk evaluation asks for: exit orders, and a halt reason on the evaluation that tripped the switch."""

    exits: tuple[ExitIntent, ...] = ()
    halt_reason: str | None = None


NO_ACTIONS = RiskActions()


def intent_id(strategy_id: str, symbol: str, episode_id: str, attempt: int = 1) -> str:
    """Return the deterministic id of exit ``attempt`` for one position episode (hashed if it would be too long)."""
    raw = f"exit:{strategy_id}:{symbol}:{episode_id}" + (f":{attempt}" if attempt > 1 else "")
    if len(raw) <= MAX_INTENT_ID_LENGTH:
        return raw
    return "exit:" + hashlib.sha256(raw.encode()).hexdigest()


def exit_intent(position: Position, reason: ExitReason, attempt: int = 1) -> ExitIntent:
    """Return the intent that closes all of ``position`` (which must be open)."""
    if position.is_flat or position.episode_id is None:
        raise ValueError(f"cannot exit flat position {position.strategy_id}/{position.symbol}")
    return ExitIntent(
        intent_id=intent_id(position.strategy_id, position.symbol, position.episode_id, attempt),
        strategy_id=position.strategy_id,
        symbol=position.symbol,
        side=Side.SELL if position.quantity > 0 else Side.BUY,
        quantity=abs(position.quantity),
        reason=reason,
        episode_id=position.episode_id,
    )


def stop_reason(position: Position, last_price: Decimal | None, rules: RiskRules) -> ExitReason | None:
    """Return which stop ``last_price`` crosses for ``position`` (stop-loss first), or ``None``."""
    if position.is_flat or last_price is None:
        return None
    move = (last_price - position.average_price) / position.average_price
    gain = move if position.quantity > 0 else -move
    if rules.stop_loss_pct is not None and gain <= -rules.stop_loss_pct:
        return ExitReason.STOP_LOSS
    if rules.take_profit_pct is not None and gain >= rules.take_profit_pct:
        return ExitReason.TAKE_PROFIT
    return None


def check_stops(position: Position, last_price: Decimal | None, rules: RiskRules) -> ExitIntent | None:
    """Return the exit a crossed stop-loss or take-profit asks for, or ``None``."""
    reason = stop_reason(position, last_price, rules)
    return None if reason is None else exit_intent(position, reason)


def check_kill_switch(drawdown: Decimal, rules: RiskRules) -> str | None:
    """Return the halt reason when ``drawdown`` reached the limit, else ``None``."""
    if rules.max_drawdown is None or drawdown < rules.max_drawdown:
        return None
    return f"max drawdown: equity is {drawdown:.2%} below its peak (limit {rules.max_drawdown:.2%})"


class RiskGuard:
    """Apply ``RiskRules`` to a ledger bar after bar, issuing each exit and the halt only once."""

    def __init__(self, rules: RiskRules, *, halted: bool = False, halt_reason: str | None = None,
                 flattening: bool = True) -> None:
        self.rules = rules
        self._halted, self._halt_reason, self._flattening = halted, halt_reason, flattening
        self._working: dict[tuple[str, str], str] = {}  # (strategy, symbol) -> episode with an exit working
        self._attempts: dict[tuple[str, str, str], int] = {}

    @property
    def halted(self) -> bool:
        """Return whether the kill switch (or a restored halt) stopped trading."""
        return self._halted

    @property
    def halt_reason(self) -> str | None:
        """Return why trading halted, or ``None``."""
        return self._halt_reason

    @property
    def flattening(self) -> bool:
        """Return whether the halt closes every position (the kill switch's) rather than only stopping new risk."""
        return self._flattening

    @property
    def watching(self) -> bool:
        """Return whether ``evaluate`` can ask for anything: a rule is set or trading is halted."""
        return self._halted or self.rules.max_drawdown is not None or self.rules.has_stops

    def evaluate(self, ledger: Ledger, drawdown: Decimal, *, symbol: str | None = None) -> RiskActions:
        """Check the kill switch against ``drawdown``, then stops (of ``symbol``'s positions when given).

        Once the kill switch halted trading, every open position without a working exit is flattened, including
        one opened later by an order that was already working; stops are no longer checked. An operator's halt
        flattens nothing: stops go on.
        """
        halt_reason = None
        if not self._halted and (halt_reason := check_kill_switch(drawdown, self.rules)):
            self._halted, self._halt_reason, self._flattening = True, halt_reason, True
        if self._halted and self._flattening:
            exits = self._exits(ledger.positions(), lambda p: ExitReason.KILL_SWITCH)
        elif self.rules.has_stops:
            exits = self._exits(ledger.positions(symbol=symbol), lambda p: stop_reason(p, p.market_price, self.rules))
        else:
            exits = ()
        return RiskActions(exits, halt_reason) if exits or halt_reason else NO_ACTIONS

    def release(self, strategy_id: str, symbol: str) -> None:
        """Forget the working exit of this position (its order was rejected or canceled) so a new attempt may go."""
        episode = self._working.pop((strategy_id, symbol), None)
        if episode is not None:
            key = (strategy_id, symbol, episode)
            self._attempts[key] = self._attempts.get(key, 1) + 1

    def halt(self, reason: str) -> bool:
        """Stop new risk on an operator's word, closing nothing; return whether trading was running until now."""
        if self._halted:
            return False
        self._halted, self._halt_reason, self._flattening = True, reason, False
        return True

    def resume(self) -> None:
        """Leave the halted state (the operator resumed trading)."""
        self._halted, self._halt_reason, self._flattening = False, None, True

    def flatten(self, ledger: Ledger, symbol: str | None = None) -> tuple[ExitIntent, ...]:
        """Return an exit for each open position (of ``symbol``) that has none working yet (an operator's flatten)."""
        return self._exits(ledger.positions(symbol=symbol), lambda p: ExitReason.OPERATOR)

    def _exits(
        self, positions: Iterable[Position], reason_of: Callable[[Position], ExitReason | None]
    ) -> tuple[ExitIntent, ...]:
        exits = []
        for position in positions:
            key = (position.strategy_id, position.symbol)
            if position.is_flat or position.episode_id is None or self._working.get(key) == position.episode_id:
                continue
            reason = reason_of(position)
            if reason is None:
                continue
            self._working[key] = position.episode_id
            attempt = self._attempts.get((*key, position.episode_id), 1)
            exits.append(exit_intent(position, reason, attempt))
        return tuple(exits)
