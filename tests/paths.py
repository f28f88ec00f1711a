"""Where the tests find their data files: the market files of ``tests/fixtures`` and the shipped ORCL sample."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
ORCL_SAMPLE = ROOT / "services" / "data" / "samples" / "orcl-1995-2014.csv"
"""ORCL daily bars 1995-2014, the reference data set of the parity tests; shipped with the data service."""


def fixture_file(name: str) -> Path:
    """Return the path of a market-data file in ``tests/fixtures``."""
    return FIXTURES / name
