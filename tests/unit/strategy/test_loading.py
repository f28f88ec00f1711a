"""Loading strategies by file path and by module from the current directory, with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.strategy.adapters.loading import absolute_path, load_strategy, prepare_strategy
from services.strategy.domain import SmaCross, Strategy, UnknownStrategy
from services.strategy.domain import load_strategy as load_without_files

BREAKOUT = '''
from pydantic import Field

from services.strategy.domain import Strategy, StrategyParams


class BreakoutParams(StrategyParams):
    lookback: int = Field(20, ge=2, description="Bars in the channel.")


class Breakout(Strategy[BreakoutParams]):
    """Go long on a new high."""
'''


pytestmark = pytest.mark.usefixtures("isolated_imports")  # tests/conftest.py


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def test_a_relative_file_path_loads_from_the_current_directory(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "breakout.py", BREAKOUT)
    monkeypatch.chdir(tmp_path)

    strategy = load_strategy("./breakout.py:Breakout")

    assert issubclass(strategy, Strategy) and strategy.__name__ == "Breakout"
    assert strategy.Params.model_fields["lookback"].default == 20


def test_a_file_loads_by_absolute_path_from_any_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "strategies", "breakout.py", BREAKOUT)
    monkeypatch.chdir(write(tmp_path / "elsewhere", "x.txt", "").parent)

    assert load_strategy(f"{path}:Breakout").__name__ == "Breakout"
    assert load_strategy("../strategies/breakout.py:Breakout") is load_strategy(f"{path}:Breakout")


def test_a_file_named_like_a_standard_module_shadows_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "json.py", BREAKOUT)

    load_strategy(f"{path}:Breakout")

    import json

    assert hasattr(json, "dumps")


def test_a_file_imports_the_modules_beside_it(tmp_path: Path) -> None:
    write(tmp_path, "channel_helpers_for_test.py", "LOOKBACK = 7\n")
    path = write(tmp_path, "uses_helper.py", BREAKOUT.replace("Field(20", "Field(LOOKBACK")
                 .replace("from pydantic import Field", "from pydantic import Field\n"
                          "from channel_helpers_for_test import LOOKBACK"))

    assert load_strategy(f"{path}:Breakout").Params.model_fields["lookback"].default == 7


def test_a_module_path_resolves_from_the_current_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "breakout_in_cwd.py", BREAKOUT)
    monkeypatch.chdir(tmp_path)

    assert load_strategy("breakout_in_cwd:Breakout").__name__ == "Breakout"


def test_built_in_names_and_installed_modules_still_load() -> None:
    assert load_strategy("sma_cross") is SmaCross
    assert load_strategy("services.strategy.domain.strategies.sma_cross:SmaCross") is SmaCross


def test_prepare_strategy_builds_a_file_strategy_with_its_params(tmp_path: Path) -> None:
    path = write(tmp_path, "breakout.py", BREAKOUT)

    loaded = prepare_strategy("b1", f"{path}:Breakout", {"lookback": "5"})

    assert loaded.params.model_dump() == {"lookback": 5}


@pytest.mark.parametrize(
    ("files", "spec", "problem"),
    [
        ({}, "./nope.py:Breakout", r"^strategy file './nope.py' does not exist \(looked for .*nope.py"),
        ({"b.py": BREAKOUT}, "./b.py:Brekout", r"^./b.py has no 'Brekout' .*Strategy classes in it: Breakout\)$"),
        ({"b.py": "x = 1\nimport no_such_dependency_xyz\n"}, "./b.py:Breakout",
         r"^loading strategy file './b.py' failed: .*b.py:2: ModuleNotFoundError: No module named "
         r"'no_such_dependency_xyz'$"),
        ({"b.py": "def broken(:\n"}, "./b.py:Breakout",
         r"^loading strategy file './b.py' failed: .*b.py:1: SyntaxError"),
        ({"b.py": "\n\nraise RuntimeError('boom')\n"}, "./b.py:Breakout", r"b.py:3: RuntimeError: boom$"),
        ({"m_fails_xyz.py": "import no_such_dependency_xyz\n"}, "m_fails_xyz:Breakout",
         r"^importing module 'm_fails_xyz' .* failed: .*m_fails_xyz.py:1: ModuleNotFoundError"),
        ({}, "no_such_module_xyz:Breakout", r"^cannot import module 'no_such_module_xyz' .*current directory"),
    ],
)
def test_a_strategy_that_does_not_load_is_one_line_naming_the_cause(
        files: dict[str, str], spec: str, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in files.items():
        write(tmp_path, name, text)
    monkeypatch.chdir(tmp_path)

    with pytest.raises(UnknownStrategy, match=problem) as raised:
        load_strategy(spec)
    assert "\n" not in str(raised.value)


def test_a_file_class_that_is_not_a_strategy_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "plain.py", "class Plain:\n    pass\n")

    with pytest.raises(TypeError, match="is class Plain, not a Strategy subclass"):
        load_strategy(f"{path}:Plain")


def test_a_file_that_failed_can_be_fixed_and_loaded_again(tmp_path: Path) -> None:
    path = write(tmp_path, "b.py", "raise RuntimeError('not yet')\n")
    with pytest.raises(UnknownStrategy):
        load_strategy(f"{path}:Breakout")

    path.write_text(BREAKOUT)

    assert load_strategy(f"{path}:Breakout").__name__ == "Breakout"


def test_the_domain_alone_points_file_paths_to_the_loading_adapter() -> None:
    with pytest.raises(UnknownStrategy, match="names a file: load it with services.strategy.adapters.loading"):
        load_without_files("./breakout.py:Breakout")


def test_absolute_path_makes_only_relative_files_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    assert absolute_path("./breakout.py:Breakout") == f"{tmp_path.resolve()}/breakout.py:Breakout"
    assert absolute_path("sma_cross") == "sma_cross"
    assert absolute_path("pkg.module:Class") == "pkg.module:Class"
