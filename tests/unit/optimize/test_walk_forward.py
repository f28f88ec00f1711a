"""Walk-forward on the first 1,500 ORCL bars: window boundaries, out-of-sample on unseen bars, determinism, the CSV."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.unit.optimize.conftest import orcl_head
from tools.cli import main
from tools.errors import UsageError
from tools.optimize.evaluate import Evaluator
from tools.optimize.walkforward import Split, parse_length, splits

BARS = 1_500
GRID = ("--param", "fast=5:15:5", "--param", "slow=20:40:20", "--sampler", "grid", "--jobs", "1")
ROLLING = ("--walk-forward", "rolling", "--train", "500", "--test", "250")


def days(count: int) -> list[datetime]:
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    return [start + timedelta(days=i) for i in range(count)]


@pytest.fixture(scope="module")
def series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return orcl_head(tmp_path_factory.mktemp("walk-forward-data") / "orcl-1500.csv", BARS)


def optimize(series: Path, folder: Path, name: str, *extra: str) -> tuple[int, str]:
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = main(["optimize", "--data", str(series), "--strategy", "sma_cross", "--study", name,
                       "--storage", f"sqlite:///{folder / name}.db", "--out", str(folder / name), *extra])
    return status, output.getvalue()


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def rolling(series: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("walk-forward")
    status, output = optimize(series, folder, "rolling", *GRID, *ROLLING)
    assert status == 0
    return folder / "rolling", output


def test_rolling_windows_slide_the_training_window_by_the_test_length():
    assert splits(days(1_000), "rolling", 500, 200) == [
        Split(1, (0, 500), (500, 700)), Split(2, (200, 700), (700, 900))]


def test_anchored_windows_all_train_from_the_first_bar():
    assert splits(days(1_000), "anchored", 500, 200) == [
        Split(1, (0, 500), (500, 700)), Split(2, (0, 700), (700, 900))]


def test_a_duration_cuts_windows_at_bar_times():
    (first, second) = splits(days(100), "rolling", parse_length("--train", "6w"), parse_length("--test", "3w"))

    assert first == Split(1, (0, 42), (42, 63))
    assert second == Split(2, (21, 63), (63, 84))


@pytest.mark.parametrize("text", ["0", "-5", "2m", "ten", ""])
def test_a_bad_length_is_a_usage_error(text):
    with pytest.raises(UsageError):
        parse_length("--train", text)


def test_windows_bigger_than_the_data_are_a_one_line_usage_error(series, tmp_path, capsys):
    status, _ = optimize(series, tmp_path, "big", *GRID, "--walk-forward", "anchored", "--train", "1400",
                         "--test", "200")

    error = capsys.readouterr().err.strip()
    assert status == 2
    assert "do not fit in the data's 1500 bars" in error and "\n" not in error


def test_train_and_test_without_walk_forward_are_a_usage_error(series, tmp_path):
    assert optimize(series, tmp_path, "lone", *GRID, "--train", "500")[0] == 2


def test_the_csv_has_a_row_per_window_and_the_rolling_windows_move_forward(rolling):
    rows = rows_of(rolling[0] / "walk_forward.csv")

    assert [(r["window"], r["train_bars"], r["test_bars"]) for r in rows] == \
        [(str(n), "500", "250") for n in (1, 2, 3, 4)]
    assert all(later["train_start"] > earlier["train_start"] for earlier, later in zip(rows, rows[1:]))
    assert all(r["test_start"] > r["train_end"] for r in rows)
    assert all(later["test_start"] > earlier["test_end"] for earlier, later in zip(rows, rows[1:]))


def test_the_in_sample_objective_is_the_best_trial_of_the_window(rolling):
    for row in rows_of(rolling[0] / "walk_forward.csv"):
        trials = [t for t in rows_of(rolling[0] / f"wf{int(row['window']):02d}" / "trials.csv")
                  if t["state"] == "COMPLETE"]
        best = max(trials, key=lambda t: float(t["value"]))
        assert float(row["is_sharpe"]) == pytest.approx(float(best["value"]))
        assert (row["fast"], row["slow"]) == (best["fast"], best["slow"])


def test_the_out_of_sample_objective_is_a_backtest_of_the_test_bars_alone(rolling, series, tmp_path, capsys):
    row = rows_of(rolling[0] / "walk_forward.csv")[0]
    lines = series.read_text().splitlines(keepends=True)
    test_only = tmp_path / "orcl-test.csv"
    test_only.write_text("".join([lines[0], *lines[1 + 500:1 + 750]]))

    main(["backtest", "--data", str(test_only), "--strategy", "sma_cross", "--param", f"fast={row['fast']}",
          "--param", f"slow={row['slow']}", "--json", "--out", str(tmp_path / "bt")])

    assert json.loads(capsys.readouterr().out)["metrics"]["sharpe"] == pytest.approx(float(row["oos_sharpe"]))


def test_out_of_sample_bars_were_never_replayed_by_that_windows_training(series, tmp_path, monkeypatch):
    replayed: list[tuple[int, int]] = []
    run = Evaluator.run

    def spy(self, config, window=None):
        replayed.append(window)
        return run(self, config, window)

    monkeypatch.setattr(Evaluator, "run", spy)
    optimize(series, tmp_path, "spy", *GRID, *ROLLING)

    tests = [window for window in replayed if replayed.count(window) == 1]
    trains = [window for window in dict.fromkeys(replayed) if window not in tests]
    assert len(tests) == len(trains) == 4
    for train, test in zip(trains, tests):
        assert train[1] <= test[0]


def test_a_walk_forward_is_deterministic_for_a_seed(series, tmp_path):
    space = ("--param", "fast=2:30:1", "--param", "slow=20:120:5", "--sampler", "random", "--trials", "4",
             "--seed", "5", "--jobs", "1", "--walk-forward", "anchored", "--train", "700", "--test", "400")
    optimize(series, tmp_path, "a", *space)
    optimize(series, tmp_path, "b", *space)

    first, second = (rows_of(tmp_path / name / "walk_forward.csv") for name in ("a", "b"))
    assert first == second and len(first) == 2


def test_the_summary_compares_mean_in_sample_with_mean_out_of_sample(rolling):
    (line,) = [line for line in rolling[1].splitlines() if line.startswith("walk-forward over")]
    rows = rows_of(rolling[0] / "walk_forward.csv")
    mean_is = sum(float(r["is_sharpe"]) for r in rows) / len(rows)
    mean_oos = sum(float(r["oos_sharpe"]) for r in rows) / len(rows)

    assert f"mean IS sharpe {mean_is:.4g}" in line and f"OOS/IS {mean_oos / mean_is:.2f}" in line
