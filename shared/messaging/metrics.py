"""What the messaging layer measures, as an interface: the runtime provides the Prometheus implementation.

A bus is given a ``BusMetrics``; ``NullMetrics`` records nothing and is the backtester's fast path (the
dispatcher skips timing for it). Each counter is looked up by its label values (message type, outcome, reason).
"""

from __future__ import annotations

from typing import Protocol


class Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class Gauge(Protocol):
    def inc(self, amount: float = 1) -> None: ...
    def dec(self, amount: float = 1) -> None: ...
    def set(self, value: float) -> None: ...


class Histogram(Protocol):
    def observe(self, amount: float) -> None: ...


class LabelledCounter(Protocol):
    def __call__(self, *values: str) -> Counter: ...


class LabelledHistogram(Protocol):
    def __call__(self, *values: str) -> Histogram: ...


class BusMetrics(Protocol):
    """The bus's counters, histograms and gauges (see ``shared.runtime.metrics`` for their meaning)."""

    @property
    def consumed(self) -> LabelledCounter: ...
    @property
    def published(self) -> LabelledCounter: ...
    @property
    def publish_failures(self) -> LabelledCounter: ...
    @property
    def dead_lettered(self) -> LabelledCounter: ...
    @property
    def handler_duration(self) -> LabelledHistogram: ...
    @property
    def confirm_latency(self) -> Histogram: ...
    @property
    def in_flight(self) -> Gauge: ...
    @property
    def broker_connected(self) -> Gauge: ...


class _NullMetric:
    def inc(self, amount: float = 1) -> None: ...
    def dec(self, amount: float = 1) -> None: ...
    def set(self, value: float) -> None: ...
    def observe(self, amount: float) -> None: ...


_NULL = _NullMetric()


def _null(*_: str) -> _NullMetric:
    return _NULL


class NullMetrics:
    """Metrics that record nothing."""

    def __init__(self) -> None:
        self.consumed = self.published = self.publish_failures = self.dead_lettered = _null
        self.handler_duration = _null
        self.confirm_latency = self.in_flight = self.broker_connected = _NULL
