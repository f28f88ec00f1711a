"""The account ledger: cash, positions per (strategy, symbol), realised and unrealised P&L, closed trades.

One ledger is one account shared by many strategies; a position belongs to a (strategy_id, symbol) pair, so P&L
and exposure are attributed per strategy as well as in total.

Arithmetic is exact. Amounts are ``Decimal`` computed under a context that raises on any rounding, with one
exception: a partial reduce releases a pro-rata share of the cost basis, a division, which is quantized to
``COST_QUANTUM`` and subtracted from the basis it came from, so nothing is created or lost. Hence
``equity() == starting_cash + realized_pnl() + unrealized_pnl()`` holds exactly after every fill.

Conventions:
- ``realized_pnl`` is net of commission: a fill's commission is charged to realised P&L when it is paid. A fee
  charged in the base asset moves the position instead and is valued at the fill price (``fees.booked``).
- average price is the cost basis over the open quantity: weighted on increase, unchanged on reduce, reset to
  the fill price on a flip (the closing part is realised, the remainder opens a new position).
- a ``ClosedTrade`` is one round trip from flat to flat (an *episode*); partial reduces realise P&L at once but
  the trade is reported when the position is flat again, with volume-weighted entry and exit prices.
- account-level exposure nets positions of different strategies in one symbol (what the broker holds);
  per-strategy attribution does not.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from shared.contracts.fees import booked, split_symbol
from shared.contracts.orders import Side

from .positions import ClosedTrade, Fill, Position, PositionUpdate, StrategyPnl

COST_QUANTUM = Decimal("1e-12")
"""The resolution of cost basis released by a partial reduce (the only rounding the ledger does)."""

_EXACT = Context(prec=64, traps=[Inexact, InvalidOperation, DivisionByZero, Overflow])
_ROUND = Context(prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
_ZERO = Decimal(0)


class _Episode:
    __slots__ = ("episode_id", "side", "opened_at", "entry_qty", "entry_notional", "exit_qty", "exit_notional",
                 "gross_pnl", "commission")

    def __init__(self, episode_id: str, side: Side, opened_at: datetime) -> None:
        self.episode_id, self.side, self.opened_at = episode_id, side, opened_at
        self.entry_qty = self.entry_notional = self.exit_qty = self.exit_notional = _ZERO
        self.gross_pnl = self.commission = _ZERO


class _Holding:
    __slots__ = ("strategy_id", "symbol", "quantity", "cost", "realized", "commission", "episode")

    def __init__(self, strategy_id: str, symbol: str) -> None:
        self.strategy_id, self.symbol = strategy_id, symbol
        self.quantity = self.cost = self.realized = self.commission = _ZERO
        self.episode: _Episode | None = None


def _prorate(amount: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    if part == whole:
        return amount
    return _ROUND.divide(_ROUND.multiply(amount, part), whole).quantize(COST_QUANTUM, context=_ROUND)


class Ledger:
    """Keep one account's cash and positions; apply each fill exactly once; mark positions to market."""

    def __init__(self, starting_cash: Decimal) -> None:
        self.starting_cash = Decimal(starting_cash)
        self._cash = self.starting_cash
        self._realized = self._commission = self._traded_notional = _ZERO
        self._holdings: dict[tuple[str, str], _Holding] = {}
        self._net: dict[str, Decimal] = {}  # symbol -> account-level quantity, only non-zero
        self._marks: dict[str, Decimal] = {}
        self._applied: set[str] = set()
        self._other_fees: dict[str, Decimal] = {}  # fees in a third asset (BNB): not in cash, see fees.booked
        self._trades: list[ClosedTrade] = []
        self._open = 0

    # -- fills -------------------------------------------------------------------------------------------------

    def apply_fill(self, fill: Fill) -> PositionUpdate | None:
        """Apply ``fill`` to cash and its position; return what it did, or ``None`` if its id was applied before.

        Raise ``decimal.Inexact`` if the fill cannot be applied exactly; the ledger is then unusable (crash and
        rebuild it from the store).
        """
        if fill.fill_id in self._applied:
            return None
        with localcontext(_EXACT):
            realized, trade = self._apply(fill)
        self._applied.add(fill.fill_id)
        if trade is not None:
            self._trades.append(trade)
        holding = self._holdings[fill.strategy_id, fill.symbol]
        return PositionUpdate(fill.fill_id, self._view(holding), realized, trade)

    def has_applied(self, fill_id: str) -> bool:
        """Return whether a fill with this id was applied."""
        return fill_id in self._applied

    def fill_ids(self) -> frozenset[str]:
        """Return the ids of every fill applied."""
        return frozenset(self._applied)

    def _apply(self, fill: Fill) -> tuple[Decimal, ClosedTrade | None]:
        key = (fill.strategy_id, fill.symbol)
        holding = self._holdings.get(key) or self._new_holding(*key)
        sign = fill.side.sign
        book = booked(fill.symbol, fill.side, fill.quantity, fill.price, fill.commission, fill.commission_currency)
        quantity, commission = book.quantity, book.commission
        self._cash -= sign * quantity * fill.price + commission
        self._commission += commission
        if book.other_fee_currency is not None:
            self._other_fees[book.other_fee_currency] = self._other_fees.get(book.other_fee_currency, _ZERO) + \
                book.other_fee
        self._traded_notional += fill.quantity * fill.price
        self._marks.setdefault(fill.symbol, fill.price)  # a fill prices a symbol no bar has marked yet
        was_open = bool(holding.quantity)
        reducing = was_open and (holding.quantity > 0) != (sign > 0)
        closed_qty = min(quantity, abs(holding.quantity)) if reducing else _ZERO
        close_commission = _prorate(commission, closed_qty, quantity) if closed_qty else _ZERO
        gross, trade = _ZERO, None
        if closed_qty:
            gross = self._reduce(holding, closed_qty, fill, close_commission)
            if not holding.quantity:
                trade = self._close_episode(holding, fill.ts_event)
        if quantity > closed_qty:
            self._increase(holding, quantity - closed_qty, fill, commission - close_commission)
        realized = gross - commission
        holding.realized += realized
        holding.commission += commission
        self._realized += realized
        self._open += bool(holding.quantity) - was_open
        self._move_net(fill.symbol, sign * quantity)
        return realized, trade

    def _new_holding(self, strategy_id: str, symbol: str) -> _Holding:
        holding = self._holdings[strategy_id, symbol] = _Holding(strategy_id, symbol)
        return holding

    def _reduce(self, holding: _Holding, quantity: Decimal, fill: Fill, commission: Decimal) -> Decimal:
        held = abs(holding.quantity)
        released = _prorate(holding.cost, quantity, held)
        direction = 1 if holding.quantity > 0 else -1
        gross = direction * quantity * fill.price - released
        holding.cost -= released
        holding.quantity -= direction * quantity
        episode = holding.episode
        assert episode is not None
        episode.exit_qty += quantity
        episode.exit_notional += quantity * fill.price
        episode.gross_pnl += gross
        episode.commission += commission
        return gross

    def _increase(self, holding: _Holding, quantity: Decimal, fill: Fill, commission: Decimal) -> None:
        if not holding.quantity:
            holding.episode = _Episode(fill.fill_id, fill.side, fill.ts_event)
        episode = holding.episode
        assert episode is not None
        holding.quantity += fill.side.sign * quantity
        holding.cost += fill.side.sign * quantity * fill.price
        episode.entry_qty += quantity
        episode.entry_notional += quantity * fill.price
        episode.commission += commission

    def _close_episode(self, holding: _Holding, exit_ts: datetime) -> ClosedTrade:
        episode = holding.episode
        assert episode is not None
        holding.episode = None
        return ClosedTrade(
            strategy_id=holding.strategy_id,
            symbol=holding.symbol,
            side=episode.side,
            quantity=episode.entry_qty,
            entry_ts=episode.opened_at,
            entry_price=_ROUND.divide(episode.entry_notional, episode.entry_qty),
            exit_ts=exit_ts,
            exit_price=_ROUND.divide(episode.exit_notional, episode.exit_qty),
            gross_pnl=episode.gross_pnl,
            commission=episode.commission,
        )

    def _move_net(self, symbol: str, delta: Decimal) -> None:
        net = self._net.get(symbol, _ZERO) + delta
        if net:
            self._net[symbol] = net
        else:
            self._net.pop(symbol, None)

    # -- marks (hot path: once per bar) ------------------------------------------------------------------------

    def mark(self, symbol: str, price: Decimal) -> None:
        """Record ``price`` as the last price of ``symbol``; equity and P&L use it from now on."""
        self._marks[symbol] = price

    def last_price(self, symbol: str) -> Decimal | None:
        """Return the last price of ``symbol`` (its mark, else its first fill's price), or ``None``."""
        return self._marks.get(symbol)

    def marks(self) -> dict[str, Decimal]:
        """Return a copy of every symbol's last price."""
        return dict(self._marks)

    def equity(self) -> Decimal:
        """Return cash plus every held quantity at its last price."""
        if not self._net:
            return self._cash
        total, marks = self._cash, self._marks
        for symbol, quantity in self._net.items():
            total = _EXACT.fma(quantity, marks[symbol], total)
        return total

    def in_market(self) -> bool:
        """Return whether any position (of any strategy) is open."""
        return self._open > 0

    # -- totals ------------------------------------------------------------------------------------------------

    @property
    def cash(self) -> Decimal:
        """Return the cash balance: starting cash minus what fills bought, plus what they sold, minus commission."""
        return self._cash

    def realized_pnl(self) -> Decimal:
        """Return the realised P&L of every position, net of all commission paid."""
        return self._realized

    def commission(self) -> Decimal:
        """Return all commission paid."""
        return self._commission

    def other_fees(self) -> dict[str, Decimal]:
        """Return the fees paid in assets that are neither the symbol's base nor the account currency (e.g. BNB)."""
        return dict(self._other_fees)

    def balances(self, account_currency: str) -> dict[str, Decimal]:
        """Return what the books say the venue should hold: cash in ``account_currency``, each base asset's net
        quantity (symbols of the form ``BASE/QUOTE``), less the fees paid in other assets."""
        held = {account_currency: self._cash}
        for symbol, quantity in self._net.items():
            base, _ = split_symbol(symbol)
            if base is not None:
                held[base] = held.get(base, _ZERO) + quantity
        for currency, fee in self._other_fees.items():
            held[currency] = held.get(currency, _ZERO) - fee
        return held

    def traded_notional(self) -> Decimal:
        """Return the sum of quantity times price over every fill (for turnover)."""
        return self._traded_notional

    # The sums below call the exact context's methods instead of entering it with ``localcontext``: the same
    # exact results, without copying a context per call (a snapshot after each fill asks for all of them).

    def unrealized_pnl(self) -> Decimal:
        """Return market value minus cost basis, summed over open positions."""
        total, marks, exact = _ZERO, self._marks, _EXACT
        for holding in self._holdings.values():
            if holding.quantity:
                value = exact.multiply(marks[holding.symbol], holding.quantity)
                total = exact.add(total, exact.subtract(value, holding.cost))
        return total

    def gross_exposure(self) -> Decimal:
        """Return the sum of absolute market values per symbol (strategies netted, as the broker holds them)."""
        total, marks = _ZERO, self._marks
        for symbol, quantity in self._net.items():
            total = _EXACT.add(total, _EXACT.multiply(quantity.copy_abs(), marks[symbol]))
        return total

    def net_exposure(self) -> Decimal:
        """Return the sum of signed market values per symbol (long minus short)."""
        total, marks = _ZERO, self._marks
        for symbol, quantity in self._net.items():
            total = _EXACT.add(total, _EXACT.multiply(quantity, marks[symbol]))
        return total

    # -- views -------------------------------------------------------------------------------------------------

    def position(self, strategy_id: str, symbol: str) -> Position | None:
        """Return the position of ``strategy_id`` in ``symbol`` (possibly flat), or ``None`` if it never traded."""
        holding = self._holdings.get((strategy_id, symbol))
        return None if holding is None else self._view(holding)

    def positions(self, *, symbol: str | None = None, include_flat: bool = False) -> list[Position]:
        """Return positions sorted by (strategy, symbol): open ones, or all; only ``symbol``'s when given."""
        holdings = self._holdings.values() if include_flat else self._open_holdings()
        chosen = (b for b in holdings if symbol is None or b.symbol == symbol)
        return [self._view(b) for b in sorted(chosen, key=lambda b: (b.strategy_id, b.symbol))]

    def attribution(self) -> list[StrategyPnl]:
        """Return realised and unrealised P&L, exposure and commission per strategy, sorted by strategy id."""
        totals: dict[str, list[Decimal]] = {}
        add, marks = _EXACT.add, self._marks
        for holding in self._holdings.values():
            row = totals.get(holding.strategy_id)
            if row is None:
                row = totals[holding.strategy_id] = [_ZERO] * 5
            row[0] = add(row[0], holding.realized)
            row[4] = add(row[4], holding.commission)
            if holding.quantity:
                value = _EXACT.multiply(holding.quantity, marks[holding.symbol])
                row[1] = add(row[1], _EXACT.subtract(value, holding.cost))
                row[2] = add(row[2], value.copy_abs())
                row[3] = add(row[3], value)
        return [StrategyPnl(sid, *row) for sid, row in sorted(totals.items())]

    @property
    def closed_trades(self) -> tuple[ClosedTrade, ...]:
        """Return every round trip closed so far, in the order they closed."""
        return tuple(self._trades)

    @property
    def trade_count(self) -> int:
        """Return how many round trips closed."""
        return len(self._trades)

    @property
    def fill_count(self) -> int:
        """Return how many distinct fills were applied."""
        return len(self._applied)

    def _open_holdings(self) -> Iterator[_Holding]:
        return (b for b in self._holdings.values() if b.quantity)

    def _view(self, holding: _Holding) -> Position:
        episode = holding.episode
        return Position(
            strategy_id=holding.strategy_id,
            symbol=holding.symbol,
            quantity=holding.quantity,
            average_price=_ROUND.divide(abs(holding.cost), abs(holding.quantity)) if holding.quantity else _ZERO,
            cost_basis=holding.cost,
            realized_pnl=holding.realized,
            commission=holding.commission,
            market_price=self._marks.get(holding.symbol),
            episode_id=episode.episode_id if episode else None,
            opened_at=episode.opened_at if episode else None,
        )
