"""The control family: heartbeats to a worker group, history replies to their requester, neither journaled."""

from __future__ import annotations

from shared.contracts import BarHistoryProvided, WorkerHeartbeatSent
from shared.messaging.topology import PARTITIONED_TYPES, SUITE, Topology
from tests.factories import T0


def heartbeat() -> WorkerHeartbeatSent:
    return WorkerHeartbeatSent(ts_event=T0, ts_init=T0, source="w1", group="strategy", worker="w1", sequence=3)


def reply(requester: str = "host.example-12") -> BarHistoryProvided:
    return BarHistoryProvided(ts_event=T0, ts_init=T0, source="data", symbol="ORCL", timeframe="1d",
                              requester=requester)


def test_heartbeats_go_to_their_group_and_replies_to_their_requester_on_the_control_exchange():
    topo = Topology("ns")

    assert topo.address(heartbeat()) == ("ns.control", "control.heartbeat.strategy")
    assert topo.address(reply()) == ("ns.control", "control.history.host%2Eexample-12")
    assert "ns.control" in topo.topic_exchanges()


def test_control_messages_carry_no_partition_and_never_reach_the_strategy_partitions():
    topo = Topology("ns")

    assert topo.headers_for(heartbeat()) == {} and topo.headers_for(reply()) == {}
    assert BarHistoryProvided not in PARTITIONED_TYPES and WorkerHeartbeatSent not in PARTITIONED_TYPES


def test_the_journal_keeps_no_heartbeat_and_no_reply_so_a_reply_to_a_gone_requester_is_unroutable():
    patterns = {b.pattern for b in Topology("ns").journal_queue().bindings}

    assert not any(p.startswith("control.") for p in patterns)


def test_no_shared_queue_of_the_suite_takes_strategy_fills_the_owners_inbox_does():
    assert ("strategy", "fills") not in SUITE
