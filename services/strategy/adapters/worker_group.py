"""The strategy workers of a namespace as a group: heartbeats, membership, and who consumes which partition.

Each worker publishes a ``WorkerHeartbeatSent`` every ``interval`` seconds and receives everyone's on its inbox. From
the members it hears (itself included) it computes the owner of every partition (``assign_partitions``: the same
answer in every worker), subscribes to the partitions it gained and releases those it lost. The partition queues
have a single active consumer, so while views of the membership differ for a moment, a partition is still never
consumed by two workers at once: a gaining worker waits on the queue until the losing one has let go.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from shared.contracts import OrderFilled, WorkerHeartbeatSent
from shared.messaging.bus import Consumer, MessageBus, Subscription
from shared.messaging.errors import PublishFailed
from shared.messaging.topology import partition_of
from shared.runtime.clock import Clock

from ..domain.membership import Membership, owned_partitions
from .partitions import OwnedPartition

log = logging.getLogger(__name__)

GROUP = "strategy"


class WorkerGroup:
    """Keep this worker's share of the partitions in step with the group's membership."""

    def __init__(self, bus: MessageBus, clock: Clock, worker: str, new_partition: Callable[[int], OwnedPartition],
                 *, interval: float, timeout: float, prefetch: int,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.bus = bus
        self.clock = clock
        self.worker = worker
        self.new_partition = new_partition
        self.interval = interval
        self.prefetch = prefetch
        self.monotonic = monotonic
        self.membership = Membership(timeout)
        self.owned: dict[int, OwnedPartition] = {}
        self._sequence = 0
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._left = False
        self.inbox: Consumer | None = None

    def members(self) -> frozenset[str]:
        """Return the live members as this worker sees them, itself included."""
        return self.membership.members(self.monotonic()) | {self.worker}

    async def on_heartbeat(self, beat: WorkerHeartbeatSent) -> None:
        """Record another worker's heartbeat; a worker joining or leaving triggers a rebalance at once."""
        if beat.worker == self.worker or beat.group != GROUP:
            return
        changed = self.membership.left(beat.worker) if beat.leaving else self.membership.saw(beat.worker,
                                                                                             self.monotonic())
        if changed:
            self._changed.set()

    async def beat_forever(self) -> None:
        """Publish a heartbeat every ``interval`` seconds; one the broker did not take is skipped, not fatal (while
        the connection is down the others see this worker gone, and it drops its partitions' state likewise)."""
        while True:
            try:
                await self.beat()
            except PublishFailed as error:
                log.warning("heartbeat not published: %s", error)
            await asyncio.sleep(self.interval)

    async def beat(self, *, leaving: bool = False) -> None:
        """Publish one heartbeat saying which partitions this worker consumes now."""
        now = self.clock.now()
        await self.bus.publish(WorkerHeartbeatSent(ts_event=now, ts_init=now, source=self.worker, group=GROUP,
                                               worker=self.worker, sequence=self._sequence, leaving=leaving,
                                               partitions=tuple(sorted(self.owned))))
        self._sequence += 1

    async def join(self, inbox: Subscription, settle: float) -> None:
        """Start listening on ``inbox``, announce this worker, hear the others for ``settle`` seconds, take a share.

        Run at start-up, before the service reports ready: a suite waiting for readiness then finds the
        partitions consumed, instead of piling up while the worker is still listening.
        """
        self.inbox = await self.bus.subscribe(inbox)
        deadline = self.monotonic() + settle
        await self.beat()
        while (left := deadline - self.monotonic()) > 0:
            await asyncio.sleep(min(self.interval, left))
            await self.beat()
        await self.rebalance()

    async def rebalance_forever(self) -> None:
        """Rebalance on every membership change, and every ``interval`` (when heartbeats stop, nothing else says so)."""
        while True:
            self._changed.clear()
            if not self.bus.is_connected:
                self.forget_all()
            # shielded: a stop never leaves a partition half handed over; ``leave`` waits for the lock instead
            await asyncio.shield(self.rebalance())
            await self._next_change()

    def forget_all(self) -> None:
        """Drop the state of every owned partition (the connection is down; see ``OwnedPartition.forget``).

        While this worker is cut off, the others take its partitions over; when the connection comes back its
        consumers are restored, and each symbol must be warmed up again. A reconnect takes seconds (aio-pika waits
        ``reconnect_interval``, 5 s by default), so the ``interval`` tick sees the connection down before any
        delivery resumes.
        """
        if any(partition.warm for partition in self.owned.values()):
            log.warning("broker connection lost: dropping the state of partitions %s", sorted(self.owned))
        for partition in self.owned.values():
            partition.forget()

    async def _next_change(self) -> None:
        # a timer rather than ``wait_for``, which on Python 3.11 can swallow the cancellation that stops the loop
        tick = asyncio.get_running_loop().call_later(self.interval, self._changed.set)  # expiries show on the tick
        try:
            await self._changed.wait()
        finally:
            tick.cancel()

    async def rebalance(self) -> None:
        """Release the partitions this worker no longer owns, then subscribe to those it gained."""
        async with self._lock:
            if not self._left:
                await self._rebalance()

    async def _rebalance(self) -> None:
        topology = self.bus.topology
        members = self.members()
        wanted = owned_partitions(self.worker, members, topology.partitions)
        if wanted == set(self.owned):
            return
        lost = [self.owned.pop(p) for p in sorted(set(self.owned) - wanted)]
        await asyncio.gather(*(partition.release() for partition in lost))
        for number in sorted(wanted - set(self.owned)):
            partition = self.new_partition(number)
            partition.consumer = await self.bus.subscribe(
                Subscription(topology.partition_queue(number), partition.handlers(), self.prefetch))
            self.owned[number] = partition
        log.info("%d members: released partitions %s, now own %s", len(members), [p.partition for p in lost],
                 sorted(self.owned))

    async def leave(self) -> None:
        """Say goodbye, so the others take over at once, and give every partition back in order."""
        async with self._lock:
            self._left = True
            partitions, self.owned = list(self.owned.values()), {}
            try:
                await self.beat(leaving=True)
            finally:
                await asyncio.gather(*(partition.release() for partition in partitions))
                if self.inbox is not None:
                    await self.inbox.cancel()

    async def on_fill(self, fill: OrderFilled) -> None:
        """Apply a fill to the state of its symbol if this worker owns that (warm) symbol; other workers ignore it."""
        partition = self.owned.get(partition_of(fill.symbol, self.bus.topology.partitions))
        if partition is not None:
            await partition.on_fill(fill)
