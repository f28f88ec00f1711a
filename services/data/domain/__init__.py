"""Pure logic of the data service: column mapping, row checks, message building, merging, synthetic data, history.

Nothing here opens a file or a socket or reads a clock: adapters hand it lines and values.
"""

from .columns import (
    BarColumns,
    ColumnError,
    ColumnMapping,
    TickColumns,
    TimeColumns,
    resolve_bar_columns,
    resolve_tick_columns,
)
from .history import AmbiguousTimeframe, BarArchive, BarHistory
from .merge import merge_in_time_order
from .messages import new_bar, new_trade, replay_id, stream_id_base
from .rows import BarRows, TradeRows, read_header, split_row
from .synthetic import random_book, random_walk_bars, random_walk_trades, timeframe_label
from .timestamps import make_time_parser
from .validation import (
    BadDataError,
    BadRow,
    BadRowGate,
    BadRowPolicy,
    BadRowReport,
    bar_problem,
    order_problem,
    tick_problem,
)

__all__ = [
    "AmbiguousTimeframe", "BadDataError", "BadRow", "BadRowGate", "BadRowPolicy", "BadRowReport", "BarColumns",
    "BarArchive", "BarHistory", "BarRows", "ColumnError", "ColumnMapping", "TickColumns", "TimeColumns", "TradeRows",
    "bar_problem", "make_time_parser", "merge_in_time_order", "new_bar", "new_trade", "order_problem",
    "random_book", "random_walk_bars", "random_walk_trades", "read_header", "replay_id", "resolve_bar_columns",
    "resolve_tick_columns", "split_row", "stream_id_base", "tick_problem", "timeframe_label",
]
