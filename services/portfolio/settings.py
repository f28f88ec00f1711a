"""Settings of the portfolio service (env prefix ``TRADEBUS_PORTFOLIO_``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.runtime.settings import ServiceSettings


class PortfolioSettings(ServiceSettings):
    """Starting cash, risk rules and where the ledger lives."""

    model_config = SettingsConfigDict(env_prefix="TRADEBUS_PORTFOLIO_")

    service_name: str = "portfolio"
    metrics_port: int = Field(9104, ge=0, le=65535)
    state_dir: Path = Field(Path("var/portfolio"), description="Where the SQLite ledger lives.")
    starting_cash: Decimal = Field(Decimal(100000), gt=0)
    max_drawdown: Decimal | None = Field(
        None, gt=0, lt=1, description="Kill switch: flatten and halt beyond this drawdown.")
    stop_loss: Decimal | None = Field(
        None, gt=0, lt=1, description="Exit a position losing this fraction of its entry value.")
    take_profit: Decimal | None = Field(
        None, gt=0, description="Exit a position gaining this fraction of its entry value.")
    account_currency: str = Field("USDT", min_length=1, description="The currency of cash at the venue (the quote "
                                  "currency of the symbols traded), for comparing the books with its balances.")
    balance_tolerance: Decimal = Field(Decimal(0), ge=0, description="Largest difference between the venue's "
                                       "balance and the books that is not reported.")
    snapshot_interval_s: float = Field(5.0, gt=0, description="Publish a PortfolioSnapshot at least this often.")
