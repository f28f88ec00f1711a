"""Build a ccxt client from ``VenueSettings``: the only place a service creates one.

Every client is ccxt's async "pro" class (REST and ``watch_*`` websockets), rate-limited by ccxt, switched to the
testnet in sandbox mode, and, with ``endpoint``, pointed at another host with the exchange's paths kept.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .settings import VenueMode, VenueSettings

_SPOT_ONLY: dict[str, dict[str, Any]] = {
    # ccxt loads every market type (futures, margin) by default; a spot bot needs spot, and fewer calls start faster
    "binance": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
                "fetchMargins": False},
}


def open_exchange(settings: VenueSettings, *, private: bool = False) -> Any:
    """Return a ccxt.pro client of ``settings.exchange``; with ``private`` it carries the keys (orders, balances).

    Raise ``ValueError`` naming the problem when the exchange is unknown to ccxt.
    """
    if settings.exchange is None:
        raise ValueError("no venue: set venue.exchange to a ccxt exchange id")
    import ccxt.pro  # ccxt takes seconds and ~100 MB to import: only a service that talks to a venue pays

    cls = getattr(ccxt.pro, settings.exchange, None)
    if cls is None:
        raise ValueError(f"unknown exchange {settings.exchange!r}: ccxt.pro supports {', '.join(ccxt.pro.exchanges)}")
    config: dict[str, Any] = {"enableRateLimit": True, "timeout": settings.timeout_ms,
                              "options": {**_SPOT_ONLY.get(settings.exchange, {}), **settings.options}}
    if private:
        config.update({name: value for name, value in settings.keys().items() if value})
    exchange = cls(config)
    if settings.mode is VenueMode.SANDBOX:
        exchange.set_sandbox_mode(True)
    if settings.endpoint:
        point_at(exchange, settings.endpoint)
    return exchange


def point_at(exchange: Any, endpoint: str) -> None:
    """Send every request of ``exchange`` (REST and websocket, live and test URLs) to ``endpoint``, keeping paths.

    ``http://127.0.0.1:8080`` turns ``https://api.binance.com/api/v3`` into ``http://127.0.0.1:8080/api/v3`` and
    ``wss://stream.binance.com:9443/ws`` into ``ws://127.0.0.1:8080/ws``; an https endpoint keeps wss.
    """
    target = urlsplit(endpoint)
    if target.scheme not in ("http", "https") or not target.netloc:
        raise ValueError(f"venue endpoint {endpoint!r} must look like http://host:port")
    for key in ("api", "test", "demo"):
        if key in exchange.urls:
            exchange.urls[key] = _rewritten(exchange.urls[key], target.scheme, target.netloc)


def _rewritten(value: Any, scheme: str, netloc: str) -> Any:
    if isinstance(value, dict):
        return {key: _rewritten(item, scheme, netloc) for key, item in value.items()}
    if isinstance(value, str) and "://" in value:
        parts = urlsplit(value)
        secure = scheme == "https"
        new_scheme = ("wss" if secure else "ws") if parts.scheme in ("ws", "wss") else scheme
        return urlunsplit((new_scheme, netloc, parts.path, parts.query, parts.fragment))
    return value


def venue_summary(settings: VenueSettings) -> dict[str, Any]:
    """Return what start-up logs and ``/health`` show of the venue: never a key."""
    return {"exchange": settings.exchange, "mode": settings.mode.value if settings.exchange else "replay",
            "endpoint": settings.endpoint, "keys": "set" if any(settings.keys().values()) else "none"}
