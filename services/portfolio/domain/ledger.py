"""The account ledger: cash, positions per (strategy, symbol), realised and unrealised P&L, closed trades.

One ledger is one account shared by many strategies; a position belongs to a (strategy_id, symbol) pair, so P&L
and exposure are attributed per strategy as well as in total.

Arithmetic is exact. Amounts are ``Decimal`` computed under a context that raises on any rounding, with one
exception: a partial reduce releases a pro-rata share of the cost basis, a division, which is quantized to
``COST_QUANTUM`` and subtracted from the basis it came from, so nothing is created or lost. Hence
``equity() == starting_cash + realized_pnl() + unrealized_pnl()`` holds exactly after every fill.

Conventions:
- ``realized_pnl`` is net of commission: a fill's commission is charged to realised P&L when it is paid.
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


class _Book:
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
        self._books: dict[tuple[str, str], _Book] = {}
        self._net: dict[str, Decimal] = {}  # symbol -> account-level quantity, only non-zero
        self._marks: dict[str, Decimal] = {}
        self._applied: set[str] = set()
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
        book = self._books[fill.strategy_id, fill.symbol]
        return PositionUpdate(fill.fill_id, self._view(book), realized, trade)

    def has_applied(self, fill_id: str) -> bool:
        """Return whether a fill with this id was applied."""
        return fill_id in self._applied

    def _apply(self, fill: Fill) -> tuple[Decimal, ClosedTrade | None]:
        book = self._books.get((fill.strategy_id, fill.symbol)) or self._new_book(fill.strategy_id, fill.symbol)
        sign = fill.side.sign
        self._cash -= sign * fill.quantity * fill.price + fill.commission
        self._commission += fill.commission
        self._traded_notional += fill.quantity * fill.price
        self._marks.setdefault(fill.symbol, fill.price)  # a fill prices a symbol no bar has marked yet
        was_open = bool(book.quantity)
        reducing = was_open and (book.quantity > 0) != (sign > 0)
        closed_qty = min(fill.quantity, abs(book.quantity)) if reducing else _ZERO
        close_commission = _prorate(fill.commission, closed_qty, fill.quantity) if closed_qty else _ZERO
        gross, trade = _ZERO, None
        if closed_qty:
            gross = self._reduce(book, closed_qty, fill, close_commission)
            if not book.quantity:
                trade = self._close_episode(book, fill.ts_event)
        if fill.quantity > closed_qty:
            self._increase(book, fill.quantity - closed_qty, fill, fill.commission - close_commission)
        realized = gross - fill.commission
        book.realized += realized
        book.commission += fill.commission
        self._realized += realized
        self._open += bool(book.quantity) - was_open
        self._move_net(fill.symbol, sign * fill.quantity)
        return realized, trade

    def _new_book(self, strategy_id: str, symbol: str) -> _Book:
        book = self._books[strategy_id, symbol] = _Book(strategy_id, symbol)
        return book

    def _reduce(self, book: _Book, quantity: Decimal, fill: Fill, commission: Decimal) -> Decimal:
        held = abs(book.quantity)
        released = _prorate(book.cost, quantity, held)
        direction = 1 if book.quantity > 0 else -1
        gross = direction * quantity * fill.price - released
        book.cost -= released
        book.quantity -= direction * quantity
        episode = book.episode
        assert episode is not None
        episode.exit_qty += quantity
        episode.exit_notional += quantity * fill.price
        episode.gross_pnl += gross
        episode.commission += commission
        return gross

    def _increase(self, book: _Book, quantity: Decimal, fill: Fill, commission: Decimal) -> None:
        if not book.quantity:
            book.episode = _Episode(fill.fill_id, fill.side, fill.ts_event)
        episode = book.episode
        assert episode is not None
        book.quantity += fill.side.sign * quantity
        book.cost += fill.side.sign * quantity * fill.price
        episode.entry_qty += quantity
        episode.entry_notional += quantity * fill.price
        episode.commission += commission

    def _close_episode(self, book: _Book, exit_ts: datetime) -> ClosedTrade:
        episode = book.episode
        assert episode is not None
        book.episode = None
        return ClosedTrade(
            strategy_id=book.strategy_id,
            symbol=book.symbol,
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

    def traded_notional(self) -> Decimal:
        """Return the sum of quantity times price over every fill (for turnover)."""
        return self._traded_notional

    # The sums below call the exact context's methods instead of entering it with ``localcontext``: the same
    # exact results, without copying a context per call (a snapshot after each fill asks for all of them).

    def unrealized_pnl(self) -> Decimal:
        """Return market value minus cost basis, summed over open positions."""
        total, marks, exact = _ZERO, self._marks, _EXACT
        for book in self._books.values():
            if book.quantity:
                total = exact.add(total, exact.subtract(exact.multiply(marks[book.symbol], book.quantity), book.cost))
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
        book = self._books.get((strategy_id, symbol))
        return None if book is None else self._view(book)

    def positions(self, *, symbol: str | None = None, include_flat: bool = False) -> list[Position]:
        """Return positions sorted by (strategy, symbol): open ones, or all; only ``symbol``'s when given."""
        books = self._books.values() if include_flat else self._open_books()
        chosen = (b for b in books if symbol is None or b.symbol == symbol)
        return [self._view(b) for b in sorted(chosen, key=lambda b: (b.strategy_id, b.symbol))]

    def attribution(self) -> list[StrategyPnl]:
        """Return realised and unrealised P&L, exposure and commission per strategy, sorted by strategy id."""
        totals: dict[str, list[Decimal]] = {}
        add, marks = _EXACT.add, self._marks
        for book in self._books.values():
            row = totals.get(book.strategy_id)
            if row is None:
                row = totals[book.strategy_id] = [_ZERO] * 5
            row[0] = add(row[0], book.realized)
            row[4] = add(row[4], book.commission)
            if book.quantity:
                value = _EXACT.multiply(book.quantity, marks[book.symbol])
                row[1] = add(row[1], _EXACT.subtract(value, book.cost))
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

    def _open_books(self) -> Iterator[_Book]:
        return (b for b in self._books.values() if b.quantity)

    def _view(self, book: _Book) -> Position:
        episode = book.episode
        return Position(
            strategy_id=book.strategy_id,
            symbol=book.symbol,
            quantity=book.quantity,
            average_price=_ROUND.divide(abs(book.cost), abs(book.quantity)) if book.quantity else _ZERO,
            cost_basis=book.cost,
            realized_pnl=book.realized,
            commission=book.commission,
            market_price=self._marks.get(book.symbol),
            episode_id=episode.episode_id if episode else None,
            opened_at=episode.opened_at if episode else None,
        )
