"""The portfolio's Prometheus gauges: equity, cash, drawdown, exposure, positions, halt state."""

from __future__ import annotations

from decimal import Decimal

from prometheus_client import CollectorRegistry, Gauge

from shared.contracts import BalancesDiffered, Message, PortfolioSnapshot


class PortfolioGauges:
    """Set the account gauges from each published ``PortfolioSnapshot``."""

    def __init__(self, registry: CollectorRegistry, service: str = "portfolio",
                 max_drawdown: Decimal | None = None) -> None:
        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(name, doc, ["service", *labels], registry=registry)

        self.service = service
        self.equity = gauge("tradebus_portfolio_equity", "Account equity: cash plus marked positions.")
        self.cash = gauge("tradebus_portfolio_cash", "Cash in the account.")
        self.drawdown = gauge("tradebus_portfolio_drawdown_ratio", "Drawdown from peak equity, as a fraction.")
        self.peak = gauge("tradebus_portfolio_peak_equity", "Highest equity seen.")
        self.gross = gauge("tradebus_portfolio_gross_exposure", "Sum of absolute position values.")
        self.net = gauge("tradebus_portfolio_net_exposure", "Sum of signed position values.")
        self.halted = gauge("tradebus_portfolio_trading_halted", "1 while trading is halted (kill switch).")
        self.position = gauge("tradebus_portfolio_position_quantity", "Signed position size.", "strategy", "symbol")
        self.balance_difference = gauge("tradebus_portfolio_balance_difference",
                                        "The venue's balance minus what the books expect, per asset (0: agree).",
                                        "asset")
        self._held: set[tuple[str, str]] = set()
        if max_drawdown is not None:
            gauge("tradebus_portfolio_drawdown_limit_ratio", "The kill switch's drawdown limit, as a fraction.").labels(
                service).set(float(max_drawdown))

    def observe(self, message: Message) -> None:
        """Set the gauges a published message speaks of (snapshots, balance differences)."""
        if isinstance(message, PortfolioSnapshot):
            self.observe_snapshot(message)
        elif isinstance(message, BalancesDiffered):
            for difference in message.differences:
                self.balance_difference.labels(self.service, difference.asset).set(float(difference.difference))

    def observe_snapshot(self, snapshot: PortfolioSnapshot) -> None:
        """Set every gauge from ``snapshot``; positions that closed drop to 0."""
        service = self.service
        for gauge, value in ((self.equity, snapshot.equity), (self.cash, snapshot.cash),
                             (self.drawdown, snapshot.drawdown), (self.peak, snapshot.peak_equity),
                             (self.gross, snapshot.gross_exposure), (self.net, snapshot.net_exposure),
                             (self.halted, int(snapshot.trading_halted))):
            gauge.labels(service).set(float(value))
        held = set()
        for position in snapshot.positions:
            key = (position.strategy_id or "", position.symbol)
            held.add(key)
            self.position.labels(service, *key).set(float(position.quantity))
        for key in self._held - held:
            self.position.labels(service, *key).set(0)
        self._held = held
