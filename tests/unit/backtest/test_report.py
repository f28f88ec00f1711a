"""The backtest's output: the JSON object follows its schema, files land in a folder per run, units are readable."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from array import array
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest

from tests.paths import ORCL_SAMPLE as ORCL
from tools.backtest import BacktestConfig, BacktestResult, run_backtest
from tools.backtest.charts import decimate, monthly_returns
from tools.backtest.engine import PROGRESS_EVERY
from tools.backtest.output import present
from tools.backtest.progress import estimate_bars, progress_bar
from tools.backtest.report import SCHEMA_FILE, TRADE_COLUMNS, as_json, run_folder, summary_table, write_files
from tools.backtest.series import PriceSeries, buy_and_hold
from tools.cli import main

CONFIG = BacktestConfig(data=(ORCL,), symbols=("ORCL",), params={"fast": "10", "slow": "30"})


@pytest.fixture(scope="module")
def orcl() -> BacktestResult:
    return asyncio.run(run_backtest(CONFIG))


def series(*points: tuple[int, float]) -> PriceSeries:
    made = PriceSeries()
    for micros, price in points:
        made.micros.append(micros)
        made.prices.append(price)
    return made


def test_json_output_validates_against_the_committed_schema(tmp_path: Path, capsys) -> None:
    code = main(["backtest", "--data", str(ORCL), "--strategy", "sma_cross", "--out", str(tmp_path), "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    jsonschema.validate(report, json.loads(SCHEMA_FILE.read_text()))
    assert (report["schema"], report["schema_version"]) == ("tradebus.backtest-result", 1)


def test_json_keeps_units_in_the_names_and_open_positions_a_list(orcl: BacktestResult) -> None:
    report = as_json(orcl, CONFIG)

    metrics = report["metrics"]
    assert metrics["max_drawdown_duration_days"] == 5392.0
    assert metrics["total_return_pct"] == pytest.approx(2.6461, abs=1e-4)
    assert 0 < metrics["max_drawdown_pct"] < 100 and "max_drawdown" not in metrics
    assert [p["entry_date"] for p in report["open_positions"]] == ["2014-11-04"]
    assert report["run"]["strategy"] == "sma_cross" and report["run"]["params"] == {"fast": "10", "slow": "30"}
    assert (report["run"]["first_bar"], report["run"]["last_bar"]) == ("1995-01-03", "2014-12-31")


def test_a_flat_run_still_lists_its_open_positions(orcl: BacktestResult) -> None:
    from dataclasses import replace

    report = as_json(replace(orcl, open_positions=()), CONFIG)

    assert report["open_positions"] == []
    jsonschema.validate(report, json.loads(SCHEMA_FILE.read_text()))


def test_trades_carry_duration_return_and_exit_reason(orcl: BacktestResult, tmp_path: Path) -> None:
    trades, equity = write_files(orcl, tmp_path, CONFIG)

    rows = list(csv.DictReader(trades.open()))
    assert list(rows[0]) == TRADE_COLUMNS and len(rows) == 97
    first = rows[0]
    assert (first["entry_date"], first["exit_date"], first["duration_days"]) == ("1995-05-12", "1995-09-25", "136.0")
    assert float(first["return_pct"]) == pytest.approx((2.935185 / 2.37037 - 1) * 100, abs=1e-3)
    assert {row["exit_reason"] for row in rows} == {"signal"}
    assert next(csv.reader(equity.open())) == ["ts", "equity", "buy_and_hold", "drawdown_pct"]


def test_each_run_gets_its_own_folder_named_by_utc_time_and_strategy(tmp_path: Path) -> None:
    now = datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)

    first = run_folder(tmp_path, "./breakout.py:Breakout", now)
    first.mkdir()
    second = run_folder(tmp_path, "./breakout.py:Breakout", now)

    assert first.name == "20240506T070809Z-breakout-py-Breakout"
    assert second.name == first.name + "-2"


def test_present_writes_the_folder_and_the_report_when_asked(orcl: BacktestResult, tmp_path: Path) -> None:
    out = io.StringIO()

    folder = present(orcl, CONFIG, out=tmp_path / "run", report=True, stdout=out)

    assert sorted(p.name for p in folder.iterdir()) == ["equity.csv", "report.html", "trades.csv"]
    assert "max drawdown duration" in out.getvalue() and "report.html" in out.getvalue()


def test_summary_shows_percentages_and_days_not_fractions(orcl: BacktestResult) -> None:
    table = summary_table(orcl, CONFIG)

    assert "5,392 days" in table and "0:00:00" not in table
    assert "2.65%" in table and "40.21%" in table
    assert "periods per year" not in table


def test_html_report_is_self_contained(orcl: BacktestResult, tmp_path: Path) -> None:
    from tools.backtest.html_report import render_html_report

    html = render_html_report(orcl, CONFIG)

    assert "<script src=" not in html and html.count("<script") >= 5  # plotly.js inline, then one per figure
    for section in ("section-equity", "section-drawdown", "section-price-0", "section-monthly"):
        assert f'id="{section}"' in html
    assert "fast=10, slow=30" in html and "orcl-1995-2014.csv" in html and "5,392 days" in html


def test_buy_and_hold_splits_the_cash_and_counts_a_symbol_as_cash_until_it_trades() -> None:
    prices = {"A": series((0, 10.0), (2, 20.0)), "B": series((1, 5.0), (2, 10.0))}

    values = buy_and_hold(prices, 1000.0, array("q", [0, 1, 2]))

    assert list(values) == [1000.0, 1000.0, 2000.0]


def test_decimation_keeps_the_extremes_of_long_series() -> None:
    values = [float(i % 100) for i in range(100_000)]
    values[54_321] = -50.0

    kept = decimate(len(values), values, limit=3000)

    assert len(kept) <= 3100 and 54_321 in kept and kept[-1] == len(values) - 1


def test_monthly_returns_are_percent_month_end_to_month_end(orcl: BacktestResult) -> None:
    table = monthly_returns(orcl)

    assert sorted(table) == list(range(1995, 2015)) and len(table[2000]) == 12
    assert all(v is None or abs(v) < 10 for row in table.values() for v in row)


async def test_progress_is_reported_every_thousand_bars_and_at_the_end() -> None:
    seen: list[int] = []

    result = await run_backtest(CONFIG, progress=seen.append)

    assert seen[:2] == [PROGRESS_EVERY, 2 * PROGRESS_EVERY] and seen[-1] == result.bars == 5036


def test_progress_bar_stays_quiet_off_a_terminal() -> None:
    with progress_bar((ORCL,), io.StringIO()) as progress:
        assert progress is None
    assert estimate_bars((ORCL,)) == 5036

