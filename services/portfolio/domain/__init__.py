"""The portfolio's pure domain: the ledger, equity and performance, risk rules and snapshot values."""

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

__all__ = [name for name in dir() if not name.startswith("_")]
