"""Settings of the strategy service (env prefix ``TRADEBUS_STRATEGY_``)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import SettingsConfigDict

from shared.runtime.settings import ServiceSettings


class StrategySpec(BaseModel):
    """One strategy to run: a registry name or ``package.module:Class``, its parameters and symbols."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Strategy id carried by its signals and orders.")
    name: str = Field(description="Registry name (sma_cross, mean_reversion) or package.module:Class.")
    params: dict[str, str] = Field(default_factory=dict)
    symbols: tuple[str, ...] = Field((), description="Symbols to trade; empty means every symbol.")


class StrategySettings(ServiceSettings):
    """The strategies this worker runs (JSON list in ``TRADEBUS_STRATEGY_STRATEGIES``), and how workers share work.

    ``membership`` decides who consumes the market partitions: ``static`` consumes all of them (one worker per
    suite: the backtester, the embedded suite); ``dynamic`` makes the workers of a namespace find each other by
    heartbeats and split the partitions between them, warming a symbol up from the data service's history when
    it moves in; ``auto`` (the default) is ``dynamic`` over RabbitMQ and ``static`` on the in-memory bus.
    """

    model_config = SettingsConfigDict(env_prefix="TRADEBUS_STRATEGY_")

    service_name: str = "strategy"
    metrics_port: int = Field(9102, ge=0, le=65535)
    strategies: tuple[StrategySpec, ...] = Field(
        (StrategySpec(id="sma_cross", name="sma_cross", params={"fast": "10", "slow": "30"}),),
        description="Strategies to run, e.g. [{\"id\":\"s1\",\"name\":\"sma_cross\",\"params\":{\"fast\":\"10\"}}].")
    membership: Literal["auto", "static", "dynamic"] = Field(
        "auto", description="static: own every partition; dynamic: share them with the namespace's other workers.")
    heartbeat_interval_s: float = Field(0.5, gt=0, description="Seconds between two heartbeats of a worker.")
    member_timeout_s: float = Field(
        2.0, gt=0, description="A worker not heard from for this long is gone; its partitions move to the others.")
    warmup_bars: int = Field(
        5_000, ge=1, le=100_000, description="Most history bars asked for to rebuild a symbol's state.")
    warmup_timeout_s: float = Field(
        10.0, gt=0, description="How long a warm-up waits for its history reply before the event is retried.")

    @model_validator(mode="after")
    def _timeout_spans_heartbeats(self) -> Self:
        if self.member_timeout_s < 2 * self.heartbeat_interval_s:
            raise ValueError("member_timeout_s must span at least two heartbeat intervals")
        return self
