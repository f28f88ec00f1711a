"""``tradebus strategies``: every strategy with its parameters, defaults, types and descriptions."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from services.strategy.domain.registry import STRATEGIES, describe_strategy
from tests.paths import ORCL_SAMPLE, ROOT
from tools.cli import main

BREAKOUT = '''
from decimal import Decimal

from pydantic import Field

from services.strategy.domain import Strategy, StrategyParams


class BreakoutParams(StrategyParams):
    lookback: int = Field(20, ge=2, description="Bars in the channel.")
    band: Decimal | None = Field(None, description="Optional band around the channel.")
    name: str = Field(description="A required one.")


class Breakout(Strategy[BreakoutParams]):
    """Go long on a new high.

    More detail that the listing leaves out.
    """
'''


pytestmark = pytest.mark.usefixtures("isolated_imports")  # tests/conftest.py


def listing(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["strategies", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_listing_shows_every_built_in_strategy_with_each_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    strategies = listing(capsys)

    assert [s["name"] for s in strategies] == sorted(STRATEGIES)
    sma = next(s for s in strategies if s["name"] == "sma_cross")
    assert sma["class"] == "services.strategy.domain.strategies.sma_cross.SmaCross"
    assert sma["params"][0] == {"name": "fast", "type": "int", "default": 10, "required": False,
                                "constraints": ">= 1", "description": "Bars in the fast SMA of closes."}
    assert [p["name"] for p in sma["params"]] == ["fast", "slow", "allow_short"]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_built_in_strategy_has_a_summary_and_describes_every_parameter(name: str) -> None:
    info = describe_strategy(name, STRATEGIES[name])

    assert info.summary
    assert all(param.description for param in info.params), [p.name for p in info.params if not p.description]


def test_decimal_defaults_are_json_strings_and_types_are_readable(capsys: pytest.CaptureFixture[str]) -> None:
    mean_reversion = next(s for s in listing(capsys) if s["name"] == "mean_reversion")
    tick = next(p for p in mean_reversion["params"] if p["name"] == "tick_size")

    assert (tick["type"], tick["default"], tick["constraints"]) == ("Decimal", "0.01", "> 0")


def test_a_file_strategy_is_described_from_its_params_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "breakout.py").write_text(BREAKOUT)
    monkeypatch.chdir(tmp_path)

    [breakout] = listing(capsys, "--strategy", "./breakout.py:Breakout")

    assert (breakout["name"], breakout["summary"]) == ("./breakout.py:Breakout", "Go long on a new high.")
    assert breakout["params"] == [
        {"name": "lookback", "type": "int", "default": 20, "required": False, "constraints": ">= 2",
         "description": "Bars in the channel."},
        {"name": "band", "type": "Decimal | None", "default": None, "required": False, "constraints": "",
         "description": "Optional band around the channel."},
        {"name": "name", "type": "str", "default": None, "required": True, "constraints": "",
         "description": "A required one."},
    ]


def test_the_table_names_each_strategy_parameter_and_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies", "--strategy", "sma_cross"]) == 0

    out = capsys.readouterr().out
    assert "sma_cross" in out and "Go long when SMA(fast)" in out
    assert all(word in out for word in ("fast", "slow", "allow_short", "false", ">= 1"))


@pytest.mark.parametrize(("spec", "problem"), [
    ("no_such_strategy", "unknown strategy 'no_such_strategy'"),
    ("./missing.py:Breakout", "strategy file './missing.py' does not exist"),
    ("math:pi", "math:pi is a float, not a Strategy subclass"),
])
def test_a_strategy_that_cannot_be_described_is_a_one_line_error(spec: str, problem: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies", "--strategy", spec]) != 0

    err = capsys.readouterr().err
    assert problem in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_the_readme_strategy_commands_work_as_written_from_the_clone(tmp_path: Path) -> None:
    """Run README's "Write a strategy" commands verbatim in a stand-in clone: breakout.py saved at its root."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Write a strategy", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n# breakout.py\n(.*?)```", section, re.S)
    (commands,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    clone = tmp_path / "clone"
    (clone / ORCL_SAMPLE.relative_to(ROOT)).parent.mkdir(parents=True)
    (clone / ORCL_SAMPLE.relative_to(ROOT)).symlink_to(ORCL_SAMPLE)
    (clone / ".venv").symlink_to(ROOT / ".venv")
    (clone / "breakout.py").write_text(code)
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}

    done = subprocess.run(["bash", "-ec", commands.replace("backtest ", f"backtest --out {tmp_path / 'out'} ")],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode == 0, done.stderr
    assert "lookback" in done.stdout and "Bars in the channel." in done.stdout
    assert "Traceback" not in done.stderr
