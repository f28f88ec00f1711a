"""Which venue a service talks to, in which mode, with which keys (a ``venue`` section of the service settings).

``TRADEBUS_DATA_VENUE__EXCHANGE=binance``, ``TRADEBUS_EXECUTION_VENUE__MODE=sandbox`` and so on. Keys are
``SecretStr``: they are never logged, printed, or shown in ``/health``. They come from the environment
(``..._VENUE__API_KEY``) or from a JSON file (``..._VENUE__SECRETS_FILE``, ``{"api_key": ..., "secret": ...}``).
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class VenueMode(StrEnum):
    """How orders meet the venue: dry-run fills on the paper broker at live prices; sandbox and live send them."""

    DRY_RUN = "dry-run"
    SANDBOX = "sandbox"
    LIVE = "live"


class VenueSettings(BaseModel):
    """A ccxt exchange, the mode, the keys, and where to reach it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: str | None = Field(None, description="ccxt exchange id (binance, kraken, ...); unset: no venue, "
                                 "replay files into the paper broker.")
    mode: VenueMode = Field(VenueMode.DRY_RUN, description="dry-run (paper fills at live prices), sandbox (the "
                            "exchange's testnet) or live (real money; needs confirm_live).")
    confirm_live: bool = Field(False, description="Must be true for mode=live: real orders, real money.")
    api_key: SecretStr | None = Field(None, description="API key (sandbox, live).")
    secret: SecretStr | None = Field(None, description="API secret (sandbox, live).")
    password: SecretStr | None = Field(None, description="API passphrase, for exchanges that have one.")
    secrets_file: Path | None = Field(None, description="JSON file with api_key, secret (and password); it fills "
                                      "the keys the environment leaves unset.")
    endpoint: str | None = Field(None, description="Send every request to this scheme://host:port instead of the "
                                 "exchange's own (a proxy, or the local emulator); paths are kept.")
    timeout_ms: int = Field(10_000, ge=100, description="ccxt's timeout of one REST request.")
    options: dict[str, Any] = Field(default_factory=dict, description="Extra ccxt options of the exchange.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.exchange is None:
            return self
        import ccxt.pro  # only when a venue is named: ccxt takes a while to import

        if self.exchange not in ccxt.pro.exchanges:
            raise ValueError(f"unknown exchange {self.exchange!r}: use a ccxt.pro exchange id such as binance, "
                             "bybit, kraken, okx, coinbase")
        if self.mode is VenueMode.LIVE and not self.confirm_live:
            raise ValueError("mode=live trades real money: set confirm_live=true (…_VENUE__CONFIRM_LIVE=true) "
                             "to mean it, or use mode=sandbox or dry-run")
        if self.secrets_file is not None:
            _read_secrets(self.secrets_file)
        if self.mode is not VenueMode.DRY_RUN and not self.keys()["apiKey"]:
            raise ValueError(f"mode={self.mode.value} needs API keys: set …_VENUE__API_KEY and …_VENUE__SECRET, or "
                             "…_VENUE__SECRETS_FILE")
        return self

    @property
    def trades(self) -> bool:
        """Return whether orders go to the venue (sandbox, live) rather than to the paper broker (dry-run)."""
        return self.exchange is not None and self.mode is not VenueMode.DRY_RUN

    def keys(self) -> dict[str, str]:
        """Return the ccxt credentials (apiKey, secret, password), environment first, then the secrets file."""
        from_file = _read_secrets(self.secrets_file) if self.secrets_file is not None else {}
        keys = {}
        for ccxt_name, field in (("apiKey", "api_key"), ("secret", "secret"), ("password", "password")):
            value: SecretStr | None = getattr(self, field)
            keys[ccxt_name] = value.get_secret_value() if value is not None else str(from_file.get(field) or "")
        return keys


def _read_secrets(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise ValueError(f"secrets_file {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"secrets_file {path} is not JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"secrets_file {path} must hold a JSON object with api_key and secret")
    return data
