"""``tradebus download`` with real ccxt against the local Binance emulator (no broker, no mocks).

The bars are real: the EURUSD hourly series of ``tests/fixtures/eurusd-2017-2018-hourly.csv`` (backtesting.py's
sample, 5000 rows with its weekend gaps), served relabelled as BTC/USDT 1h klines.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from tests.emulators.binance import BinanceEmulator
from tests.paths import ROOT, fixture_file
from tools.cli import main
from tools.errors import ToolError
from tools.market.bars_csv import HEADER, format_time
from tools.market.download import DownloadRequest, Retry, download
from tools.market.progress import LineProgress

HOUR = 3_600_000
DAY = 24 * HOUR
Row = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]


def _source_rows() -> list[Row]:
    with fixture_file("eurusd-2017-2018-hourly.csv").open(newline="") as file:
        return [(round(datetime.fromisoformat(r["Datetime"]).replace(tzinfo=timezone.utc).timestamp() * 1000),
                 *(Decimal(r[k]) for k in ("Open", "High", "Low", "Close", "Volume")))  # type: ignore[misc]
                for r in csv.DictReader(file)]


SOURCE = _source_rows()
START, END = SOURCE[0][0], SOURCE[-1][0] + HOUR


def written_rows(path: Path) -> list[Row]:
    with path.open(newline="") as file:
        lines = list(csv.reader(file))
    assert lines[0] == HEADER.split(",")
    return [(round(datetime.fromisoformat(t).timestamp() * 1000), *map(Decimal, v)) for t, *v in lines[1:]]


def quiet(label: str) -> LineProgress:
    return LineProgress(io.StringIO(), label, every=10)


def request(venue: BinanceEmulator, out: Path, **overrides: object) -> DownloadRequest:
    values: dict[str, object] = dict(exchange="binance", symbol="BTC/USDT", timeframe="1h", since_ms=START,
                                     until_ms=END, out=out, endpoint=venue.rest_url, limit=1000,
                                     retry=Retry(attempts=3, first_wait_s=0.01, max_wait_s=0.05))
    return DownloadRequest(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.fixture
async def venue() -> BinanceEmulator:
    async with BinanceEmulator() as emulator:
        emulator.load_klines("BTC/USDT", "1h", SOURCE)
        yield emulator


@pytest.fixture
def served_venue() -> Iterator[BinanceEmulator]:
    """The emulator on its own event loop in a thread, so the synchronous CLI can reach it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    emulator = BinanceEmulator()
    emulator.load_klines("BTC/USDT", "1h", SOURCE)
    asyncio.run_coroutine_threadsafe(emulator.start(), loop).result(5)
    yield emulator
    asyncio.run_coroutine_threadsafe(emulator.stop(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture
def standalone_venue(tmp_path: Path) -> Iterator[str]:
    """The emulator as its own process (``python -m tests.emulators.binance``); yield its URL."""
    ready = tmp_path / "venue.ready"
    process = subprocess.Popen([sys.executable, "-m", "tests.emulators.binance", "--port", "0", "--ready-file",
                                str(ready)], cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 8
    while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # polls for the ready file the emulator writes once it serves
    assert ready.exists(), "the emulator process did not start"
    yield ready.read_text().strip()
    process.terminate()
    process.wait(5)


# -- the download ------------------------------------------------------------------------------------------------
async def test_five_thousand_bars_over_several_pages_equal_the_source_rows(venue: BinanceEmulator,
                                                                          tmp_path: Path) -> None:
    result = await download(request(venue, tmp_path / "bars.csv"), progress=quiet)

    assert written_rows(result.path) == SOURCE
    assert result.written == len(SOURCE) and (result.first_ms, result.last_ms) == (START, SOURCE[-1][0])
    assert venue.requests_to("/api/v3/klines") == 5


async def test_resuming_after_a_crash_with_a_torn_last_line_gives_the_file_of_one_full_run(
        venue: BinanceEmulator, tmp_path: Path) -> None:
    full = (await download(request(venue, tmp_path / "full.csv"), progress=quiet)).path
    partial = tmp_path / "partial.csv"
    await download(request(venue, partial, until_ms=SOURCE[2345][0], limit=700), progress=quiet)
    with partial.open("a") as file:  # the crash: half of the next line, no newline
        file.write(full.read_text().splitlines()[2346][:15])

    result = await download(request(venue, partial, limit=700), progress=quiet)

    assert partial.read_bytes() == full.read_bytes()
    assert result.written == len(SOURCE) - 2345


async def test_a_file_that_starts_after_since_is_only_extended_forward(venue: BinanceEmulator,
                                                                       tmp_path: Path) -> None:
    out = tmp_path / "bars.csv"
    await download(request(venue, out, since_ms=SOURCE[100][0], until_ms=SOURCE[200][0]), progress=quiet)

    result = await download(request(venue, out), progress=quiet)

    assert written_rows(out) == SOURCE[100:]
    assert result.notes and "only extending it forward" in result.notes[0]

    again = await download(request(venue, out), progress=quiet)
    assert again.written == 0 and again.notes == result.notes


async def test_a_file_that_starts_where_the_venue_history_does_needs_no_note(venue: BinanceEmulator,
                                                                            tmp_path: Path) -> None:
    early = request(venue, tmp_path / "bars.csv", since_ms=START - 9 * HOUR)  # before the first bar there is
    await download(early, progress=quiet)

    again = await download(early, progress=quiet)

    assert (again.written, again.notes) == (0, ())
    assert written_rows(again.path) == SOURCE


async def test_a_503_mid_way_is_retried(venue: BinanceEmulator, tmp_path: Path) -> None:
    class FailAfterFirstPage(LineProgress):
        def page(self, bars: int, last_ms: int) -> None:
            if self._pages == 0:
                venue.fail_requests("/api/v3/klines", status=503, count=2)
            super().page(bars, last_ms)

    result = await download(request(venue, tmp_path / "bars.csv"),
                            progress=lambda label: FailAfterFirstPage(io.StringIO(), label, 10))

    assert written_rows(result.path) == SOURCE
    assert venue.requests_to("/api/v3/klines") == 5 + 2


async def test_throttling_is_waited_out(tmp_path: Path) -> None:
    minute = 1_700_000_040_000 // 60_000 * 60_000
    ticks = itertools.count(minute, 10_000)  # each request moves the venue's clock 10 s: 6 requests a minute
    async with BinanceEmulator(clock=lambda: next(ticks)) as venue:
        venue.load_klines("BTC/USDT", "1h", SOURCE)
        venue.limit_request_weight(24)  # a minute allows the markets (weight 20) and two pages (2 each)
        retry = Retry(attempts=8, first_wait_s=0.01, max_wait_s=0.01)
        result = await download(request(venue, tmp_path / "bars.csv", retry=retry), progress=quiet)

    assert written_rows(result.path) == SOURCE
    assert venue.requests_to("/api/v3/klines") > 5  # some pages were answered 429 and asked again


async def test_failures_beyond_the_retries_end_in_one_clear_error(venue: BinanceEmulator, tmp_path: Path) -> None:
    venue.fail_requests("/api/v3/klines", status=503, count=10)

    with pytest.raises(ToolError, match=r"^fetching bars from 2017-04-19T09:00:00Z failed 4 times; last: "):
        await download(request(venue, tmp_path / "bars.csv"), progress=quiet)


async def test_a_bar_still_open_by_the_clock_is_left_out(tmp_path: Path) -> None:
    today = int(datetime.now(timezone.utc).timestamp() * 1000) // DAY * DAY
    daily = [(today - (4 - i) * DAY, *row[1:]) for i, row in enumerate(SOURCE[:5])]  # relabelled as daily bars
    async with BinanceEmulator() as venue:
        venue.load_klines("BTC/USDT", "1d", daily)
        result = await download(request(venue, tmp_path / "bars.csv", timeframe="1d", since_ms=daily[0][0],
                                        until_ms=None), progress=quiet)

    assert written_rows(result.path) == daily[:4]


# -- the command -------------------------------------------------------------------------------------------------
def cli(served: BinanceEmulator, out: Path, *extra: str) -> list[str]:
    return ["download", "--exchange", "binance", "--symbol", "BTC/USDT", "--timeframe", "1h", "--since",
            "2017-04-19", "--until", format_time(END), "--endpoint", served.rest_url, "--out", str(out), *extra]


def test_the_command_writes_a_file_the_backtester_runs_on(served_venue: BinanceEmulator, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data" / "binance-BTC-USDT-1h.csv"

    assert main(cli(served_venue, out)) == 0
    assert f"5000 new bars; {out} holds 2017-04-19T09:00:00Z .. 2018-02-07T15:00:00Z" in capsys.readouterr().out

    assert main(["backtest", "--data", str(out), "--symbol", "BTC/USDT", "--timeframe", "1h", "--strategy",
                 "sma_cross", "--quantity", "1", "--out", str(tmp_path / "bt"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bars"] == 5000 and report["fills"] > 0


def test_an_unknown_symbol_is_one_line_and_exit_1_from_the_command_against_the_emulator_process(
        standalone_venue: str, tmp_path: Path) -> None:
    argv = ["download", "--exchange", "binance", "--symbol", "BTC/USDX", "--since", "2024-01-01", "--endpoint",
            standalone_venue, "--out", str(tmp_path / "bars.csv")]

    done = subprocess.run([sys.executable, "-m", "tools.cli", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)

    assert done.returncode == 1
    assert done.stderr == "tradebus download: error: unknown symbol BTC/USDX on binance; e.g. BTC/USDT, ETH/USDT\n"
    assert not (tmp_path / "bars.csv").exists()


@pytest.mark.parametrize("option, value", [("--since", "2024-13-01"), ("--until", "yesterday")])
def test_a_bad_date_is_one_line_naming_the_option_and_the_form(option: str, value: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["download", "--exchange", "binance", "--symbol", "BTC/USDT", "--since", "2024-01-01", option, value]

    assert main(argv) == 1
    assert capsys.readouterr().err == (f"tradebus download: error: {option} {value!r}: expected a date or ISO "
                                       "datetime in UTC, e.g. 2024-01-01 or 2024-01-01T12:30\n")


def test_an_unknown_timeframe_names_the_ones_there_are(served_venue: BinanceEmulator, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*cli(served_venue, tmp_path / "bars.csv"), "--timeframe", "7m"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tradebus download: error: unknown timeframe 7m on binance; one of 1s, 1m, 3m,")
    assert err.count("\n") == 1


def test_parquet_without_pyarrow_says_how_to_get_it(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pyarrow is installed")
    argv = ["download", "--exchange", "binance", "--symbol", "BTC/USDT", "--since", "2024-01-01", "--format",
            "parquet"]

    assert main(argv) == 1
    assert capsys.readouterr().err == "tradebus download: error: --format parquet needs pyarrow: pip install pyarrow\n"


def test_ctrl_c_mid_download_leaves_whole_bars_and_the_next_run_completes_the_file(
        served_venue: BinanceEmulator, tmp_path: Path) -> None:
    out = tmp_path / "bars.csv"
    served_venue.delay_responses("/api/v3/klines", 0.05)
    argv = [sys.executable, "-m", "tools.cli", *cli(served_venue, out, "--limit", "100")]
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 8
    while (not out.exists() or out.stat().st_size < 20_000) and time.monotonic() < deadline:
        time.sleep(0.02)  # waits on the file growing: the signal is what the test is about, not a timing
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)

    assert process.returncode == 130
    assert "interrupted: the bars so far are in" in err and "Traceback" not in err
    kept = written_rows(out)
    assert 0 < len(kept) < len(SOURCE) and kept == SOURCE[:len(kept)]

    assert main(cli(served_venue, out)) == 0
    assert written_rows(out) == SOURCE


def test_parquet_is_the_same_bars_converted_from_the_csv(served_venue: BinanceEmulator, tmp_path: Path) -> None:
    parquet = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "bars.parquet"

    assert main(cli(served_venue, out, "--format", "parquet")) == 0

    table = parquet.read_table(out)
    assert table.num_rows == len(SOURCE) and table.column_names == HEADER.split(",")
    assert written_rows(out.with_suffix(".csv")) == SOURCE
