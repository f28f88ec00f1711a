"""A local Binance spot exchange for tests: REST, market streams and the user-data stream, driven by real ccxt.

    async with BinanceEmulator(balances={"USDT": "10000"}) as venue:
        client = binance_client(venue, timeout=1000)
        await venue.quote("BTC/USDT", "100", "101")
        await client.create_order("BTC/USDT", "market", "buy", 0.1)
"""

from .emulator import BinanceEmulator, binance_client
from .matching import MarketSpec, default_markets

__all__ = ["BinanceEmulator", "MarketSpec", "binance_client", "default_markets"]
