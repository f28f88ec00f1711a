"""The paper matcher reproduces backtrader's fills: SMA(10/30) crossover on 20 years of ORCL, next-open fills.

The signals are computed here by the reference rule (tests/parity/__init__.py); the matcher does the fills and
commissions, and the account must end at the reference value to the cent and beyond.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from services.execution.domain.matching import MatcherConfig, PaperMatcher
from services.execution.domain.pricing import Commission
from services.execution.domain.reports import Filled
from shared.contracts import BarClosed, Side
from tests.paths import ORCL_SAMPLE as ORCL_CSV
from tests.unit.execution.factories import order


def read_bars() -> list[BarClosed]:
    with ORCL_CSV.open(newline="") as file:
        return [BarClosed(ts_event=datetime.fromisoformat(row["Date"]).replace(tzinfo=timezone.utc),
                          ts_init=datetime.fromisoformat(row["Date"]).replace(tzinfo=timezone.utc),
                          source="orcl-csv", symbol="ORCL", timeframe="1d", open=Decimal(row["Open"]),
                          high=Decimal(row["High"]), low=Decimal(row["Low"]), close=Decimal(row["Close"]),
                          volume=Decimal(row["Volume"]))
                for row in csv.DictReader(file)]


def crosses(closes: list[Decimal], fast: int = 10, slow: int = 30) -> Iterator[tuple[int, int]]:
    """Yield (bar index, +1 up-cross / -1 down-cross), comparing with the last non-zero difference."""
    last_nonzero = Decimal(0)
    for t in range(slow - 1, len(closes)):
        diff = sum(closes[t - fast + 1:t + 1]) / fast - sum(closes[t - slow + 1:t + 1]) / slow
        if t >= slow:
            if last_nonzero < 0 < diff:
                yield t, 1
            elif last_nonzero > 0 > diff:
                yield t, -1
        if diff != 0:
            last_nonzero = diff


@pytest.mark.parametrize("rate, final_value", [(Decimal(0), Decimal("102646.0652")),
                                               (Decimal("0.001"), Decimal("102302.3330"))])
def test_sma_cross_on_orcl_ends_at_backtraders_value(rate: Decimal, final_value: Decimal) -> None:
    bars = read_bars()
    signals = dict(crosses([b.close for b in bars]))
    matcher = PaperMatcher(MatcherConfig(fill_on="next_open", commission=Commission(rate=rate)))
    cash, position, closed_trades = Decimal(100000), Decimal(0), 0
    for index, bar in enumerate(bars):
        for fill in matcher.on_bar(bar):
            assert isinstance(fill, Filled)
            sign = 1 if position == 0 else -1
            cash -= sign * fill.price * fill.quantity + fill.commission
            position += sign * fill.quantity
            closed_trades += sign < 0
        wanted = signals.get(index)
        if (wanted == 1 and position == 0) or (wanted == -1 and position > 0):
            side = Side.BUY if wanted == 1 else Side.SELL
            matcher.submit(order(client_order_id=f"o-{index}", side=side, created_at=bar.ts_event), bar.ts_event)
    assert (closed_trades, position) == (97, 100)
    assert (cash + position * bars[-1].close).quantize(Decimal("0.0001")) == final_value
