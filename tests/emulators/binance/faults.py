"""Faults a test asks the emulated venue to inject into its REST answers; they stack until ``clear()``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Rule:
    """One fault for requests whose path contains ``path``: ``kind`` is lose, fail or delay."""

    kind: str
    path: str
    count: int | None  # None: every matching request
    method: str | None = None
    status: int = 503
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.count is not None and self.count <= 0:
            return False
        return self.path in path and (self.method is None or self.method.upper() == method.upper())


@dataclass
class Verdict:
    """What to do with one request: answer ``fail_status`` at once, wait ``delay`` seconds, or never answer."""

    fail_status: int | None = None
    delay: float = 0.0
    lose: bool = False


class FaultPlan:
    """The faults in force, the request-weight limit and the ban; consulted once per REST request."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.rules: list[Rule] = []
        self.max_weight_per_minute: int | None = None
        self.banned_until_ms = 0

    def add(self, rule: Rule) -> None:
        self.rules.append(rule)

    def verdict(self, method: str, path: str) -> Verdict:
        """Consume the matching rules (one use each) and return their combined effect."""
        verdict = Verdict()
        for rule in self.rules:
            if not rule.matches(method, path):
                continue
            if rule.kind == "fail" and verdict.fail_status is None:
                verdict.fail_status = rule.status
            elif rule.kind == "delay":
                verdict.delay += rule.seconds
            elif rule.kind == "lose":
                verdict.lose = True
            else:
                continue
            if rule.count is not None:
                rule.count -= 1
        self.rules = [rule for rule in self.rules if rule.count is None or rule.count > 0]
        return verdict


class WeightMeter:
    """Request weight used in the current minute, as Binance counts it for ``x-mbx-used-weight-1m``."""

    def __init__(self) -> None:
        self.minute = -1
        self.used = 0

    def add(self, now_ms: int, weight: int) -> int:
        minute = now_ms // 60_000
        if minute != self.minute:
            self.minute, self.used = minute, 0
        self.used += weight
        return self.used
