"""Fixtures of the chaos tests: a RabbitMQ node of their own, which they may stop, restart and break."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .private_broker import HOW_TO_GET_RABBITMQ, RABBITMQ_SERVER, PrivateBroker


@pytest.fixture(scope="module")
def private_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateBroker]:
    """Yield a running private node for the module; stop it afterwards (its logs stay in pytest's tmp dir)."""
    if not RABBITMQ_SERVER.exists():
        pytest.fail(HOW_TO_GET_RABBITMQ, pytrace=False)
    with PrivateBroker(tmp_path_factory.mktemp("private-broker")) as broker:
        yield broker
