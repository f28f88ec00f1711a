"""The backtrader comparison's own logic: the tradebus side reports what the engine traded; mismatches show.

``make test`` collects only ``tests/``: ``bench/backtest_vs_backtrader.py --quick`` runs these before its smoke run
(or run them with ``pytest bench/test_backtest_vs_backtrader.py``).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from bench.backtest_vs_backtrader import Run, differences, tradebus_worker
from services.data.adapters import write_synthetic_csv

D = Decimal
TRADES = [("2020-01-01T00:40:00", D("100.07"), "2020-01-01T01:02:00", D("99.98")),
          ("2020-01-01T01:30:00", D("100.5"), "2020-01-01T02:00:00", D("101"))]
REFERENCE = Run("backtrader", 500, 1.0, 1.2, 50.0, D("100050.0"), TRADES, ("2020-01-01T03:00:00", D("100.2")))


def test_identical_runs_have_no_differences() -> None:
    assert differences(REFERENCE, replace(REFERENCE, engine="tradebus", final_value=D("100050.004"))) == []


def test_a_later_exit_an_extra_trade_and_another_final_value_are_all_reported() -> None:
    moved = [TRADES[0], (TRADES[1][0], TRADES[1][1], "2020-01-01T02:01:00", TRADES[1][3])]
    found = differences(REFERENCE, replace(REFERENCE, engine="tradebus", trades=moved, final_value=D("100049")))
    assert [line.split(":")[0] for line in found] == ["trade 2", "final value"]
    assert differences(REFERENCE, replace(REFERENCE, trades=TRADES + TRADES[:1]))[0].startswith("trade count")
    assert differences(REFERENCE, replace(REFERENCE, open_entry=None))[0].startswith("open position")


def test_tradebus_side_reports_the_trades_of_the_run(tmp_path: Path) -> None:
    data = write_synthetic_csv(tmp_path / "bars.csv", 1500, seed=5)
    report = tradebus_worker(data)
    assert report["bars"] == 1500 and report["loop_seconds"] > 0
    assert len(report["trades"]) > 10
    entry, entry_price, exit_, exit_price = report["trades"][0]
    assert entry < exit_ and D(entry_price) > 0 and D(exit_price) > 0
