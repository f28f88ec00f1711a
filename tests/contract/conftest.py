"""The ``harness`` fixture: every contract test runs once on the in-memory bus and once on RabbitMQ."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.messaging.topology import Topology

from .harness import AmqpHarness, BusHarness, MemoryHarness

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


@pytest.fixture(params=["memory", pytest.param("amqp", marks=pytest.mark.integration)])
def bus_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def harness(bus_kind: str, topology: Topology, request: pytest.FixtureRequest) -> AsyncIterator[BusHarness]:
    """Yield a started harness of ``bus_kind``; close its buses and delete its broker names afterwards."""
    if bus_kind == "memory":
        harness: BusHarness = MemoryHarness(topology)
    else:
        harness = AmqpHarness(topology, request.getfixturevalue("broker_url"), root_delete_namespace(request.config))
    await harness.open()
    try:
        yield harness
    finally:
        await harness.close()


def root_delete_namespace(config: pytest.Config):  # noqa: ANN201 - the function tests/conftest.py defines
    # tests/ is not a package, so its conftest has no importable name of its own: ask pytest for the module
    return config.pluginmanager.get_plugin(str(ROOT_CONFTEST)).delete_namespace
