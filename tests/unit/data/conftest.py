"""Fixtures of the data-service tests: small CSV files written per test, and a collector of bad rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from services.data.domain import BadRow


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write lines (header first) to a CSV file of the test's own and return its path."""

    def write(*lines: str, name: str = "bars.csv") -> Path:
        path = tmp_path / name
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        return path

    return write


@pytest.fixture
def reported() -> list[BadRow]:
    """Collect the bad rows a feed reports."""
    return []
