"""Built-in strategies."""

from .mean_reversion import MeanReversion, MeanReversionConfig
from .sma_cross import SmaCross, SmaCrossConfig

__all__ = ["MeanReversion", "MeanReversionConfig", "SmaCross", "SmaCrossConfig"]
