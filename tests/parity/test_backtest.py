"""The backtester against the reference SMA-crossover result on ORCL (see tests/parity/__init__.py).

backtrader 1.9.78, backtesting.py and NautilusTrader all give these numbers for the same specification; the
backtester runs the four services' real handlers, so this is the suite's parity, not a model of it.
"""

import json
from datetime import date
from decimal import Decimal

import pytest

from tests.paths import ORCL_SAMPLE as ORCL
from tools.backtest import BacktestConfig, run_backtest
from tools.cli import main

FIRST_FIVE = [  # entry date, entry price, exit date, exit price, P&L of 100 shares
    (date(1995, 5, 12), Decimal("2.37037"), date(1995, 9, 25), Decimal("2.935185"), Decimal("56.4815")),
    (date(1995, 10, 23), Decimal("3.12037"), date(1995, 12, 8), Decimal("3.351852"), Decimal("23.1482")),
    (date(1996, 1, 24), Decimal("3.481482"), date(1996, 3, 12), Decimal("3.666667"), Decimal("18.5185")),
    (date(1996, 4, 26), Decimal("3.777778"), date(1996, 6, 4), Decimal("3.652778"), Decimal("-12.5000")),
    (date(1996, 6, 21), Decimal("4.236111"), date(1996, 7, 29), Decimal("4.194445"), Decimal("-4.1666")),
]


def orcl(**overrides) -> BacktestConfig:
    return BacktestConfig(data=(ORCL,), symbols=("ORCL",), strategy="sma_cross",
                          params={"fast": "10", "slow": "30"}, **overrides)


@pytest.mark.parametrize("commission, final_value", [("0", "102646.0652"), ("0.001", "102302.3330")])
async def test_sma_cross_on_orcl_matches_the_reference_engines(commission, final_value):
    result = await run_backtest(orcl(commission=Decimal(commission)))

    assert result.bars == 5036
    assert len(result.trades) == 97
    assert abs(result.final_value - Decimal(final_value)) <= Decimal("0.0001")
    (position,) = result.open_positions
    assert (position.symbol, position.quantity, position.average_price) == ("ORCL", 100, Decimal("38.93"))
    assert position.opened_at.date() == date(2014, 11, 4)


async def test_the_first_five_trades_are_exactly_the_reference_trades():
    result = await run_backtest(orcl())

    trades = [(t.entry_ts.date(), t.entry_price, t.exit_ts.date(), t.exit_price, t.gross_pnl)
              for t in result.trades[:5]]
    assert trades == FIRST_FIVE


async def test_strict_mode_round_trips_every_message_and_changes_nothing():
    fast, strict = await run_backtest(orcl()), await run_backtest(orcl(strict=True))

    assert strict.final_value == fast.final_value and strict.trades == fast.trades


async def test_filling_at_the_close_gives_a_different_result():
    assert (await run_backtest(orcl(fill_on="close"))).final_value != Decimal("102646.0652")


def test_backtest_command_prints_one_json_object(tmp_path, capsys):
    code = main(["backtest", "--data", str(ORCL), "--strategy", "sma_cross", "--param", "fast=10",
                 "--param", "slow=30", "--commission", "0.001", "--out", str(tmp_path), "--json"])

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {"bars", "closed_trades", "final_value", "open_positions", "trades", "metrics"} <= set(report)
    assert (report["bars"], report["closed_trades"]) == (5036, 97)
    assert report["final_value"] == pytest.approx(102302.3330, abs=1e-4)
    (position,) = report["open_positions"]
    assert position["entry_date"] == "2014-11-04" and position["quantity"] == 100
    assert report["trades"][0]["entry_date"] == "1995-05-12" and report["trades"][0]["exit_price"] == 2.935185
    assert report["metrics"]["trade_count"] == 97
    assert (tmp_path / "trades.csv").read_text().count("\n") == 98
    assert (tmp_path / "equity.csv").read_text().count("\n") == 5037


def test_backtest_command_is_deterministic(tmp_path, capsys):
    args = ["backtest", "--data", str(ORCL), "--strategy", "sma_cross", "--out", str(tmp_path), "--json"]
    main(args)
    first = capsys.readouterr().out
    main(args)
    assert capsys.readouterr().out == first


def test_unknown_strategy_is_a_clear_error(capsys):
    assert main(["backtest", "--data", str(ORCL), "--strategy", "nope"]) == 2  # bad input: a usage error
    assert "nope" in capsys.readouterr().err
