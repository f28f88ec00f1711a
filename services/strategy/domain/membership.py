"""Who works: the live members of a worker group, and which member owns which partition.

Every worker computes the assignment from the membership it sees, with no coordinator: the same members give
the same owners in every process. ``assign_partitions`` ranks (partition, member) pairs by a stable hash
(rendezvous hashing) and hands partitions out best pair first, under a quota that keeps the split even: each
member owns ``partitions // members`` or one more. A member joining or leaving moves few partitions: close to
the ``partitions / members`` any balanced scheme must move (plain rendezvous hashing moves exactly that many, but
with 16 partitions it can leave one member twice the work of another).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field


def rendezvous_score(member: str, partition: int) -> int:
    """Return ``member``'s stable preference for ``partition``: identical in every process, version and platform."""
    digest = hashlib.blake2b(f"{member}/{partition}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def assign_partitions(members: Iterable[str], partitions: int) -> dict[int, str]:
    """Return partition -> owning member for ``partitions`` partitions over ``members`` (empty: no owners)."""
    group = sorted(set(members))
    if not group:
        return {}
    quota, extra = divmod(partitions, len(group))
    load = dict.fromkeys(group, 0)
    owners: dict[int, str] = {}
    pairs = sorted(((rendezvous_score(m, p), m, p) for m in group for p in range(partitions)), reverse=True)
    for _, member, partition in pairs:
        if partition in owners or load[member] > quota or (load[member] == quota and not extra):
            continue
        if load[member] == quota:
            extra -= 1
        owners[partition] = member
        load[member] += 1
    return owners


def owned_partitions(member: str, members: Iterable[str], partitions: int) -> frozenset[int]:
    """Return the partitions ``member`` owns when ``members`` (``member`` among them) share ``partitions``."""
    owners = assign_partitions({member, *members}, partitions)
    return frozenset(p for p, owner in owners.items() if owner == member)


@dataclass
class Membership:
    """The members of a group as one worker sees them: whoever was heard from within ``timeout`` seconds.

    Times are the observer's own monotonic clock at receipt, so the members' clocks never need to agree.
    """

    timeout: float
    _last_seen: dict[str, float] = field(default_factory=dict)

    def saw(self, member: str, now: float) -> bool:
        """Record a heartbeat of ``member`` at ``now``; return whether it was not a live member before."""
        new = not self._alive(member, now)
        self._last_seen[member] = now
        return new

    def left(self, member: str) -> bool:
        """Forget ``member`` (it said it is leaving); return whether it was known."""
        return self._last_seen.pop(member, None) is not None

    def members(self, now: float) -> frozenset[str]:
        """Return the live members at ``now``, forgetting those whose heartbeats stopped."""
        for member in [m for m in self._last_seen if not self._alive(m, now)]:
            del self._last_seen[member]
        return frozenset(self._last_seen)

    def _alive(self, member: str, now: float) -> bool:
        seen = self._last_seen.get(member)
        return seen is not None and now - seen < self.timeout
