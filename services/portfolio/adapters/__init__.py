"""Adapters of the portfolio service to the outside: the SQLite ledger store, and a store that keeps nothing."""

from .ledger_store import LedgerStore, LedgerStoreError, RiskState
from .memory_store import MemoryLedgerStore

__all__ = ["LedgerStore", "LedgerStoreError", "MemoryLedgerStore", "RiskState"]
