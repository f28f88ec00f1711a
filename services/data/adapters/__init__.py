"""The data service's adapters to the outside: CSV replay, synthetic feeds, the ccxt live feed, replay pacing."""

from .backoff import backoff_delay
from .csv_feeds import CsvBarFeed, CsvTickFeed, iter_bars, log_bad_row, time_zone, write_synthetic_csv
from .feeds import Feed, MarketMessage, MergedFeed, MessagesFeed, ReplayFeed
from .pacing import Pacer, paced, replay_delay
from .synthetic_feeds import SyntheticBarFeed, SyntheticBookFeed, SyntheticTickFeed

__all__ = [
    "CsvBarFeed", "CsvTickFeed", "Feed", "MarketMessage", "MergedFeed", "MessagesFeed", "Pacer", "ReplayFeed",
    "SyntheticBarFeed", "SyntheticBookFeed", "SyntheticTickFeed", "backoff_delay", "iter_bars", "log_bad_row",
    "paced", "replay_delay", "time_zone", "write_synthetic_csv",
]
