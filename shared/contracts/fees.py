"""How a commission charged in an asset other than the account currency moves a position.

Crypto venues charge the fee in the asset received: buying 0.01 BTC with a 0.1% fee credits 0.00999 BTC and
debits 0.01 x price USDT. Both the portfolio and execution book such a fill as its equivalent in the account
(quote) currency: the position moves by what the venue credited, and the fee is worth ``fee x price`` of quote,
so cash, the position and the commission all stay exact and agree with the venue's balances. A fee in a third
asset (BNB) cannot be valued without that asset's price: it is left out of cash and reported as an other fee.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .orders import Side

_ZERO = Decimal(0)


def split_symbol(symbol: str) -> tuple[str | None, str | None]:
    """Return (base, quote) of a ``BASE/QUOTE`` symbol (ccxt's form, settle suffix dropped), else (None, None)."""
    if "/" not in symbol:
        return None, None
    base, quote = symbol.split("/", 1)
    return base, quote.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class BookedFill:
    """A fill as the books take it: the position's change, the commission in account currency, any other fee."""

    quantity: Decimal
    commission: Decimal
    other_fee: Decimal = _ZERO
    other_fee_currency: str | None = None


def booked(symbol: str, side: Side, quantity: Decimal, price: Decimal, commission: Decimal,
           commission_currency: str | None) -> BookedFill:
    """Return how a fill of ``quantity`` at ``price`` with ``commission`` in ``commission_currency`` is booked."""
    base, quote = split_symbol(symbol)
    if commission_currency is None or commission_currency == quote or base is None:
        return BookedFill(quantity, commission)
    if commission_currency == base:
        moved = quantity - commission if side is Side.BUY else quantity + commission
        return BookedFill(moved, commission * price)
    return BookedFill(quantity, _ZERO, commission, commission_currency)
