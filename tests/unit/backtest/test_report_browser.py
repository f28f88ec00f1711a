"""The HTML report renders in a real headless browser (Debian's chromium): every figure drawn, no console output.

The screenshot in README (``docs/backtest-report.png``) is made by the same command as ``screenshot`` here::

    .venv/bin/tradebus backtest --data services/data/samples/orcl-1995-2014.csv --strategy sma_cross \\
        --param fast=10 --param slow=30 --commission 0.001 --report --out var/backtest/orcl
    chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=10000 \\
        --window-size=1400,2400 --screenshot=docs/backtest-report.png var/backtest/orcl/report.html
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.paths import ORCL_SAMPLE as ORCL
from tools.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000")
CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\] (.*)")


def chromium(profile: Path, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless chromium on ``page`` with its own profile, console messages logged to stderr."""
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                           *args, page.resolve().as_uri()], capture_output=True, text=True, timeout=60, check=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    code = main(["backtest", "--data", str(ORCL), "--strategy", "sma_cross", "--param", "fast=10",
                 "--param", "slow=30", "--commission", "0.001", "--report", "--out", str(out)])
    assert code == 0
    return out / "report.html"


def test_the_report_renders_every_figure_without_console_messages(report: Path, tmp_path: Path) -> None:
    run = chromium(tmp_path / "profile", report, "--dump-dom")

    assert CONSOLE.findall(run.stderr) == []
    assert run.stdout.count('class="plot-container plotly"') == 4  # equity, drawdown, ORCL price, months
    assert run.stdout.count('class="main-svg"') >= 8
    assert "Trades (97)" in run.stdout


def test_a_screenshot_of_the_report_is_kept(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "backtest-report.png"

    chromium(tmp_path / "profile", report, "--window-size=1400,2400", f"--screenshot={shot}")

    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_the_console_check_catches_a_page_error(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefinedFunction();</script></body></html>")

    run = chromium(tmp_path / "profile", page, "--dump-dom")

    assert any("Uncaught ReferenceError" in line for line in CONSOLE.findall(run.stderr))
