"""Parity with the reference engines: the SMA(10/30) crossover on ORCL 1995-2014 (``tests.paths.ORCL_SAMPLE``).

The reference specification, which backtrader 1.9.78 reproduces trade for trade (backtesting.py and
NautilusTrader to the cent): SMA(close, 10) and SMA(close, 30) over the last N closes, the current bar included;
crosses evaluated from the 31st bar on, against the last non-zero difference fast - slow (on 2004-06-29 the two
averages are exactly equal); long only, 100 shares, buy on an up-cross while flat, sell on a down-cross while
long; market orders filled at the next bar's open (a signal on the last bar never fills); commission rate x price
x quantity on every fill; 100,000 cash; the open position marked at the last close.

Result: 97 closed trades, 100 shares open since 2014-11-04 at 38.93, final value 102646.0652 without commission
and 102302.3330 at 0.1 %. Each module holds one layer to it: the strategy's signals, the paper matcher's fills,
the portfolio's ledger, and the backtester (the four services together).
"""
