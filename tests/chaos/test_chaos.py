"""The suite under faults ends exactly where it ends without them: nothing lost, nothing applied twice, nothing stuck.

Four processes replay two symbols of 2,000 daily bars each (ORCL and GOOG, from 2004-08-19) on a RabbitMQ node of
the test's own, while every service is killed with SIGKILL at least once, the broker is stopped and started, and
every client connection is closed, at positions of the replay a fixed seed draws. The supervisor restarts what
dies (crash-only recovery). Against the backtester's fault-free run of the same data: the same cash, the same
positions, the same set of fill ids, the same closed trades; every fill applied once; one order per fill (no
signal placed twice); every dead-letter queue empty; every service up at the end.
"""

from __future__ import annotations

import pytest

from tests.paths import FIXTURES, ORCL_SAMPLE
from tools.suite.processes import SuiteOptions
from tools.suite.run import reset

from .harness import STARTING_CASH, pace_for, plan_faults, reference, run_chaos, write_replay_data

pytestmark = pytest.mark.integration

SEED = 20261203
BARS = 2_000
REPLAY_SECONDS = 50.0


async def test_faults_of_every_kind_change_nothing_in_the_final_ledger(private_broker, tmp_path):
    sources = {"ORCL": ORCL_SAMPLE, "GOOG": FIXTURES / "goog-2004-2013.csv"}
    data = write_replay_data(tmp_path / "data", sources, BARS, "2004-08-19")
    options = SuiteOptions(amqp_url=private_broker.url, namespace="chaos", state_dir=tmp_path / "state", data=data,
                           symbols=("ORCL", "GOOG"), speed=pace_for(data, REPLAY_SECONDS))
    expected = await reference(options)
    faults = plan_faults(SEED)

    try:
        run = await run_chaos(private_broker, options, faults, total_events=2 * BARS)
    finally:
        reset(options)

    assert [f.kind for f, _ in run.injected] == [f.kind for f in faults]
    assert run.ledger is not None
    assert run.ledger.fill_ids == expected.fill_ids and len(expected.fill_ids) > 100
    assert run.fills_applied == len(expected.fill_ids)
    assert run.paper_orders == len(expected.fill_ids)  # every order fills once: one order per signal
    assert run.ledger.cash == expected.cash and run.ledger.positions == expected.positions
    assert run.ledger.closed_trades == expected.closed_trades
    assert run.ledger.cash != STARTING_CASH
    assert run.dead_letters and not any(run.dead_letters.values()), run.dead_letters
    assert run.services_up == {"portfolio": True, "execution": True, "strategy": True, "data": True}
