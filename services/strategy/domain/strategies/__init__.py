"""Built-in strategies."""

from .limit_entry import LimitEntry, LimitEntryParams
from .mean_reversion import MeanReversion, MeanReversionParams
from .sma_cross import SmaCross, SmaCrossParams
from .stop_limit_entry import StopLimitEntry, StopLimitEntryParams

__all__ = ["LimitEntry", "LimitEntryParams", "MeanReversion", "MeanReversionParams", "SmaCross", "SmaCrossParams",
           "StopLimitEntry", "StopLimitEntryParams"]
