"""Where the data-service tests find the real market files."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def fixture_file(name: str) -> Path:
    """Return the path of a market-data file in ``tests/fixtures``."""
    return FIXTURES / name
