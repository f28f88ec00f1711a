"""Who owns which partition: the same answer in every worker, an even split, little movement, and liveness."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import pytest

from services.strategy.domain.membership import Membership, assign_partitions, owned_partitions
from shared.messaging.topology import MARKET_PARTITIONS, partition_of

WORKERS = [f"strategy-{n}" for n in range(8)]


def loads(owners: dict[int, str]) -> Counter[str]:
    return Counter(owners.values())


def moved(before: dict[int, str], after: dict[int, str]) -> int:
    return sum(before[p] != after[p] for p in before)


def test_every_worker_computes_the_same_owners_whatever_order_it_knows_the_members_in():
    members = ["b-2", "a-1", "c-3"]

    assert assign_partitions(members, 16) == assign_partitions(reversed(members), 16) == assign_partitions(
        {"c-3", "a-1", "b-2"}, 16)


def test_each_partition_has_exactly_one_owner_and_the_owners_own_disjoint_sets():
    members = WORKERS[:3]

    owned = [owned_partitions(m, members, 16) for m in members]

    assert sorted(p for partitions in owned for p in partitions) == list(range(16))


@pytest.mark.parametrize("count", range(1, 17))
def test_partitions_split_evenly_whatever_the_number_of_workers(count):
    members = [f"w{n}-{count}" for n in range(count)]

    owners = assign_partitions(members, MARKET_PARTITIONS)

    assert len(owners) == MARKET_PARTITIONS
    assert set(loads(owners).values()) <= {MARKET_PARTITIONS // count, -(-MARKET_PARTITIONS // count)}
    assert set(owners.values()) == set(members)


def test_more_workers_than_partitions_leaves_the_extra_workers_idle():
    members = [f"w{n}" for n in range(20)]

    owners = assign_partitions(members, 16)

    assert len(owners) == 16 and len(set(owners.values())) == 16


def test_no_members_means_no_owners():
    assert assign_partitions([], 16) == {}


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_a_worker_joining_moves_about_its_fair_share_of_partitions(size):
    for group in combinations(WORKERS, size + 1):
        before = assign_partitions(group[:-1], 16)
        after = assign_partitions(group, 16)

        fair_share = 16 // (size + 1)
        assert fair_share <= moved(before, after) <= 2 * fair_share + 1, group
        assert loads(after)[group[-1]] >= fair_share


@pytest.mark.parametrize("size", [2, 3, 4, 5])
def test_a_worker_leaving_moves_its_partitions_and_few_others(size):
    for group in combinations(WORKERS, size):
        before = assign_partitions(group, 16)
        after = assign_partitions(group[1:], 16)

        theirs = loads(before)[group[0]]
        assert theirs <= moved(before, after) <= 2 * theirs + 1, group


def test_symbols_spread_over_workers_about_evenly():
    symbols = [f"SYM{n}" for n in range(600)]
    owners = assign_partitions(WORKERS[:3], MARKET_PARTITIONS)

    per_worker = Counter(owners[partition_of(symbol)] for symbol in symbols)

    assert all(150 <= count <= 250 for count in per_worker.values()), per_worker


def test_a_member_is_live_until_its_heartbeats_stop_for_the_timeout():
    membership = Membership(timeout=2.0)

    assert membership.saw("a", now=10.0) is True
    assert membership.saw("a", now=11.0) is False
    assert membership.members(now=12.9) == {"a"}
    assert membership.members(now=13.0) == frozenset()
    assert membership.saw("a", now=13.5) is True


def test_a_member_that_says_it_leaves_is_gone_at_once():
    membership = Membership(timeout=2.0)
    membership.saw("a", now=0.0)
    membership.saw("b", now=0.0)

    assert membership.left("a") is True
    assert membership.left("a") is False
    assert membership.members(now=0.1) == {"b"}
