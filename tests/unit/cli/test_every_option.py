"""Walk every option of ``backtest`` and ``up``: a bad value is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse

import pytest

from tests.paths import ORCL_SAMPLE
from tools.cli import build_parser

from .conftest import one_line

BAD_TEXT = {"--strategy": "nosuch", "--data": "no/such.csv", "--config": "no/such.toml", "--param": "fast",
            "--datetime-format": "%d.%m.%Y", "--symbol": "two words", "--url": "amqp://guest:guest@127.0.0.1:1/"}
"""A bad value for an option whose value is free text (the others get ``abc``, or ``-1`` for numbers)."""
ANY_VALUE = {"--out", "--timeframe", "--namespace", "--state-dir", "--endpoint", "--venue", "--paper-timeframe",
             "--url"}
"""Options any text is a fine value of (or, for --url, a runtime failure: exit status 1, tested apart)."""


def options_of(command: str) -> list[argparse.Action]:
    parser = build_parser(command)
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    actions = subparsers.choices[command]._actions
    return [a for a in actions if a.option_strings and a.nargs != 0 and a.option_strings[0] not in ANY_VALUE]


def bad_values(action: argparse.Action) -> list[str]:
    name = action.option_strings[0]
    if name in BAD_TEXT:
        return [BAD_TEXT[name]]
    if action.type is not None and action.metavar in ("NUMBER", "INT"):
        return ["abc", "-1"] if name not in ("--paper-slippage-bps",) else ["abc", "-1e9"]
    return ["abc"]


def cases(command: str) -> list[object]:
    return [pytest.param(action.option_strings[0], value, id=f"{action.option_strings[0]}={value}")
            for action in options_of(command) for value in bad_values(action)]


@pytest.mark.parametrize("option, value", cases("backtest"))
def test_every_backtest_option_with_a_bad_value_is_one_line_and_exit_status_2(cli, option, value) -> None:
    argv = ["backtest", "--data", str(ORCL_SAMPLE), "--strategy", "sma_cross", option, value]
    if option == "--symbol":
        argv = argv[:-2] + ["--symbol", "A", "--symbol", "B"]  # two symbols for one file

    code, _, err = cli(*argv)

    assert code == 2, err
    assert one_line(err).startswith("tradebus backtest: error: ")


@pytest.mark.parametrize("option, value", cases("up"))
def test_every_up_option_with_a_bad_value_is_one_line_and_exit_status_2(cli, option, value) -> None:
    code, _, err = cli("up", "--url", "amqp://guest:guest@127.0.0.1:1/", option, value)

    assert code == 2, err
    assert one_line(err).startswith("tradebus up: error: ")


def test_the_walk_covers_the_settings_of_every_service_group() -> None:
    names = {action.option_strings[0] for action in options_of("backtest")}
    assert {"--sizing-mode", "--sizing-quantity", "--risk-max-position", "--risk-max-leverage",
            "--paper-commission-per-share", "--paper-commission-minimum", "--portfolio-stop-loss",
            "--portfolio-take-profit", "--portfolio-max-drawdown", "--bad-rows", "--columns", "--tz", "--sep"} <= names
