"""Grid, random and TPE studies on real bars, real optuna, SQLite storage: what they find and what they write."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import optuna
import pytest

from tools.cli import main
from tools.optimize.study import open_storage, ranked

GRID = ("--param", "fast=5:20:5", "--param", "slow=20:60:20")


def trials_of(folder: Path) -> list[dict[str, str]]:
    with (folder / "trials.csv").open() as handle:
        return list(csv.DictReader(handle))


def best_line(output: str) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith("best: ")]
    return line


def test_a_grid_study_runs_every_point_once_and_ranks_the_best(study_args, tmp_path, capsys):
    status = main([*study_args("grid", *GRID, "--sampler", "grid", "--jobs", "1")])

    trials = trials_of(tmp_path / "grid")
    assert status == 0
    assert sorted((int(t["fast"]), int(t["slow"])) for t in trials) == \
        sorted((f, s) for f in (5, 10, 15, 20) for s in (20, 40, 60))
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    best = max(complete, key=lambda t: float(t["value"]))
    assert f"fast={best['fast']}, slow={best['slow']}" in best_line(capsys.readouterr().out)


def test_the_best_toml_runs_in_backtest_as_it_is_and_gives_the_same_objective(study_args, small_series, tmp_path,
                                                                                capsys):
    main([*study_args("best", *GRID, "--param", "portfolio.stop_loss=0.04:0.08:0.04", "--sampler", "grid",
                      "--jobs", "1")])
    capsys.readouterr()
    study = optuna.load_study(study_name="best", storage=open_storage(f"sqlite:///{tmp_path / 'best'}.db"))
    best = ranked(study)[0]

    status = main(["backtest", "--config", str(tmp_path / "best" / "best.toml"), "--data", str(small_series),
                   "--json", "--out", str(tmp_path / "bt")])

    report = json.loads(capsys.readouterr().out)
    assert status == 0
    assert report["metrics"]["sharpe"] == pytest.approx(best.value)
    assert "stop_loss = 0.0" in (tmp_path / "best" / "best.toml").read_text()


def test_a_random_study_gives_the_same_trials_with_one_job_and_with_two(study_args, tmp_path, capsys):
    space = ("--param", "fast=2:30:1", "--param", "slow=20:120:5", "--sampler", "random", "--trials", "8",
             "--seed", "7")
    main([*study_args("one", *space, "--jobs", "1")])
    one = best_line(capsys.readouterr().out)
    main([*study_args("two", *space, "--jobs", "2")])
    two = best_line(capsys.readouterr().out)

    # two workers may both ask for the last trial: the one beyond the study's count is listed as a pruned
    # surplus, and the storage's trial numbers then follow the order the workers asked in, so compare the points
    points = [{(t["fast"], t["slow"], t["value"]) for t in trials_of(tmp_path / name) if t["state"] == "COMPLETE"}
              for name in ("one", "two")]
    assert points[0] == points[1] and len(points[0]) == 8
    assert one.split(" with ")[1] == two.split(" with ")[1]


def test_a_tpe_study_with_one_job_is_deterministic_for_a_seed(study_args, tmp_path, capsys):
    space = ("--param", "fast=2:30:1", "--param", "slow=20:120:5", "--sampler", "tpe", "--trials", "14",
             "--seed", "3", "--jobs", "1")
    main([*study_args("tpe-a", *space)])
    first = best_line(capsys.readouterr().out)
    main([*study_args("tpe-b", *space)])
    second = best_line(capsys.readouterr().out)

    assert first.split(" with ")[1] == second.split(" with ")[1]
    assert [t["fast"] for t in trials_of(tmp_path / "tpe-a")] == [t["fast"] for t in trials_of(tmp_path / "tpe-b")]


def test_a_broken_constraint_prunes_the_trial_and_it_never_ranks(study_args, tmp_path, capsys):
    main([*study_args("constrained", *GRID, "--sampler", "grid", "--jobs", "1", "--constraint", "trades>=12")])

    trials = trials_of(tmp_path / "constrained")
    assert {t["state"] for t in trials} == {"COMPLETE", "PRUNED"}
    assert all(int(t["trade_count"]) >= 12 for t in trials if t["state"] == "COMPLETE")
    assert all("constraint trade_count>=12 broken" in t["pruned"] for t in trials
               if t["state"] == "PRUNED" and t["trade_count"])


def test_a_point_the_strategy_refuses_is_pruned_not_fatal(study_args, tmp_path, capsys):
    status = main([*study_args("refused", "--param", "fast=10:30:20", "--param", "slow=20", "--sampler", "grid",
                               "--jobs", "1")])

    trials = {t["fast"]: t for t in trials_of(tmp_path / "refused")}
    assert status == 0
    assert trials["30"]["state"] == "PRUNED" and trials["30"]["pruned"].startswith("invalid:")
    assert trials["10"]["state"] == "COMPLETE"


def test_every_study_is_pruned_means_exit_status_1(study_args, capsys):
    status = main([*study_args("none", *GRID, "--sampler", "grid", "--jobs", "1", "--constraint", "trades>=10000")])

    assert status == 1
    assert "no trial ranked" in capsys.readouterr().out
