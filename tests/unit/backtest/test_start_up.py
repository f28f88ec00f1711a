"""A backtest starts in about a second: the venue (ccxt) and report (plotly) libraries load only when used."""

import subprocess
import sys

HEAVY = ("ccxt", "plotly", "optuna", "aiohttp")


def test_the_backtest_command_and_the_services_load_no_venue_or_report_library() -> None:
    code = ("import sys, tools.backtest.command, services.execution.bootstrap, services.data.bootstrap; "
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"imported at start-up: {loaded}"
