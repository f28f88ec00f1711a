"""The data service: replays recorded or generated market data (and later live feeds) onto the bus."""
