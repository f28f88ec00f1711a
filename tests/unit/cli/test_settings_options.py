"""Options derived from the services' settings models, the --config file, and what reaches the services."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, Field

from tests.paths import ORCL_SAMPLE, fixture_file
from tools.cli import OneLineParser
from tools.settings_options import OptionGroup, add_group, build, env_of, given
from tools.suite.processes import service_env
from tools.suite.up import add_arguments as add_up_arguments
from tools.suite.up import options_from

from .conftest import one_line


class Knobs(BaseModel):
    level: Decimal = Field(Decimal(1), gt=0, description="How loud.")
    added_later: int | None = Field(None, ge=3, description="A setting nobody listed anywhere else.")
    on: bool = Field(False, description="Whether.")


KNOBS = OptionGroup("knobs", Knobs, aliases={"level": ("--level",)}, env_section="KNOBS")


def parser() -> OneLineParser:
    parser = OneLineParser(prog="t")
    add_group(parser, KNOBS)
    return parser


def test_a_new_field_appears_as_an_option_with_its_description_and_default_in_help() -> None:
    text = parser().format_help()
    assert "--knobs-added-later" in text and "A setting nobody listed anywhere else (default: unset)" in text
    assert "--knobs-level" in text and "--level" in text and "--no-knobs-on" in text


def test_given_options_only_are_collected_and_become_environment_variables() -> None:
    args = parser().parse_args(["--level", "2.5", "--knobs-on"])
    assert given(args, KNOBS) == {"level": Decimal("2.5"), "on": True}
    assert env_of(KNOBS, given(args, KNOBS)) == {"KNOBS__LEVEL": "2.5", "KNOBS__ON": "true"}


def test_the_config_file_fills_in_and_the_command_line_overrides(tmp_path: Path, cli) -> None:
    config = tmp_path / "run.toml"
    config.write_text(f'data = ["{ORCL_SAMPLE}"]\nstrategy = "sma_cross"\n[params]\nfast = 5\nslow = 20\n'
                      '[sizing]\nquantity = 10\n[portfolio]\nstarting_cash = 50000\n')

    code, out, _ = cli("backtest", "--config", str(config), "--cash", "60000", "--json")

    run = json.loads(out)["run"]
    assert code == 0 and run["params"] == {"fast": "5", "slow": "20"}
    assert run["sizing"]["quantity"] == 10 and run["cash"] == 60000


def test_an_unknown_config_key_is_one_line(tmp_path: Path, cli) -> None:
    config = tmp_path / "run.toml"
    config.write_text('strategy = "sma_cross"\n[sizing]\nquantitty = 10\n')

    code, _, err = cli("backtest", "--config", str(config), "--data", str(ORCL_SAMPLE))

    assert code == 2 and f"{config}: unknown key 'quantitty' in [sizing]" in one_line(err)


def test_a_bad_config_value_names_the_file_and_key(tmp_path: Path, cli) -> None:
    config = tmp_path / "run.toml"
    config.write_text('[portfolio]\nstop_loss = 2\n')

    code, _, err = cli("backtest", "--config", str(config), "--data", str(ORCL_SAMPLE), "--strategy", "sma_cross")

    assert code == 2 and f"{config}: [portfolio] stop_loss: input should be less than 1" in one_line(err)


def test_up_hands_the_given_settings_to_the_services_environment() -> None:
    up = OneLineParser(prog="up")
    add_up_arguments(up)
    options = options_from(up.parse_args(["--paper-commission-per-share", "0.005", "--portfolio-stop-loss", "0.05",
                                          "--risk-max-leverage", "2", "--bad-rows", "reject",
                                          "--tz", "America/New_York"]))

    execution = service_env(options, "execution", 1)
    portfolio = service_env(options, "portfolio", 1)
    data = service_env(options, "data", 1)

    assert execution["TRADEBUS_EXECUTION_PAPER__COMMISSION_PER_SHARE"] == "0.005"
    assert execution["TRADEBUS_EXECUTION_RISK__MAX_LEVERAGE"] == "2"
    assert portfolio["TRADEBUS_PORTFOLIO_STOP_LOSS"] == "0.05"
    assert data["TRADEBUS_DATA_BAD_ROWS"] == "reject" and data["TRADEBUS_DATA_TZ"] == "America/New_York"


def test_build_names_the_option_a_model_level_problem_came_from() -> None:
    args = parser().parse_args(["--knobs-added-later", "3"])
    assert build(KNOBS, args).added_later == 3  # type: ignore[attr-defined]


def test_buying_power_keeps_the_index_sample_from_ending_with_negative_cash(cli) -> None:
    code, out, _ = cli("backtest", "--data", str(fixture_file("index-2006-5min.csv")), "--strategy", "sma_cross",
                       "--timeframe", "5m", "--json")
    assert code == 0 and Decimal(str(json.loads(out)["cash"])) >= 0

    code, out, _ = cli("backtest", "--data", str(fixture_file("index-2006-5min.csv")), "--strategy", "sma_cross",
                       "--timeframe", "5m", "--quantity", "20", "--json")
    result = json.loads(out)
    assert code == 0 and result["fills"] > 0 and Decimal(str(result["cash"])) >= 0
