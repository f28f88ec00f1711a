"""How long a live feed waits before it tries again (a reconnect, a backfill)."""

from __future__ import annotations


def backoff_delay(attempt: int, base_s: float, cap_s: float) -> float:
    """Return the wait before try ``attempt`` (1, 2, ...): ``base_s`` doubled each time, at most ``cap_s``."""
    return min(cap_s, base_s * 2 ** (attempt - 1))
