"""Settings of the execution service (env prefix ``TRADEBUS_EXECUTION_``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.runtime.settings import ServiceSettings


class ExecutionSettings(ServiceSettings):
    """Sizing, pre-trade risk limits and the paper broker's fill model."""

    model_config = SettingsConfigDict(env_prefix="TRADEBUS_EXECUTION_")

    service_name: str = "execution"
    metrics_port: int = Field(9103, ge=0, le=65535)
    state_dir: Path = Field(Path("var/execution"), description="Where the order store and paper broker keep SQLite files.")
    sizing: Literal["fixed_quantity", "fixed_notional", "percent_equity", "target_weight"] = "fixed_quantity"
    quantity: Decimal = Field(Decimal(100), gt=0, description="Shares per order with fixed_quantity sizing.")
    notional: Decimal = Field(Decimal(10000), gt=0, description="Order value with fixed_notional sizing.")
    equity_fraction: Decimal = Field(Decimal("0.1"), gt=0, le=1, description="Fraction of equity with percent_equity sizing.")
    allow_short: bool = False
    max_order_quantity: Decimal | None = None
    max_order_notional: Decimal | None = None
    max_position: Decimal | None = None
    max_gross_exposure: Decimal | None = None
    max_orders_per_second: int | None = None
    fill_on: Literal["next_open", "close"] = Field("next_open", description="Market orders fill at the next bar's open or this bar's close.")
    slippage_bps: Decimal = Field(Decimal(0), ge=0)
    commission_rate: Decimal = Field(Decimal(0), ge=0, description="Commission as a fraction of notional (0.001 = 0.1%).")
    commission_per_share: Decimal = Field(Decimal(0), ge=0)
    commission_minimum: Decimal = Field(Decimal(0), ge=0)
    lot_size: Decimal = Field(Decimal(1), gt=0, description="Order sizes round down to a multiple of this.")
    scale_by_strength: bool = Field(False, description="Scale order sizes by the signal's strength.")
    timeframe: str | None = Field(None, description="Match orders only against bars of this timeframe.")
    replay_window: int = Field(100_000, ge=1, description="Recent market events per symbol kept to fill orders that arrive late, in event time.")
    lost_after_s: float = Field(60.0, gt=0, description="An unanswered submit the broker does not know becomes rejected after this.")
    reconcile_interval_s: float = Field(5.0, gt=0, description="How often in-flight orders are reconciled with the broker.")
    max_volume_participation: Decimal | None = Field(None, gt=0, le=1, description="Partial fills: at most this fraction of a bar's volume.")
