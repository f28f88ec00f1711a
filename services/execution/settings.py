"""Settings of the execution service (env prefix ``TRADEBUS_EXECUTION_``; sections with ``__``, e.g.
``TRADEBUS_EXECUTION_SIZING__QUANTITY=50``, ``TRADEBUS_EXECUTION_PAPER__COMMISSION_RATE=0.001``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from shared.runtime.settings import ServiceSettings
from shared.venues import VenueSettings


class SizingSettings(BaseModel):
    """How a signal becomes an order size."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["fixed_quantity", "fixed_notional", "percent_equity", "target_weight"] = Field(
        "fixed_quantity", description="How an entry is sized.")
    quantity: Decimal = Field(Decimal(100), gt=0, description="Units per order with fixed_quantity sizing.")
    notional: Decimal = Field(Decimal(10000), gt=0, description="Order value with fixed_notional sizing.")
    equity_fraction: Decimal = Field(Decimal("0.1"), gt=0, le=1,
                                     description="Fraction of equity with percent_equity sizing.")
    allow_short: bool = Field(False, description="Let a SHORT signal open a short position (else it only exits).")
    lot_size: Decimal = Field(Decimal(1), gt=0, description="Order sizes round down to a multiple of this.")
    scale_by_strength: bool = Field(False, description="Scale order sizes by the signal's strength.")


class RiskSettings(BaseModel):
    """Pre-trade limits; each is off when unset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_order_quantity: Decimal | None = Field(None, gt=0, description="Largest order, in units.")
    max_order_notional: Decimal | None = Field(None, gt=0, description="Largest order, in account currency.")
    max_position: Decimal | None = Field(None, gt=0, description="Largest position per symbol, in units.")
    max_gross_exposure: Decimal | None = Field(None, gt=0, description="Largest gross exposure, in account currency.")
    max_orders_per_second: int | None = Field(None, ge=1, description="Most orders sent in any one second.")
    max_leverage: Decimal | None = Field(
        Decimal(1), gt=0, description="Buying power: an order may not take gross exposure (working orders included) "
        "beyond this many times equity; 1 means cash may not go below zero.")


class PaperSettings(BaseModel):
    """The paper broker's fill model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fill_on: Literal["next_open", "close"] = Field(
        "next_open", description="Market orders fill at the next bar's open or this bar's close.")
    slippage_bps: Decimal = Field(Decimal(0), ge=0, description="Adverse slippage, in basis points of the price.")
    commission_rate: Decimal = Field(Decimal(0), ge=0, lt=1,
                                     description="Commission as a fraction of notional (0.001 = 0.1%).")
    commission_per_share: Decimal = Field(Decimal(0), ge=0, description="Commission per unit filled.")
    commission_minimum: Decimal = Field(Decimal(0), ge=0, description="Least commission per fill.")
    max_volume_participation: Decimal | None = Field(
        None, gt=0, le=1, description="Partial fills: at most this fraction of a bar's volume.")
    timeframe: str | None = Field(None, description="Match orders only against bars of this timeframe.")
    replay_window: int = Field(100_000, ge=1, description="Recent market events per symbol kept (and saved) to "
                               "fill orders that arrive late, in event time.")


class ExecutionSettings(ServiceSettings):
    """Sizing, pre-trade risk limits, the paper broker's fill model, and the order path's timings."""

    model_config = SettingsConfigDict(env_prefix="TRADEBUS_EXECUTION_")

    service_name: str = "execution"
    metrics_port: int = Field(9103, ge=0, le=65535)
    state_dir: Path = Field(Path("var/execution"),
                            description="Where the order store and paper broker keep SQLite files.")
    sizing: SizingSettings = SizingSettings()
    risk: RiskSettings = RiskSettings()
    paper: PaperSettings = PaperSettings()
    lost_after_s: float = Field(60.0, gt=0, description="A recorded order the broker still does not know this long "
                                "after this service last touched it (its own clock) never reached it: rejected.")
    reconcile_interval_s: float = Field(5.0, gt=0, description="How often orders are reconciled with the broker.")
    venue: VenueSettings = Field(VenueSettings(), description="Where orders go: unset or dry-run, the paper broker; "
                                 "sandbox or live, the exchange through ccxt.")
    symbols: tuple[str, ...] = Field((), description="The symbols traded at the venue (sandbox, live): whose open "
                                     "orders and fills reconciliation reads.")
    balances_interval_s: float = Field(30.0, gt=0, description="How often the venue's balances are read and "
                                       "published for the portfolio to compare (sandbox, live).")
