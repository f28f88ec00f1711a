"""Settings every service shares; each service subclasses ``ServiceSettings`` with its own env prefix.

Read once at start-up from the environment (``TRADEBUS_<SERVICE>_<FIELD>``); ``AMQP_URL`` is the fallback for
the broker URL so one variable points the whole suite at a broker. Secrets are ``SecretStr``: never logged.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.messaging.urls import redact_url

DEFAULT_AMQP_URL = "amqp://guest:guest@localhost:5672/"


def _amqp_url_from_env() -> SecretStr:
    return SecretStr(os.environ.get("AMQP_URL", DEFAULT_AMQP_URL))


def _instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class ServiceSettings(BaseSettings):
    """Settings of the messaging and runtime layers, common to every service."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_nested_delimiter="__")

    service_name: str = "service"
    amqp_url: SecretStr = Field(default_factory=_amqp_url_from_env,
                                description="Broker URL; defaults to $AMQP_URL, else the local guest broker.")
    namespace: str = Field("tradebus", description="Prefix of every exchange and queue name.")
    instance_id: str = Field(default_factory=_instance_id, description="This process's name in logs and the broker.")
    metrics_host: str = Field("0.0.0.0", description="Address of the /metrics and /health HTTP server.")
    metrics_port: int = Field(0, ge=0, le=65535, description="Port of /metrics and /health; 0 picks a free port.")
    log_level: str = Field("INFO", description="Python logging level.")
    log_json: bool = Field(True, description="Structured JSON logs (one object per line); false for plain text.")
    prefetch: int = Field(64, ge=1, description="Unacknowledged deliveries per consumer.")
    delivery_limit: int = Field(5, ge=1, description="Attempts at a failing message before it is dead-lettered.")
    state_dir: Path | None = Field(None, description="Where the service keeps what must survive a restart.")
    broker_wait_s: float = Field(300.0, ge=0, description="How long start-up waits for a broker that does not "
                                 "answer yet before the service gives up (exit 69).")
    confirm_timeout_s: float = Field(10.0, gt=0, description="How long a publish waits for the broker's confirm.")
    heartbeat_s: int = Field(30, ge=0, description="AMQP heartbeat interval.")
    declare_topology: bool = Field(True, description="Declare exchanges and the suite's queues at start-up; false "
                                   "when the broker's definitions already hold them (least-privilege users).")

    @classmethod
    def isolated(cls, **values: Any) -> Self:
        """Return settings built from ``values`` and the defaults only, never the environment.

        The backtester uses this so a run is reproducible whatever the shell exports.
        """
        return cls(_env_prefix="TRADEBUS_ISOLATED_NEVER_SET_", **values)

    def public_dict(self) -> dict[str, Any]:
        """Return the settings for logging: secrets masked, the broker URL without its password."""
        data = self.model_dump()
        data["amqp_url"] = redact_url(self.amqp_url.get_secret_value())
        return data
