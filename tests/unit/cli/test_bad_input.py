"""Every bad input a user met is one line on stderr naming the file, line or option, with exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.paths import ORCL_SAMPLE, fixture_file
from tools.cli import main

from .conftest import HEADER, ROWS, one_line

ORCL = str(ORCL_SAMPLE)


def backtest(*options: str) -> list[str]:
    return ["backtest", "--strategy", "sma_cross", *options]


# -- data files -------------------------------------------------------------------------------------------------
def test_a_short_row_is_skipped_by_default_and_counted_in_one_line(write, cli) -> None:
    rows = [*ROWS]
    rows[49] = "2001-01-01,1,2"
    path = write("garbage.csv", [HEADER, *rows])

    code, out, err = cli(*backtest("--data", str(path), "--json"))

    assert code == 0 and json.loads(out)["bars"] == len(ROWS) - 1
    assert one_line(err) == (f"tradebus backtest: skipped 1 bad row: {path}:51: expected at least 7 fields, found 3 "
                             "(--bad-rows reject stops at the first)")


def test_under_bad_rows_reject_a_short_row_is_one_line_naming_file_and_line(write, cli) -> None:
    rows = [*ROWS]
    rows[49] = "2001-01-01,1,2"
    path = write("garbage.csv", [HEADER, *rows])

    code, _, err = cli(*backtest("--data", str(path), "--bad-rows", "reject"))

    assert code == 2
    assert f"bad row {path}:51: expected at least 7 fields, found 3" in one_line(err)


def test_an_empty_file_is_one_line(write, cli) -> None:
    path = write("empty.csv", [])
    code, _, err = cli(*backtest("--data", str(path)))
    assert code == 2 and one_line(err).endswith(f"{path}: the file is empty: it has no header line and no rows")


def test_a_semicolon_separated_file_is_read_like_its_comma_twin(write, cli) -> None:
    semicolons = write("semi.csv", [line.replace(",", ";") for line in [HEADER, *ROWS]])
    commas = write("comma.csv", [HEADER, *ROWS])

    results = [json.loads(cli(*backtest("--data", str(path), "--symbol", "X", "--json"))[1]) for path in
               (semicolons, commas)]

    assert results[0]["bars"] == results[1]["bars"] == len(ROWS)
    assert results[0]["final_value"] == results[1]["final_value"]


def test_a_headerless_file_is_one_line_naming_columns_and_reads_with_positions(write, cli) -> None:
    path = write("nohdr.csv", ROWS)

    code, _, err = cli(*backtest("--data", str(path)))
    assert code == 2 and "is data, not a header" in one_line(err) and "--columns date=0,open=1" in err

    code, out, _ = cli(*backtest("--data", str(path), "--columns", "date=0,open=1,high=2,low=3,close=4,volume=6",
                                 "--json"))
    assert code == 0 and json.loads(out)["bars"] == len(ROWS)


def test_us_dates_are_one_line_naming_the_datetime_format_that_reads_them(write, cli) -> None:
    path = write("us.csv", ["Date,Open,High,Low,Close,Volume", "8/19/2004,100,104,95,100,10",
                            "8/20/2004,101,109,100,108,11"])

    code, _, err = cli(*backtest("--data", str(path)))
    assert code == 2
    assert one_line(err).endswith(f"{path}:2: cannot read the timestamp '8/19/2004': give its format with "
                                  "--datetime-format '%m/%d/%Y'")

    code, out, _ = cli(*backtest("--data", str(path), "--datetime-format", "%m/%d/%Y", "--json"))
    assert code == 0 and json.loads(out)["bars"] == 2


def test_a_newest_first_file_is_replayed_oldest_first_and_says_so(write, cli) -> None:
    newest = write("newest.csv", [HEADER, *reversed(ROWS)])
    oldest = write("oldest.csv", [HEADER, *ROWS])

    code, out, err = cli(*backtest("--data", str(newest), "--symbol", "X", "--json"))
    reference = json.loads(cli(*backtest("--data", str(oldest), "--symbol", "X", "--json"))[1])

    assert code == 0 and "lists its newest row first: read in reverse, oldest first" in one_line(err)
    assert json.loads(out)["bars"] == len(ROWS) and json.loads(out)["final_value"] == reference["final_value"]


def test_the_tick_sample_with_its_repeated_timestamp_is_accepted(cli) -> None:
    code, out, err = cli(*backtest("--data", str(fixture_file("ticksample.csv")), "--timeframe", "tick", "--json",
                                   "--param", "fast=3", "--param", "slow=8"))
    assert code == 0 and err == "" and json.loads(out)["bars"] == 135


def test_a_missing_column_suggests_the_columns_option(write, cli) -> None:
    path = write("noclose.csv", ["Date,Open,High,Low,Settle", "2020-01-02,1,2,1,1.5"])
    code, _, err = cli(*backtest("--data", str(path)))
    assert code == 2 and one_line(err).endswith("name it with --columns close=COLUMN")
    assert "ColumnMapping" not in err


def test_a_missing_data_file_is_one_line(cli, tmp_path: Path) -> None:
    code, _, err = cli(*backtest("--data", str(tmp_path / "nope.csv")))
    assert code == 2 and one_line(err).endswith("nope.csv: no such file")


# -- settings ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("option, value, says", [
    ("--cash", "-5", "argument --portfolio-starting-cash/--cash: input should be greater than 0, got '-5'"),
    ("--cash", "0", "argument --portfolio-starting-cash/--cash: input should be greater than 0, got '0'"),
    ("--quantity", "0", "argument --sizing-quantity/--quantity: input should be greater than 0, got '0'"),
    ("--slippage-bps", "-50", "argument --paper-slippage-bps/--slippage-bps: input should be greater than or "
                              "equal to 0, got '-50'"),
    ("--commission", "5", "argument --paper-commission-rate/--commission: input should be less than 1, got '5'"),
])
def test_a_bad_setting_is_one_line_naming_the_option(cli, option, value, says) -> None:
    code, _, err = cli(*backtest("--data", ORCL, option, value))
    assert code == 2 and says in one_line(err)


def test_a_strategy_parameter_execution_ignores_is_refused_naming_the_execution_option(cli) -> None:
    code, _, err = cli(*backtest("--data", ORCL, "--param", "allow_short=true"))
    assert code == 2 and "add --sizing-allow-short" in one_line(err)

    code, out, _ = cli(*backtest("--data", ORCL, "--param", "allow_short=true", "--sizing-allow-short", "--json"))
    assert code == 0 and json.loads(out)["closed_trades"] > 0


def test_debug_shows_the_traceback(cli) -> None:
    with pytest.raises(Exception, match="greater than 0"):
        main(["--debug", *backtest("--data", ORCL, "--cash", "0")])


# -- up ---------------------------------------------------------------------------------------------------------
def test_up_with_a_bad_quantity_is_one_line(cli) -> None:
    code, _, err = cli("up", "--quantity", "abc")
    assert code == 2 and "argument --sizing-quantity/--quantity: input should be a valid decimal" in one_line(err)


def test_up_with_an_unknown_strategy_fails_before_any_process_starts(cli) -> None:
    code, _, err = cli("up", "--strategy", "nosuch", "--url", "amqp://guest:guest@127.0.0.1:1/")
    assert code == 2 and "unknown strategy 'nosuch'" in one_line(err)


def test_up_without_a_broker_is_one_line_and_exit_status_1(cli) -> None:
    code, _, err = cli("up", "--url", "amqp://guest:guest@127.0.0.1:1/")
    assert code == 1 and one_line(err).startswith("tradebus up: error: cannot reach the broker at "
                                                  "amqp://guest:***@127.0.0.1:1/")
