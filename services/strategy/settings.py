"""Settings of the strategy service (env prefix ``TRADEBUS_STRATEGY_``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from shared.runtime.settings import ServiceSettings


class StrategyEntry(BaseModel):
    """One strategy to run: a registry name or ``package.module:Class``, its parameters and symbols."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Strategy id carried by its signals and orders.")
    name: str = Field(description="Registry name (sma_cross, mean_reversion) or package.module:Class.")
    params: dict[str, str] = Field(default_factory=dict)
    symbols: tuple[str, ...] = Field((), description="Symbols to trade; empty means every symbol.")


class StrategySettings(ServiceSettings):
    """The strategies this worker runs (JSON list in ``TRADEBUS_STRATEGY_STRATEGIES``)."""

    model_config = SettingsConfigDict(env_prefix="TRADEBUS_STRATEGY_")

    service_name: str = "strategy"
    metrics_port: int = Field(9102, ge=0, le=65535)
    strategies: tuple[StrategyEntry, ...] = Field(
        (StrategyEntry(id="sma_cross", name="sma_cross", params={"fast": "10", "slow": "30"}),),
        description="Strategies to run, e.g. [{\"id\":\"s1\",\"name\":\"sma_cross\",\"params\":{\"fast\":\"10\"}}].")
