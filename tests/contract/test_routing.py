"""Contract: a queue receives exactly the messages its bindings match, by type, by symbol and by partition."""

from __future__ import annotations

from shared.contracts import BarClosed, QuoteTicked, TradeTicked
from shared.messaging.bus import Subscription
from shared.messaging.topology import Binding, partition_of

from .harness import BusHarness, Recorder, bar, service_queue, trade


async def subscribe_everything_market(harness: BusHarness) -> Recorder:
    catch_all = service_queue(harness.topology, "all_market", Binding(harness.topology.exchange("market"), "market.#"))
    recorder = Recorder()
    await harness.bus.subscribe(Subscription(catch_all, {BarClosed: recorder, TradeTicked: recorder,
                                                         QuoteTicked: recorder}))
    return recorder


async def test_queue_receives_only_the_types_and_symbols_it_is_bound_to(harness: BusHarness) -> None:
    topo = harness.topology
    selective = service_queue(topo, "orcl_bars_all_trades", *topo.bind(BarClosed, symbol="ORCL"),
                              *topo.bind(TradeTicked))
    chosen = Recorder()
    await harness.bus.subscribe(Subscription(selective, {BarClosed: chosen, TradeTicked: chosen}))
    everything = await subscribe_everything_market(harness)
    quote = QuoteTicked(symbol="ORCL", bid=1, ask=2, bid_size=1, ask_size=1, ts_event=bar().ts_event,
                        ts_init=bar().ts_init, source="contract-test")
    published = [bar("ORCL", 1), bar("MSFT", 2), trade("MSFT", 3), quote, trade("ORCL", 4)]

    for message in published:
        await harness.bus.publish(message)

    assert await everything.wait_for(5) == published
    assert await chosen.wait_for(3) == [published[0], published[2], published[4]]


async def test_symbol_with_a_dot_matches_its_own_binding_and_no_other(harness: BusHarness) -> None:
    topo = harness.topology
    brk_b = service_queue(topo, "brk_b", *topo.bind(BarClosed, symbol="BRK.B"))
    chosen = Recorder()
    await harness.bus.subscribe(Subscription(brk_b, {BarClosed: chosen}))
    everything = await subscribe_everything_market(harness)
    published = [bar("BRK", 1), bar("BRK.B", 2), bar("B", 3), bar("BRK.B.X", 4), bar("BRK.B", 5)]

    for message in published:
        await harness.bus.publish(message)

    await everything.wait_for(5)
    assert await chosen.wait_for(2) == [published[1], published[4]]


async def test_market_events_reach_only_the_partition_of_their_symbol(harness: BusHarness) -> None:
    topo = harness.topology
    symbols = ["ORCL", "MSFT", "AAPL", "IBM", "NVDA", "AMZN", "TSLA", "META", "BRK.B", "EUR/USD"]
    first, second = partition_of("ORCL", topo.partitions), partition_of("MSFT", topo.partitions)
    assert first != second, "pick two symbols in different partitions"
    recorders = {first: Recorder(), second: Recorder()}
    for partition, recorder in recorders.items():
        await harness.bus.subscribe(Subscription(topo.partition_queue(partition), {BarClosed: recorder}))
    await subscribe_everything_market(harness)  # so bars of other partitions are routable too
    # the last two land in the watched partitions, so anything misrouted before them shows up first
    published = [bar(symbol, seq) for seq, symbol in enumerate([*symbols, *symbols, "ORCL", "MSFT"])]

    for message in published:
        await harness.bus.publish(message)

    for partition, recorder in recorders.items():
        expected = [m for m in published if partition_of(m.symbol, topo.partitions) == partition]
        assert await recorder.wait_for(len(expected)) == expected
