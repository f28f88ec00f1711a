"""Every service's subscription table agrees with ``topology.SUITE`` on which types reach which of its queues."""

from __future__ import annotations

import pytest

from services.data.handlers import SUBSCRIPTIONS as DATA
from services.execution.handlers import SUBSCRIPTIONS as EXECUTION
from services.portfolio.handlers import SUBSCRIPTIONS as PORTFOLIO
from services.strategy.handlers import SUBSCRIPTIONS as STRATEGY
from shared.contracts import BarClosed, OrderFilled, SignalGenerated
from shared.messaging.subscriptions import Route, disagreements
from shared.messaging.topology import SUITE

TABLES = {"data": DATA, "strategy": STRATEGY, "execution": EXECUTION, "portfolio": PORTFOLIO}


@pytest.mark.parametrize("service", TABLES)
def test_a_service_s_table_and_the_suite_agree(service: str) -> None:
    assert disagreements(service, TABLES[service]) == []


def test_every_queue_of_the_suite_belongs_to_a_service_with_a_table() -> None:
    assert {service for service, _ in SUITE} == set(TABLES)


async def handle(message: object, deps: object) -> None:
    pass


def test_a_table_that_misses_a_type_handles_an_extra_one_or_names_an_unknown_queue_is_told_apart() -> None:
    table = {"signals": Route({SignalGenerated: handle, OrderFilled: handle}), "nonsense": Route({BarClosed: handle})}

    found = disagreements("execution", table)

    assert "execution has no queue 'nonsense' in SUITE" in found
    assert "execution/signals handles OrderFilled, which SUITE never routes there" in found
    assert "execution's table has no route for its queue 'market'" in found
    missing = disagreements("execution", {**EXECUTION, "market": Route({BarClosed: handle})})
    assert missing == ["execution/market receives QuoteTicked but has no handler for it",
                       "execution/market receives TradeTicked but has no handler for it"]
