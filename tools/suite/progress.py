"""Watch a running suite: its services' /health, and the depth of its queues on the broker."""

from __future__ import annotations

import asyncio
from typing import Any

import pika

from shared.messaging.topology import Topology

from .processes import ServiceProcess, health


def queue_depths(url: str, topology: Topology) -> dict[str, int]:
    """Return the ready messages in every work queue of the suite (the journal aside)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        journal = topology.journal_queue().name
        return {spec.name: channel.queue_declare(spec.name, passive=True).method.message_count
                for spec in topology.suite_queues() if spec.name != journal}
    finally:
        connection.close()


async def settled(processes: list[ServiceProcess], url: str, topology: Topology, *, quiet_checks: int = 3,
                  interval: float = 0.5) -> dict[str, dict[str, Any]]:
    """Wait until the data replay finished and every queue stayed empty for ``quiet_checks`` checks in a row.

    Return the last /health report of each service.
    """
    quiet = 0
    while quiet < quiet_checks:
        await asyncio.sleep(interval)
        reports = {p.name: await asyncio.to_thread(health, p) for p in processes}
        data = reports.get("data") or {}
        if not data.get("replay_done") or any(r is None for r in reports.values()):
            quiet = 0
            continue
        depths = await asyncio.to_thread(queue_depths, url, topology)
        quiet = quiet + 1 if not any(depths.values()) else 0
    return reports
