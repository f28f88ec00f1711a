"""How a download shows its progress on stderr: a rich progress bar on a terminal, else a short line per N pages."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from .bars_csv import format_time


class DownloadProgress(Protocol):
    """What the download reports: the bars it expects, each page written, and the end."""

    def start(self, expected: int, first_ms: int) -> None:
        """Announce ``expected`` bars from ``first_ms`` on."""

    def page(self, bars: int, last_ms: int) -> None:
        """Record a page of ``bars`` bars written, the newest opening at ``last_ms``."""

    def finish(self) -> None:
        """End the display."""


def progress_on(stream: TextIO | None = None, *, label: str, every: int = 10) -> DownloadProgress:
    """Return a rich bar when ``stream`` (default stderr) is a terminal, else lines every ``every`` pages."""
    stream = stream or sys.stderr
    console = Console(file=stream)
    return BarProgress(console, label) if console.is_terminal else LineProgress(stream, label, every)


class BarProgress:
    """A rich progress bar: bars downloaded / expected, the time range so far, the time left."""

    def __init__(self, console: Console, label: str) -> None:
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(bar_width=24), MofNCompleteColumn(),
                                  TextColumn("bars {task.fields[span]}"), TimeRemainingColumn(), console=console)
        self._label, self._first = label, ""
        self._task: TaskID | None = None

    def start(self, expected: int, first_ms: int) -> None:
        self._first = short_time(first_ms)
        self._progress.start()
        self._task = self._progress.add_task(self._label, total=expected, span=f"from {self._first}")

    def page(self, bars: int, last_ms: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, advance=bars, span=f"{self._first} .. {short_time(last_ms)}")

    def finish(self) -> None:
        if self._task is not None:  # the expected count assumed no gaps; the bar ends full
            self._progress.update(self._task, total=self._progress.tasks[0].completed)
        self._progress.stop()


def short_time(ms: int) -> str:
    """Return ``2024-01-01 00:00`` (UTC) for epoch milliseconds."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M")


class LineProgress:
    """One line per ``every`` pages and one at the end: ``binance BTC/USDT 1m: 10000/44640 bars, up to <time>``."""

    def __init__(self, stream: TextIO, label: str, every: int) -> None:
        self._stream, self._label, self._every = stream, label, every
        self._expected = self._done = self._pages = 0
        self._last = ""

    def start(self, expected: int, first_ms: int) -> None:
        self._expected = expected
        print(f"{self._label}: about {expected} bars from {format_time(first_ms)}", file=self._stream, flush=True)

    def page(self, bars: int, last_ms: int) -> None:
        self._done += bars
        self._pages += 1
        self._last = format_time(last_ms)
        if self._pages % self._every == 0:
            self._line()

    def finish(self) -> None:
        if self._pages % self._every:
            self._line()

    def _line(self) -> None:
        print(f"{self._label}: {self._done}/{self._expected} bars, up to {self._last}", file=self._stream, flush=True)
