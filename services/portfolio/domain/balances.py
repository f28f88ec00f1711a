"""Compare the venue's balances with the books, never overwriting either side.

The books know only what tradebus traded; the venue also holds what the account had before. So the first time
an asset is seen, the offset between the venue and the books is recorded (the *baseline*); from then on the venue
must move exactly as the books do, and any other move is a difference to report (a trade made by hand, a fee
the books did not see, a deposit). Only assets the books hold are compared.

Nothing is concluded from one observation alone. A balance read can race a fill: the venue may already count a
fill whose report has not reached the books (or the other way round), and that observation shows a difference
which the next one no longer does. So a difference is reported only when two consecutive observations find the
same difference for the asset, and a new asset's offset becomes its baseline only when two consecutive
observations find the same offset. What the last observation found is handed to the next check (``pending``);
the portfolio keeps it in memory, so after a restart the first observation only sets it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Difference:
    """``observed`` at the venue against ``expected`` (baseline + books) for ``asset``."""

    asset: str
    expected: Decimal
    observed: Decimal

    @property
    def amount(self) -> Decimal:
        """Return how much more the venue holds than expected (negative: less)."""
        return self.observed - self.expected


@dataclass(frozen=True, slots=True)
class BalanceCheck:
    """The outcome of one comparison: the baseline to keep, the differences confirmed, and what this observation
    found that the next one must confirm (asset -> a difference, or the offset of an asset without a baseline)."""

    baseline: dict[str, Decimal]
    differences: tuple[Difference, ...]
    pending: dict[str, Decimal]


def check_balances(books: Mapping[str, Decimal], observed: Mapping[str, Decimal],
                   baseline: Mapping[str, Decimal], tolerance: Decimal = _ZERO,
                   pending: Mapping[str, Decimal] | None = None) -> BalanceCheck:
    """Compare ``observed`` (venue totals) with ``books`` shifted by ``baseline``, given what the previous
    observation found (``pending``, from its check).

    A difference beyond ``tolerance`` is returned when the previous observation found the same one; an asset seen
    for the first time joins the baseline when the previous observation found the same offset.
    """
    previous = pending or {}
    kept = dict(baseline)
    differences = []
    found: dict[str, Decimal] = {}
    for asset, held in sorted(books.items()):
        venue = observed.get(asset, _ZERO)
        if asset not in kept:
            offset = venue - held
            if previous.get(asset) == offset:
                kept[asset] = offset
            else:
                found[asset] = offset
            continue
        difference = Difference(asset, kept[asset] + held, venue)
        if abs(difference.amount) > tolerance:
            found[asset] = difference.amount
            if previous.get(asset) == difference.amount:
                differences.append(difference)
    return BalanceCheck(kept, tuple(differences), found)
