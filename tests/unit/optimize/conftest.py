"""A small real series (the first 1,000 bars of the ORCL sample) and a study folder per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.paths import ORCL_SAMPLE

BARS = 1_000


def orcl_head(path: Path, bars: int) -> Path:
    """Write the header and the first ``bars`` bars of the ORCL sample to ``path``."""
    with ORCL_SAMPLE.open() as source:
        path.write_text("".join(line for _, line in zip(range(bars + 1), source)))
    return path


@pytest.fixture(scope="session")
def small_series(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return orcl_head(tmp_path_factory.mktemp("optimize-data") / "orcl-small.csv", BARS)


@pytest.fixture
def study_args(small_series: Path, tmp_path: Path):
    """Return a function giving the options of a study on the small series, stored and written under tmp_path."""

    def make(name: str, *extra: str) -> list[str]:
        return ["optimize", "--data", str(small_series), "--strategy", "sma_cross", "--study", name,
                "--storage", f"sqlite:///{tmp_path / name}.db", "--out", str(tmp_path / name), *extra]

    return make
