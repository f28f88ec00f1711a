"""Run the Binance emulator as a process: ``python -m tests.emulators.binance --prices FILE.csv --speed 5``.

With ``--prices`` it plays each bar of a CSV (``Date[,Time],Open,High,Low,Close[,...],Volume``) as four prints
(open, the nearer extreme, the other extreme, close) quoted one tick either side, then closes the bar's kline.
Bar ``i`` is stamped ``start + i * interval`` (``start`` = now, floored to the interval), so the history replays as
a fast market at ``--speed`` bars per second. Prices are multiplied by ``--price-scale`` and rounded to the tick;
volumes by ``--volume-scale`` (a share count is no BTC amount).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import signal
import sys
from collections.abc import Iterator
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path

from .book import TIMEFRAME_MS
from .emulator import BinanceEmulator
from .matching import MarketSpec


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.emulators.binance", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--balances", default="USDT=10000,BTC=0", help="ASSET=AMOUNT,...")
    parser.add_argument("--prices", type=Path, help="CSV of bars to play; without it the market is quiet")
    parser.add_argument("--symbol", default="BTC/USDT")
    parser.add_argument("--speed", type=float, default=1.0, help="bars per second")
    parser.add_argument("--interval", default="1m", choices=sorted(TIMEFRAME_MS), help="kline interval of a bar")
    parser.add_argument("--price-scale", type=Decimal, default=Decimal("1"))
    parser.add_argument("--volume-scale", type=Decimal, default=Decimal("0.000001"))
    parser.add_argument("--ready-file", type=Path, help="written with the URL once serving")
    return parser.parse_args(argv)


def parse_balances(text: str) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
    return {asset.strip().upper(): amount.strip() for asset, amount in pairs}


def read_bars(path: Path) -> Iterator[tuple[Decimal, Decimal, Decimal, Decimal, Decimal]]:
    """Yield ``(open, high, low, close, volume)`` per row; the column names decide, not their positions."""
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            yield tuple(Decimal(row[name]) for name in ("Open", "High", "Low", "Close", "Volume"))  # type: ignore


async def play(venue: BinanceEmulator, args: argparse.Namespace, stopping: asyncio.Event) -> None:
    """Play the price file once, then leave the market quiet."""
    market: MarketSpec = venue.engine.markets[args.symbol]
    interval = TIMEFRAME_MS[args.interval]
    start = venue.now() - venue.now() % interval
    pause = 1.0 / args.speed / 4

    def price(value: Decimal) -> Decimal:
        scaled = (value * args.price_scale).quantize(market.tick_size, rounding=ROUND_HALF_UP)
        return max(scaled, market.tick_size)

    for index, (o, h, low, c, v) in enumerate(read_bars(args.prices)):
        open_time = start + index * interval
        o, h, low, c = price(o), price(h), price(low), price(c)
        volume = max((v * args.volume_scale).quantize(market.step_size, rounding=ROUND_DOWN), market.min_qty * 4)
        qty = (volume / 4).quantize(market.step_size, rounding=ROUND_DOWN) or market.min_qty
        path = (o, low, h, c) if c >= o else (o, h, low, c)
        for step, print_price in enumerate(path):
            if stopping.is_set():
                return
            await venue.quote(args.symbol, max(print_price - market.tick_size, market.tick_size),
                              print_price + market.tick_size, qty, qty)
            await venue.trade(args.symbol, print_price, qty, side="buy" if step % 2 else "sell",
                              ts=open_time + step * interval // 4)
            await asyncio.sleep(pause)
        await venue.close_kline(args.symbol, args.interval, (open_time, o, h, low, c, qty * 4))


async def serve(args: argparse.Namespace) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with BinanceEmulator(balances=parse_balances(args.balances), host=args.host, port=args.port) as venue:
        if args.ready_file:
            args.ready_file.write_text(venue.rest_url + "\n")
        print(f"listening on {venue.rest_url}", flush=True)
        player = asyncio.create_task(play(venue, args, stopping)) if args.prices else None
        await stopping.wait()
        if player is not None:
            player.cancel()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
