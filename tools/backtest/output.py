"""Where a backtest's results go: its own folder (trades.csv, equity.csv, report.html), stdout, stderr."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import IO

from rich.console import Console

from .engine import BacktestConfig, BacktestResult
from .report import as_json, run_folder, summary, write_files

RUNS = Path("var/backtest")
"""Each run gets a folder of its own under here (``<UTC timestamp>-<strategy>``) unless ``--out`` names one."""


def present(result: BacktestResult, config: BacktestConfig, *, out: Path | None = None, report: bool = False,
            json_output: bool = False, stdout: IO[str] | None = None, now: datetime | None = None) -> Path:
    """Write the run's files into ``out`` (default: a new folder under ``RUNS``), the HTML report if asked, and
    print the JSON object or the summary table; return the folder."""
    stdout = stdout or sys.stdout
    folder = out or run_folder(RUNS, config.strategy, now)
    trades, equity = write_files(result, folder, config)
    html = None
    if report:
        from .html_report import write_html_report  # plotly loads slowly: only a run that asks for the report

        html = write_html_report(result, config, folder / "report.html")
    if json_output:
        json.dump(as_json(result, config), stdout)
        stdout.write("\n")
        return folder
    console = Console(file=stdout, width=None if stdout.isatty() else 100)
    console.print(summary(result, config))
    console.print(f"\ntrades: {trades}\nequity curve: {equity}" + (f"\nreport: {html}" if html else ""),
                  highlight=False, soft_wrap=True)
    return folder
