"""Venues reached through ccxt: the settings that name one, and the one place a ccxt client is built."""

from .connect import open_exchange, point_at, venue_summary
from .settings import VenueMode, VenueSettings

__all__ = ["VenueMode", "VenueSettings", "open_exchange", "point_at", "venue_summary"]
