"""The portfolio's pure domain: the ledger, equity and performance, risk rules and snapshot values."""

from .balances import BalanceCheck, Difference, check_balances
from .equity import CurvePoint, DrawdownStats, DrawdownTracker, EquityCurve, drawdown_stats
from .ledger import COST_QUANTUM, Ledger
from .performance import PerformanceMetrics, compute_metrics, infer_periods_per_year
from .positions import ClosedTrade, Fill, Position, PositionUpdate, StrategyPnl
from .risk import (
    ExitIntent,
    ExitReason,
    KillSwitchState,
    RiskActions,
    RiskGuard,
    RiskRules,
    check_kill_switch,
    check_stops,
    exit_intent,
    intent_id,
    stop_reason,
)
from .snapshot import position_changed_values, position_view, snapshot_values

__all__ = [
    "BalanceCheck",
    "Difference",
    "check_balances",
    "COST_QUANTUM",
    "ClosedTrade",
    "CurvePoint",
    "DrawdownStats",
    "DrawdownTracker",
    "EquityCurve",
    "ExitIntent",
    "ExitReason",
    "Fill",
    "KillSwitchState",
    "Ledger",
    "PerformanceMetrics",
    "Position",
    "PositionUpdate",
    "RiskActions",
    "RiskGuard",
    "RiskRules",
    "StrategyPnl",
    "check_kill_switch",
    "check_stops",
    "compute_metrics",
    "drawdown_stats",
    "exit_intent",
    "infer_periods_per_year",
    "intent_id",
    "position_changed_values",
    "position_view",
    "snapshot_values",
    "stop_reason",
]
