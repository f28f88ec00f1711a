"""Market-data tools: ``tradebus download`` (historical OHLCV bars from an exchange into a backtest-ready CSV)."""
