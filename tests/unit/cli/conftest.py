"""Fixtures of the command-line tests: data files of every awkward shape, written from the ORCL sample."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.paths import ORCL_SAMPLE
from tools.cli import main

ORCL_LINES = ORCL_SAMPLE.read_text().splitlines()
HEADER, ROWS = ORCL_LINES[0], ORCL_LINES[1:301]


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, list[str]], Path]:
    def write(name: str, lines: list[str]) -> Path:
        path = tmp_path / name
        path.write_text("".join(line + "\n" for line in lines))
        return path

    return write


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``tradebus`` and return (exit status, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        if argv[0] == "backtest" and "--out" not in argv:
            argv = (*argv, "--out", str(tmp_path / "out"))
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def one_line(err: str) -> str:
    """Return the one line of ``err``, failing if there are more, or a traceback."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]
