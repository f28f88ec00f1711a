"""``--param`` and ``--constraint`` texts: ranges, choices, fixed values, settings groups, and bad input."""

from __future__ import annotations

import pytest

from tools.errors import UsageError
from tools.optimize.objective import parse_constraint
from tools.optimize.runfile import backtest_config, dumps
from tools.optimize.space import parse_dimension, parse_space, with_point


def test_an_integer_range_includes_both_ends():
    assert parse_dimension("fast=5:50:5").grid() == list(range(5, 51, 5))


def test_a_float_range_has_exact_decimal_points():
    assert parse_dimension("portfolio.stop_loss=0.02:0.1:0.02").grid() == [0.02, 0.04, 0.06, 0.08, 0.1]


def test_choices_read_as_the_values_they_spell():
    assert parse_dimension("allow_short=true,false").choices == (True, False)
    assert parse_dimension("paper.fill_on=next_open,close").choices == ("next_open", "close")


@pytest.mark.parametrize("text", ["fast", "fast=5:1:1", "fast=1:10:0", "fast=1:10:4", "nope.quantity=1:2:1",
                                  "sizing.nope=1:2:1", "fast=a:b:c"])
def test_a_bad_param_is_a_usage_error(text):
    with pytest.raises(UsageError):
        parse_dimension(text)


def test_a_space_needs_something_to_search():
    with pytest.raises(UsageError, match="at least one"):
        parse_space(["fast=10"])


def test_a_point_goes_into_the_run_file_tables_the_backtest_reads(tmp_path):
    space = parse_space(["fast=5:10:5", "sizing.quantity=10:20:10", "slow=40"])
    run = with_point({"data": [str(tmp_path / "x.csv")], "strategy": "sma_cross"}, space,
                     {"fast": 5, "sizing.quantity": 20})

    assert run["params"] == {"fast": 5, "slow": 40} and run["sizing"] == {"quantity": 20}
    assert "[sizing]\nquantity = 20" in dumps(run)


def test_a_run_file_becomes_the_backtest_config(small_series):
    config = backtest_config({"data": [str(small_series)], "strategy": "sma_cross", "params": {"fast": 7},
                              "portfolio": {"stop_loss": 0.05}, "sizing": {"quantity": 20}})

    assert config.params == {"fast": "7"} and str(config.sizing.quantity) == "20"
    assert str(config.portfolio["stop_loss"]) == "0.05"


@pytest.mark.parametrize("text, metric", [("trades>=20", "trade_count"), ("max_drawdown_pct < 15", "max_drawdown_pct")])
def test_a_constraint_names_a_metric_of_the_backtest(text, metric):
    assert parse_constraint(text).metric == metric


@pytest.mark.parametrize("text", ["trades", "nope>1", "trades>>1"])
def test_a_bad_constraint_is_a_usage_error(text):
    with pytest.raises(UsageError):
        parse_constraint(text)
