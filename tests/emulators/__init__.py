"""Local emulators of the venues tradebus trades on, for tests that drive the real ccxt client."""
