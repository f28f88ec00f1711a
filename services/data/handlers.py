"""The data service's subscription table: history requests in, history replies (in pages) out."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.contracts import BarHistoryProvided, BarView, RequestBarHistory
from shared.messaging.bus import MessageBus
from shared.messaging.errors import Unroutable
from shared.messaging.subscriptions import Route, Table
from shared.runtime.clock import Clock

from .domain import BarArchive

log = logging.getLogger(__name__)

PAGE_BARS = 2_000
"""Bars per history reply: about 300 kB of JSON, well under the bus's message size limit."""


@dataclass
class DataDeps:
    """The history kept for warm-ups, the bus, the clock, our name."""

    history: BarArchive
    bus: MessageBus
    clock: Clock
    source: str
    page_bars: int = PAGE_BARS


async def on_history_request(request: RequestBarHistory, deps: DataDeps) -> None:
    """Answer with the symbol's last ``count`` bars before ``before``; drop it if the requester is gone."""
    bars = deps.history.bars_before(request.symbol, request.count, request.timeframe, request.before)
    timeframe = request.timeframe or (bars[-1].timeframe if bars else "unknown")
    views = [BarView(ts=b.ts_event, open=b.open, high=b.high, low=b.low, close=b.close, volume=b.volume)
             for b in bars]
    pages = max(1, -(-len(views) // deps.page_bars))
    try:
        for page in range(pages):
            await deps.bus.publish(BarHistoryProvided.caused_by(
                request, ts_event=request.ts_event, ts_init=deps.clock.now(), source=deps.source,
                symbol=request.symbol, timeframe=timeframe, requester=request.requester,
                bars=tuple(views[page * deps.page_bars:(page + 1) * deps.page_bars]), page=page, pages=pages))
    except Unroutable:
        log.info("dropped the history reply to %s: it no longer listens", request.requester)


SUBSCRIPTIONS: Table = {"requests": Route({RequestBarHistory: on_history_request})}
"""Queue purpose -> handlers, as ``topology.SUITE`` names the data service's queues."""
