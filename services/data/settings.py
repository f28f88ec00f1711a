"""Settings of the data service (env prefix ``TRADEBUS_DATA_``).

Two modes: replay (CSV files, synthetic data; the default) or live (``venue.exchange`` set, e.g.
``TRADEBUS_DATA_VENUE__EXCHANGE=binance`` and ``TRADEBUS_DATA_LIVE_SYMBOLS='["BTC/USDT"]'``), never both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.runtime.settings import ServiceSettings
from shared.venues import VenueSettings


class DataSettings(ServiceSettings):
    """What to replay, how fast, and what to do with bad rows; or which venue to stream live."""

    model_config = SettingsConfigDict(env_prefix="TRADEBUS_DATA_")

    service_name: str = "data"
    metrics_port: int = Field(9101, ge=0, le=65535)
    csv_paths: tuple[Path, ...] = Field(
        (), description="CSV files of bars to replay; empty with synthetic_symbols=() replays nothing.")
    symbols: tuple[str, ...] = Field((), description="Symbol of each CSV file, in order (required with csv_paths).")
    timeframe: str = Field("1d", description="Timeframe label of the replayed bars; live: the timeframe of the bars "
                           "published (1m, 5m, 1h, 1d ...).")
    synthetic_symbols: tuple[str, ...] = Field((), description="Symbols of the seeded synthetic bar generator.")
    synthetic_bars: int = Field(1000, ge=1, description="Bars per synthetic symbol.")
    seed: int = Field(7, description="Seed of the synthetic generator.")
    speed: float = Field(
        0.0, ge=0, description="Replay pace: 0 as fast as possible, else event time scaled by this factor.")
    tz: str = Field("UTC", description="Time zone of naive timestamps in the files.")
    columns: dict[str, str] = Field(
        default_factory=dict, description="Column mapping overrides, e.g. {\"close\": \"Last\"}.")
    bad_rows: Literal["skip", "reject"] = Field("skip", description="Skip (and report) or reject (stop) on a bad row.")
    state_dir: Path = Field(Path("var/data"), description="Where the replay position and the bar history are kept.")
    history_bars: int = Field(100_000, ge=1, description="Bars kept per symbol and timeframe to answer history "
                              "requests (warm-ups); they must reach back further than the replay runs ahead of "
                              "its slowest strategy worker.")
    start_delay_s: float = Field(0.0, ge=0, description="Wait before replaying, so consumers can bind first.")
    max_wait_s: float | None = Field(
        None, gt=0, description="Cap on one pacing wait (skips weekends in real-time replays).")
    venue: VenueSettings = Field(default_factory=VenueSettings, description="The venue to stream live "
                                 "(public data only: keys are never used here); unset: replay.")
    live_symbols: tuple[str, ...] = Field((), description="ccxt symbols streamed live (BTC/USDT), also the published "
                                          "symbol field.")
    bars: Literal["trades", "klines"] = Field("trades", description="Live bars built from the trades (late trades "
                                              "left out, flat bars for idle intervals) or the venue's own klines.")
    late_trade_grace_s: float = Field(2.0, ge=0, description="How long after its end a live bar waits for late "
                                      "trades before it closes.")
    stale_after_s: float = Field(60.0, gt=0, description="Seconds without any market data of a symbol before it "
                                 "counts as stale (a warning, tradebus_data_feed_stale=1).")
    order_book: bool = Field(False, description="Also stream order-book snapshots (OrderBookUpdated).")
    book_depth: int = Field(10, ge=1, le=1000, description="Levels per side of each order-book snapshot.")
    backfill_bars: int = Field(500, ge=0, description="Bars fetched from the venue's REST history on the first "
                                "start (later starts backfill from the newest bar kept).")
