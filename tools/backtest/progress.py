"""A progress bar for long backtests (bars/s, time left) on a terminal's stderr; nothing otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from .engine import Progress as ProgressCallback

_CHUNK = 1 << 20


def estimate_bars(paths: Sequence[Path]) -> int | None:
    """Return the number of data rows in ``paths`` (lines minus one header each), or ``None`` if unreadable."""
    total = 0
    try:
        for path in paths:
            with path.open("rb") as handle:
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(_CHUNK), b""))
            total += max(lines - 1, 0)
    except OSError:
        return None
    return total or None


@contextmanager
def progress_bar(paths: Sequence[Path], stream: IO[str] | None = None) -> Iterator[ProgressCallback | None]:
    """Yield a progress callback for ``run_backtest`` drawing a bar on ``stream`` (stderr), or ``None`` when
    ``stream`` is not a terminal (logs and pipes stay quiet)."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield None
        return
    columns = (TextColumn("backtest"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.completed:,.0f}/{task.total:,.0f} bars"), TextColumn("{task.fields[rate]} bars/s"),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(file=stream), transient=True) as bar:
        task = bar.add_task("backtest", total=estimate_bars(paths), rate="-")

        def advance(count: int) -> None:
            speed = bar.tasks[0].speed
            bar.update(task, completed=count, rate=f"{speed:,.0f}" if speed else "-")

        yield advance
