"""Parity: the ledger fed the ORCL SMA-crossover fills reproduces the reference engines' numbers exactly.

The fills are derived here from the reference specification (``tests/parity/__init__.py``: SMA 10/30 crossover,
long only, 100 shares, next-open fills), independently of the strategy service; this tests the ledger's arithmetic.
"""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from services.portfolio.domain import EquityCurve, Ledger, compute_metrics
from shared.contracts import Side
from tests.paths import ORCL_SAMPLE as ORCL
from tests.unit.portfolio.factories import filled

D = Decimal


def orcl_bars() -> list[tuple[datetime, Decimal, Decimal]]:
    with ORCL.open() as handle:
        return [(datetime.fromisoformat(row["Date"]).replace(tzinfo=timezone.utc), D(row["Open"]), D(row["Close"]))
                for row in csv.DictReader(handle)]


def crossover_orders(closes: list[Decimal]) -> dict[int, str]:
    """Return {bar index: side} of the orders the SMA(10)/SMA(30) crossover places at that bar's close."""
    orders: dict[int, str] = {}
    prev_sign, long = 0, False
    for t in range(29, len(closes)):
        sign = (3 * sum(closes[t - 9:t + 1]) - sum(closes[t - 29:t + 1])).compare(D(0))  # sign of fast - slow
        if t >= 30 and prev_sign < 0 < sign and not long:
            orders[t], long = "buy", True
        elif t >= 30 and prev_sign > 0 > sign and long:
            orders[t], long = "sell", False
        prev_sign = int(sign) or prev_sign
    return orders


def run(rate: Decimal) -> tuple[Ledger, EquityCurve]:
    bars = orcl_bars()
    orders = crossover_orders([close for _, _, close in bars])
    ledger, curve = Ledger(D(100_000)), EquityCurve()
    for t, (ts, open_, close) in enumerate(bars):
        if t - 1 in orders:
            ledger.apply_fill(filled(orders[t - 1], 100, str(open_), commission=rate * open_ * 100, ts_event=ts))
        ledger.mark("ORCL", close)
        curve.record(ts, ledger.equity(), in_market=ledger.in_market())
    return ledger, curve


@pytest.mark.parametrize(("rate", "final_value"), [(D(0), D("102646.0652")), (D("0.001"), D("102302.3330"))])
def test_orcl_sma_cross_fills_give_the_reference_final_value(rate: Decimal, final_value: Decimal) -> None:
    ledger, curve = run(rate)

    assert abs(ledger.equity() - final_value) < D("0.0001")
    assert ledger.trade_count == 97
    position = ledger.position("sma_cross", "ORCL")
    assert (position.quantity, position.average_price) == (D(100), D("38.93"))
    assert position.opened_at.date().isoformat() == "2014-11-04"
    assert compute_metrics(curve, ledger.closed_trades).final_equity == pytest.approx(float(final_value), abs=1e-4)


def test_orcl_first_five_round_trips_match_the_reference() -> None:
    ledger, _ = run(D(0))

    trips = [(t.entry_ts.date().isoformat(), t.entry_price, t.exit_ts.date().isoformat(), t.exit_price,
              t.net_pnl) for t in ledger.closed_trades[:5]]

    assert trips == [
        ("1995-05-12", D("2.37037"), "1995-09-25", D("2.935185"), D("56.4815")),
        ("1995-10-23", D("3.12037"), "1995-12-08", D("3.351852"), D("23.1482")),
        ("1996-01-24", D("3.481482"), "1996-03-12", D("3.666667"), D("18.5185")),
        ("1996-04-26", D("3.777778"), "1996-06-04", D("3.652778"), D("-12.5000")),
        ("1996-06-21", D("4.236111"), "1996-07-29", D("4.194445"), D("-4.1666")),
    ]
    assert all(t.side is Side.BUY and t.quantity == 100 for t in ledger.closed_trades)
