"""Control-plane messages: how the workers of a scaled-out service find each other."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Event


class WorkerHeartbeatSent(Event):
    """Record that worker ``worker`` of ``group`` is alive, and which partitions it consumes now.

    Workers of a group publish one every heartbeat interval and keep everyone's in their own queue; a worker whose
    heartbeats stop is gone after the membership timeout. ``leaving`` says it is stopping: drop it at once.
    """

    type: Literal["WorkerHeartbeatSent"] = "WorkerHeartbeatSent"
    schema_version: Literal[1] = 1
    group: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    worker: str = Field(min_length=1, max_length=128)
    sequence: int = Field(ge=0, description="How many heartbeats this worker sent before this one.")
    leaving: bool = False
    partitions: tuple[int, ...] = Field((), description="The partitions the worker consumes now, ascending.")

    def routing_symbol(self) -> str | None:
        """Return the group: heartbeats are routed to the workers of the same group."""
        return self.group
