"""Studies shared through PostgreSQL (optuna's RDB storage): workers that join by name, and one that is killed.

Each test gets a throwaway database, dropped afterwards. Workers are real ``tradebus optimize --worker``
processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tests.paths import ORCL_SAMPLE, ROOT
from tools.cli import main
from tools.optimize.study import open_storage

pytestmark = pytest.mark.integration
psycopg = pytest.importorskip("psycopg")
SERVER = os.environ.get("TRADEBUS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
RANDOM = ("--param", "fast=2:30:1", "--param", "slow=20:120:5", "--sampler", "random", "--trials", "10",
          "--seed", "11")
DEADLINE_S = 25


def admin():  # type: ignore[no-untyped-def]
    try:
        connection = psycopg.connect(f"{SERVER}/postgres", connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL does not answer at {SERVER} ({error}); bash .ci/run installs and starts it")
    return connection


@pytest.fixture
def database() -> Iterator[str]:
    """Return the URL of a new, empty database; drop it afterwards."""
    name = f"tradebus_optimize_{uuid.uuid4().hex[:10]}"
    connection = admin()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{SERVER}/{name}"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.close()


def worker(url: str, study: str, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tools.cli", "optimize", "--worker", "--study", study,
                             "--storage", url, *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def results(url: str, study: str) -> dict[int, tuple[str, float | None]]:
    trials = optuna.load_study(study_name=study, storage=open_storage(url)).get_trials()
    return {t.number: (repr(sorted(t.params.items())), t.value) for t in trials
            if not t.user_attrs.get("pruned", "").startswith("surplus")}  # a race for the last trial: not run


def small_series(tmp_path: Path) -> Path:
    path = tmp_path / "orcl-small.csv"
    with ORCL_SAMPLE.open() as source:
        path.write_text("".join(line for _, line in zip(range(1_001), source)))
    return path


def test_two_workers_on_one_postgres_study_give_the_trials_one_worker_gives(database, tmp_path, capsys):
    data = ["--data", str(small_series(tmp_path)), "--strategy", "sma_cross", *RANDOM, "--storage", database]
    assert main(["optimize", *data, "--study", "alone", "--jobs", "1", "--out", str(tmp_path / "alone")]) == 0
    assert main(["optimize", *data, "--study", "shared", "--jobs", "0", "--out", str(tmp_path / "shared")]) == 0

    workers = [worker(database, "shared") for _ in range(2)]
    outputs = [w.communicate(timeout=DEADLINE_S)[0].decode() for w in workers]

    assert [w.returncode for w in workers] == [0, 0], outputs
    assert all("ran" in output for output in outputs)
    assert results(database, "shared") == results(database, "alone")
    assert len(results(database, "alone")) == 10


def test_a_worker_killed_mid_trial_leaves_no_result_and_its_trial_is_redone(database, tmp_path):
    grid = ("--param", "fast=5:20:5", "--param", "slow=30:60:10", "--sampler", "grid")
    assert main(["optimize", "--data", str(ORCL_SAMPLE), "--strategy", "sma_cross", *grid, "--storage", database,
                 "--study", "killed", "--jobs", "0", "--out", str(tmp_path)]) == 0
    storage = open_storage(database)
    doomed = worker(database, "killed", "--heartbeat", "1")
    deadline = time.monotonic() + DEADLINE_S
    study = optuna.load_study(study_name="killed", storage=storage)
    while not [t for t in study.get_trials(states=(TrialState.RUNNING,)) if "point" in t.user_attrs]:
        # wait for the worker's first backtest to start
        assert time.monotonic() < deadline and doomed.poll() is None, "the worker never started a trial"
        time.sleep(0.05)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)

    survivor = worker(database, "killed", "--heartbeat", "1")
    output = survivor.communicate(timeout=DEADLINE_S)[0].decode()

    trials = study.get_trials()
    (failed,) = [t for t in trials if t.state == TrialState.FAIL]
    (redone,) = [t for t in trials if t.system_attrs.get("failed_trial") == failed.number]
    assert survivor.returncode == 0, output
    assert failed.value is None and "metrics" not in failed.user_attrs
    assert redone.state == TrialState.COMPLETE and redone.params == failed.params
    complete = sorted((t.params["fast"], t.params["slow"]) for t in trials if t.state == TrialState.COMPLETE)
    assert complete == sorted((f, s) for f in (5, 10, 15, 20) for s in (30, 40, 50, 60))
