"""The data service answers history requests: the last bars, or the last bars before a time, to the requester."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.data.domain import BarHistory
from services.data.handlers import DataDeps, on_history_request
from shared.contracts import BarHistoryProvided, Message, RequestBarHistory
from shared.messaging.errors import PublishFailed, Unroutable
from shared.messaging.memory import InMemoryBus
from shared.messaging.topology import Topology
from shared.runtime.clock import SimulatedClock
from tests.factories import T0, bars


class ReplyBus:
    """Keep the replies, or fail every publish with ``error``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.replies: list[Message] = []
        self.error = error

    async def publish(self, message: Message) -> None:
        if self.error is not None:
            raise self.error
        self.replies.append(message)


def deps(bus: object, count: int = 20, page_bars: int = 1000) -> DataDeps:
    history = BarHistory(maxlen=50)
    for b in bars(count, "ORCL"):
        history.append(b)
    return DataDeps(history, bus=bus, clock=SimulatedClock(T0), source="data@test", page_bars=page_bars)  # type: ignore[arg-type]


def request(**fields) -> RequestBarHistory:  # type: ignore[no-untyped-def]
    return RequestBarHistory(**{"ts_event": T0, "ts_init": T0, "source": "strategy@w1", "symbol": "ORCL",
                                "count": 5, "requester": "w1", **fields})


async def test_without_before_the_last_bars_are_returned_oldest_first():
    bus = ReplyBus()
    asked = request(count=3)

    await on_history_request(asked, deps(bus))

    reply = bus.replies[0]
    assert isinstance(reply, BarHistoryProvided)
    assert [v.ts for v in reply.bars] == [b.ts_event for b in bars(20, "ORCL")[-3:]]
    assert (reply.requester, reply.causation_id) == ("w1", asked.message_id)


async def test_before_keeps_only_bars_strictly_older_than_that_time_the_last_count_of_them():
    bus = ReplyBus()
    orcl = bars(20, "ORCL")

    await on_history_request(request(count=4, before=orcl[10].ts_event), deps(bus))

    assert [v.ts for v in bus.replies[0].bars] == [b.ts_event for b in orcl[6:10]]  # type: ignore[attr-defined]


async def test_before_the_first_bar_there_is_no_history():
    bus = ReplyBus()

    await on_history_request(request(before=T0), deps(bus))

    assert bus.replies[0].bars == ()  # type: ignore[attr-defined]


async def test_a_reply_whose_requester_is_gone_is_dropped():
    bus = ReplyBus(Unroutable("unroutable: no queue bound for 'control.history.w1'"))

    await on_history_request(request(before=T0 + timedelta(days=5)), deps(bus))


async def test_a_reply_the_broker_did_not_confirm_fails_the_request_so_it_is_retried():
    bus = ReplyBus(PublishFailed("no confirm for 'control.history.w1' within 10s"))

    with pytest.raises(PublishFailed):
        await on_history_request(request(), deps(bus))


async def test_the_reply_is_routed_to_its_requester_only():
    topology = Topology("ns")
    bus = InMemoryBus(topology)
    for worker in ("w1", "w2"):
        inbox = topology.instance_queue("strategy", "inbox", worker, topology.bind(BarHistoryProvided, symbol=worker))
        await bus.declare(inbox)

    await on_history_request(request(requester="w2"), deps(bus))

    assert [len(bus.queued(f"ns.strategy.inbox.{w}")) for w in ("w1", "w2")] == [0, 1]


async def test_a_long_history_comes_in_pages_of_consecutive_bars():
    bus = ReplyBus()
    asked = request(count=20)

    await on_history_request(asked, deps(bus, page_bars=7))

    assert [(r.page, r.pages, len(r.bars)) for r in bus.replies] == [(0, 3, 7), (1, 3, 7), (2, 3, 6)]  # type: ignore[attr-defined]
    assert [v.ts for r in bus.replies for v in r.bars] == [b.ts_event for b in bars(20, "ORCL")]  # type: ignore[attr-defined]
    assert {r.causation_id for r in bus.replies} == {asked.message_id}
