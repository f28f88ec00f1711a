"""Prometheus metrics every tradebus service exports, on a registry injected per service (never the global one).

Names follow Prometheus conventions (``tradebus_*_total`` counters, base units in seconds); labels stay
low-cardinality: service, message type, outcome, queue. Labelled children are cached so the hot path pays one
dict lookup per message, not a label resolution.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _Cached:
    """Cache ``metric.labels(*values)`` children by their label values."""

    __slots__ = ("_metric", "_children", "_fixed")

    def __init__(self, metric: Any, *fixed: str) -> None:
        self._metric = metric
        self._fixed = fixed
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*self._fixed, *values)
        return child


class PrometheusBusMetrics:
    """The messaging layer's ``BusMetrics`` as Prometheus counters and histograms, labelled with the service name."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.registry = registry
        self.service = service
        self.consumed = _Cached(Counter(
            "tradebus_events_consumed_total",
            "Messages consumed, by type and outcome (ack, retry, dead_letter, crash).",
            ["service", "type", "outcome"], registry=registry), service)
        self.published = _Cached(Counter(
            "tradebus_events_published_total", "Messages published and confirmed by the broker, by type.",
            ["service", "type"], registry=registry), service)
        self.publish_failures = _Cached(Counter(
            "tradebus_publish_failures_total", "Publishes that were returned, nacked or timed out, by type and reason.",
            ["service", "type", "reason"], registry=registry), service)
        self.dead_lettered = _Cached(Counter(
            "tradebus_events_dead_lettered_total", "Messages this service dead-lettered, by type and reason.",
            ["service", "type", "reason"], registry=registry), service)
        self.handler_duration = _Cached(Histogram(
            "tradebus_handler_duration_seconds", "Time spent handling one message, by type.",
            ["service", "type"], buckets=LATENCY_BUCKETS, registry=registry), service)
        self.confirm_latency = Histogram(
            "tradebus_publish_confirm_seconds", "Time from publish to the broker's confirm.",
            ["service"], buckets=LATENCY_BUCKETS, registry=registry).labels(service)
        self.in_flight = Gauge(
            "tradebus_messages_in_flight", "Messages delivered to this service and not yet acked or rejected.",
            ["service"], registry=registry).labels(service)
        self.broker_connected = Gauge(
            "tradebus_broker_connected", "1 while the service's broker connection is open.",
            ["service"], registry=registry).labels(service)
