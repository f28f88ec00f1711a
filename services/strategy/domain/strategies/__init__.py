"""Built-in strategies."""

from .mean_reversion import MeanReversion, MeanReversionParams
from .sma_cross import SmaCross, SmaCrossParams

__all__ = ["MeanReversion", "MeanReversionParams", "SmaCross", "SmaCrossParams"]
