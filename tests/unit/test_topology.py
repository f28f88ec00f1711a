import zlib

import pytest

from shared.contracts import MESSAGE_TYPES, BarClosed, OrderFilled, PortfolioSnapshot, TradeTicked
from shared.messaging.memory import topic_matches
from shared.messaging.topology import (
    MARKET_PARTITIONS,
    REDELIVERY_BACKSTOP,
    ROUTES,
    Topology,
    partition_of,
    symbol_token,
)
from tests.factories import T0, bar, fill


def test_every_message_type_has_a_route():
    assert set(ROUTES) == set(MESSAGE_TYPES.values())


def test_routing_keys_are_family_kind_symbol():
    topo = Topology("ns")
    assert topo.address(bar(symbol="ORCL")) == ("ns.market", "market.bar.ORCL")
    assert topo.address(fill(symbol="BRK.B")) == ("ns.order", "order.filled.BRK%2EB")
    snapshot = PortfolioSnapshot(ts_event=T0, ts_init=T0, source="t", cash=1, equity=1, peak_equity=1, drawdown=0,
                                 gross_exposure=0, net_exposure=0, realized_pnl=0, unrealized_pnl=0)
    assert topo.address(snapshot) == ("ns.portfolio", "portfolio.snapshot.~")


def test_dotted_symbols_stay_one_word_so_patterns_bind_by_type_and_symbol():
    key = Topology().address(bar(symbol="BRK.B"))[1]
    assert len(key.split(".")) == 3
    assert topic_matches(Topology().pattern(BarClosed), key)
    assert topic_matches(Topology().pattern(BarClosed, "BRK.B"), key)
    assert not topic_matches(Topology().pattern(TradeTicked), key)
    assert symbol_token("BRK.B") != symbol_token("BRKB")


def test_quorum_queues_dead_letter_to_their_own_dlq_the_broker_s_limit_far_above_the_service_s():
    topo = Topology("ns", delivery_limit=4)
    spec = topo.service_queue("portfolio", "orders", topo.bind(OrderFilled))
    args = spec.arguments()
    assert spec.name == "ns.portfolio.orders" and spec.dlq == "ns.portfolio.orders.dlq"
    assert spec.delivery_limit == 4 and args["x-delivery-limit"] == REDELIVERY_BACKSTOP > 4 * 10
    assert args["x-queue-type"] == "quorum"
    assert args["x-dead-letter-exchange"] == "ns.dlx" and args["x-dead-letter-routing-key"] == spec.name


def test_per_instance_queues_dead_letter_to_one_durable_queue_of_their_purpose():
    topo = Topology("ns")
    inboxes = [topo.instance_queue("strategy", "inbox", worker, topo.bind(OrderFilled)) for worker in ("w1", "w2")]

    assert {spec.dlq for spec in inboxes} == {"ns.strategy.inbox.dlq"}
    assert {spec.arguments()["x-dead-letter-routing-key"] for spec in inboxes} == {"ns.strategy.inbox"}
    assert "ns.strategy.inbox.dlq" in {dlq.name for dlq in topo.dead_letter_queues()}
    with pytest.raises(ValueError, match="dlq"):
        topo.instance_queue("strategy", "inbox", "dlq", ())


def test_partitions_are_stable_and_spread():
    symbols = [f"S{i}" for i in range(400)]
    partitions = [partition_of(s) for s in symbols]
    assert partition_of("ORCL") == zlib.crc32(b"ORCL") % MARKET_PARTITIONS == 4  # same in every process
    assert set(partitions) == set(range(MARKET_PARTITIONS))
    spec = Topology("ns").partition_queue(3)
    assert spec.arguments()["x-single-active-consumer"] is True and spec.name == "ns.strategy.market.p03"


def test_market_events_carry_their_partition_header():
    topo = Topology("ns")
    assert topo.headers_for(bar(symbol="ORCL")) == {"tradebus-partition": partition_of("ORCL")}
    assert topo.headers_for(fill()) == {}
