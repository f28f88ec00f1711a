"""Adapters of the portfolio service to the outside: the SQLite ledger store, and one in memory."""

from .ledger_store import LedgerStore, LedgerStoreError
from .memory_store import MemoryLedgerStore
from .store import LedgerPersistence, StoredState

__all__ = ["LedgerPersistence", "LedgerStore", "LedgerStoreError", "MemoryLedgerStore", "StoredState"]
