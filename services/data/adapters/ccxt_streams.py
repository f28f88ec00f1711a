"""What the ccxt feed keeps per symbol, and the feed's metrics."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from shared.contracts import BarClosed

from ..domain.bars import BarBuilder

log = logging.getLogger("tradebus.data.ccxt")

_NEVER = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(eq=False)
class SymbolStream:
    """The live state of one symbol: its bar builder, the last bar published, the link and liveness flags."""

    symbol: str
    builder: BarBuilder
    last_message: datetime
    last_open_ms: int | None = None
    """Open time of the last bar published: no bar at or before it is published again."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while bars are closed or backfilled, so a backfill and the builder never interleave."""
    held: list[BarClosed] = field(default_factory=list)
    """Bars closed while a backfill was due and not yet done: published after it."""
    backfill_pending: bool = True
    retry_at: datetime = _NEVER
    failed_backfills: int = 0
    trusted_from_ms: int = 0
    """Bars opening before this were in progress while the link was down: REST is asked for them first."""
    down: bool = False
    """The bar source's link is down (between a lost link and its resubscription): close nothing by time."""
    stale: bool = False
    newest_ms: int = 0
    """Newest venue timestamp seen: the venue's clock reached at least this."""
    last_trade: int = 0
    forming_kline: list[Any] | None = None
    rest_tried_ms: int | None = None


class FeedMetrics:
    """The live feed's Prometheus metrics, on the service's registry."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self._stale = Gauge("tradebus_data_feed_stale", "1 while a symbol has had no market data for stale_after_s.",
                            ["service", "symbol"], registry=registry)
        self._late = Counter("tradebus_data_late_trades_total", "Trades that arrived after their bar had closed "
                             "(left out of every bar).", ["service", "symbol"], registry=registry)
        self.reconnects = Counter("tradebus_data_reconnects_total", "Outages of the venue link recovered from.",
                                  ["service"], registry=registry).labels(service)
        self.backfilled = Counter("tradebus_data_backfilled_bars_total", "Bars published from the venue's REST "
                                  "history (start-up, after a reconnect, closing a doubted bar).", ["service"],
                                  registry=registry).labels(service)

    def stale(self, symbol: str) -> Any:
        """Return the stale gauge of ``symbol``."""
        return self._stale.labels(self.service, symbol)

    def late(self, symbol: str) -> Any:
        """Return the late-trades counter of ``symbol``."""
        return self._late.labels(self.service, symbol)


def log_bad_payload(symbol: str, payload: Any, error: Exception) -> None:
    """Report a venue structure that does not make a valid event, as a warning."""
    log.warning("%s: bad payload skipped: %s | %.200r", symbol, str(error).splitlines()[0], payload)
