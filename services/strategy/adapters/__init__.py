"""The strategy service's adapters: history requests to the data service, and the worker group on the broker."""

from .history import HistoryClient, bars_of
from .worker_group import WorkerGroup

__all__ = ["HistoryClient", "WorkerGroup", "bars_of"]
