"""``tradebus download``: fetch historical OHLCV bars from an exchange with ccxt into a CSV the backtester reads.

Bars come from ``fetch_ohlcv`` a page at a time (``since`` moves past the newest bar of each page), through the one
ccxt client ``shared.venues.open_exchange`` builds (rate-limited by ccxt; ``--endpoint`` sends it to a proxy or an
emulator). Only closed bars are kept: a bar whose interval has not ended by the exchange client's clock at the
start of the run is left for the next run. Throttling and network errors are retried with a doubling wait, a
bounded number of times. The file layout and the way it is written are in ``tools.market.bars_csv``.

Resume rule: an existing file is extended from its last bar (the next bar is the one after it) up to ``--until``,
whatever ``--since`` says, so the file never has a duplicate or a gap at the seam; ``--since`` only places the start
of a new file. When the file starts after ``--since``, the command says so and still only extends forward (move the
file away to download the earlier bars).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import importlib.util
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import ccxt.pro
from ccxt.base.errors import BaseError, DDoSProtection, NetworkError

from shared.venues import VenueSettings, open_exchange
from tools.errors import ToolError

from .bars_csv import BarFile, format_time
from .progress import DownloadProgress, progress_on

T = TypeVar("T")
DEFAULT_RETRIES = 5
ProgressFactory = Callable[[str], DownloadProgress]


@dataclass(frozen=True, slots=True)
class Retry:
    """How often a throttled or failed request is tried again: ``attempts`` retries, waiting ``first_wait_s``,
    doubled after each failure (or the venue's ``Retry-After`` when it throttles), at most ``max_wait_s``."""

    attempts: int = DEFAULT_RETRIES
    first_wait_s: float = 1.0
    max_wait_s: float = 60.0


@dataclass(frozen=True, slots=True)
class DownloadRequest:
    """What to download: the bars of ``symbol`` on ``exchange`` opening in [``since_ms``, ``until_ms``) into
    ``out``; ``until_ms`` ``None`` means up to now; ``limit`` is the bars per request (``None``: ccxt's default)."""

    exchange: str
    symbol: str
    timeframe: str
    since_ms: int
    out: Path
    until_ms: int | None = None
    endpoint: str | None = None
    limit: int | None = None
    retry: Retry = Retry()


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """What a download did: ``written`` bars appended to ``path``, which now holds bars from ``first_ms`` to
    ``last_ms`` (``None``: none); ``notes`` are the remarks it printed (a file that starts after ``--since``)."""

    path: Path
    written: int
    first_ms: int | None
    last_ms: int | None
    notes: tuple[str, ...] = ()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exchange", required=True, help="ccxt exchange id (binance, kraken, ...)")
    parser.add_argument("--symbol", required=True, help="unified market symbol, e.g. BTC/USDT")
    parser.add_argument("--timeframe", default="1m", help="bar length as the exchange names it (default 1m)")
    parser.add_argument("--since", required=True, help="first bar: a date or ISO datetime, UTC (2024-01-01)")
    parser.add_argument("--until", help="end, exclusive: a date or ISO datetime, UTC (default: now)")
    parser.add_argument("--out", type=Path, help="output file (default data/<exchange>-<BASE>-<QUOTE>-<timeframe>"
                        ".csv); an existing one is extended from its last bar")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv",
                        help="csv (default), or parquet: the CSV is kept as the resume point and converted "
                        "(needs pyarrow)")
    parser.add_argument("--endpoint", help="send every request to this http://host:port (a proxy, an emulator)")
    parser.add_argument("--limit", type=_positive, help="bars per request (default: the exchange's ccxt default)")
    parser.add_argument("--retries", type=_positive, default=DEFAULT_RETRIES,
                        help=f"retries of a throttled or failed request (default {DEFAULT_RETRIES})")


def run(args: argparse.Namespace) -> int:
    request = request_from(args)
    if args.format == "parquet":
        _require_pyarrow()
    try:
        result = asyncio.run(download(request))
    except KeyboardInterrupt:
        print(f"interrupted: the bars so far are in {request.out}; run the same command again to resume",
              file=sys.stderr)
        raise
    for note in result.notes:
        print(note, file=sys.stderr)
    span = (f"{format_time(result.first_ms)} .. {format_time(result.last_ms)}"
            if result.first_ms is not None and result.last_ms is not None else "no bars")
    print(f"{result.written} new bars; {result.path} holds {span}")
    if args.format == "parquet":
        print(f"parquet: {write_parquet(result.path, parquet_out(args.out, result.path))}")
    return 0


def request_from(args: argparse.Namespace) -> DownloadRequest:
    """Return the download the arguments describe; raise ``ToolError`` for a bad ``--since`` or ``--until``."""
    since = parse_moment("--since", args.since)
    until = parse_moment("--until", args.until) if args.until else None
    if until is not None and until <= since:
        raise ToolError(f"--until {args.until} is not after --since {args.since}")
    out = args.out or default_out(args.exchange, args.symbol, args.timeframe)
    if args.format == "parquet":
        out = out.with_suffix(".csv")  # the CSV stays the resume point; the Parquet file is rebuilt from it
    return DownloadRequest(exchange=args.exchange, symbol=args.symbol, timeframe=args.timeframe, since_ms=since,
                           until_ms=until, out=out, endpoint=args.endpoint, limit=args.limit,
                           retry=Retry(attempts=args.retries))


def parse_moment(option: str, text: str) -> int:
    """Return epoch milliseconds of a date or ISO datetime (naive: UTC); raise ``ToolError`` naming ``option``."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ToolError(f"{option} {text!r}: expected a date or ISO datetime in UTC, e.g. 2024-01-01 or "
                        "2024-01-01T12:30") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return round(moment.timestamp() * 1000)


def default_out(exchange: str, symbol: str, timeframe: str) -> Path:
    """Return ``data/<exchange>-<symbol with / and : as ->-<timeframe>.csv``: ``data/binance-BTC-USDT-1m.csv``."""
    return Path("data") / f"{exchange}-{symbol.upper().replace('/', '-').replace(':', '-')}-{timeframe}.csv"


async def download(request: DownloadRequest, *, progress: ProgressFactory | None = None) -> DownloadResult:
    """Append the closed bars ``request`` asks for to its file, a page at a time; see the module for the rules."""
    exchange = _connect(request)
    try:
        await _retrying(request.retry, exchange, "loading the markets", exchange.load_markets)
        _check_market(exchange, request)
        step = exchange.parse_timeframe(request.timeframe) * 1000
        now = exchange.milliseconds()
        end = min(request.until_ms, now) if request.until_ms is not None else now
        with BarFile.open(request.out) as file:
            notes = await _notes(exchange, file, request)
            cursor = file.last_ms + step if file.last_ms is not None else request.since_ms
            label = f"{request.exchange} {request.symbol} {request.timeframe}"
            shown = (progress or (lambda text: progress_on(label=text)))(label)
            shown.start(max(0, -(-(end - cursor) // step)), cursor)
            try:
                written = await _pages(exchange, request, file, cursor, end, now, step, shown)
            finally:
                shown.finish()
            return DownloadResult(request.out, written, file.first_ms, file.last_ms, notes)
    except BaseError as error:
        raise ToolError(f"{request.exchange}: {_one_line(error)}") from None
    finally:
        await exchange.close()


async def _pages(exchange: Any, request: DownloadRequest, file: BarFile, cursor: int, end: int, now: int,
                 step: int, shown: DownloadProgress) -> int:
    written = 0
    while cursor < end:
        page = await _retrying(request.retry, exchange, f"fetching bars from {format_time(cursor)}",
                               exchange.fetch_ohlcv, request.symbol, request.timeframe, since=cursor,
                               limit=request.limit, params={"until": end - 1})
        bars = [bar for bar in page if cursor <= bar[0] < end and bar[0] + step <= now]
        if not bars:
            break
        file.append(bars)
        written += len(bars)
        shown.page(len(bars), bars[-1][0])
        cursor = bars[-1][0] + step
    return written


async def _retrying(retry: Retry, exchange: Any, what: str, call: Callable[..., Awaitable[T]], *args: Any,
                    **kwargs: Any) -> T:
    wait = retry.first_wait_s
    for attempt in range(retry.attempts + 1):
        try:
            return await call(*args, **kwargs)
        except NetworkError as error:  # RateLimitExceeded and DDoSProtection are NetworkErrors too
            if attempt == retry.attempts:
                raise ToolError(f"{what} failed {attempt + 1} times; last: {type(error).__name__}: "
                                f"{_one_line(error)}") from None
            await asyncio.sleep(min(max(wait, _retry_after(exchange, error)), retry.max_wait_s))
            wait = min(wait * 2, retry.max_wait_s)
    raise AssertionError("unreachable")


def _retry_after(exchange: Any, error: NetworkError) -> float:
    if not isinstance(error, DDoSProtection):
        return 0.0
    headers = {str(k).lower(): v for k, v in (getattr(exchange, "last_response_headers", None) or {}).items()}
    try:
        return float(headers.get("retry-after", 0))
    except (TypeError, ValueError):
        return 0.0


def _connect(request: DownloadRequest) -> Any:
    if request.exchange not in ccxt.pro.exchanges:
        raise ToolError(f"unknown exchange {request.exchange}; e.g. {_examples(request.exchange, ccxt.pro.exchanges)}")
    try:
        return open_exchange(VenueSettings(exchange=request.exchange, endpoint=request.endpoint))
    except ValueError as error:
        raise ToolError(_one_line(error)) from None


def _check_market(exchange: Any, request: DownloadRequest) -> None:
    if not exchange.has.get("fetchOHLCV"):
        raise ToolError(f"{request.exchange} has no OHLCV history in ccxt")
    timeframes = list(exchange.timeframes or {})
    if timeframes and request.timeframe not in timeframes:
        raise ToolError(f"unknown timeframe {request.timeframe} on {request.exchange}; one of {', '.join(timeframes)}")
    if request.symbol not in exchange.markets:
        raise ToolError(f"unknown symbol {request.symbol} on {request.exchange}; "
                        f"e.g. {_examples(request.symbol, list(exchange.markets))}")


async def _notes(exchange: Any, file: BarFile, request: DownloadRequest) -> tuple[str, ...]:
    if file.first_ms is None or file.first_ms <= request.since_ms:
        return ()
    earlier = await _retrying(request.retry, exchange, "looking for bars before the file", exchange.fetch_ohlcv,
                              request.symbol, request.timeframe, since=request.since_ms, limit=1,
                              params={"until": file.first_ms - 1})
    if not any(request.since_ms <= bar[0] < file.first_ms for bar in earlier):
        return ()  # the venue has nothing earlier: the file already starts where its history does
    return (f"{file.path} starts at {format_time(file.first_ms)}, after --since {format_time(request.since_ms)}: "
            "only extending it forward (move the file away to download the earlier bars)",)


def _examples(wrong: str, names: list[str]) -> str:
    close = difflib.get_close_matches(wrong, names, n=3, cutoff=0.6)
    return ", ".join(close or sorted(names)[:3])


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _require_pyarrow() -> None:
    if importlib.util.find_spec("pyarrow") is None:
        raise ToolError("--format parquet needs pyarrow: pip install pyarrow")


def parquet_out(out: Path | None, csv_path: Path) -> Path:
    """Return where ``--format parquet`` writes: ``--out`` unless it names the CSV, else the CSV's ``.parquet``."""
    return out if out is not None and out.suffix != ".csv" else csv_path.with_suffix(".parquet")


def write_parquet(csv_path: Path, target: Path) -> Path:
    """Write the bars of ``csv_path`` to ``target`` as Parquet (``Datetime`` a UTC timestamp); return ``target``."""
    from pyarrow import csv, parquet  # type: ignore[import-not-found]

    parquet.write_table(csv.read_csv(csv_path), target)
    return target


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
