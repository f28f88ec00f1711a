"""The long chaos run: 20 symbols x 5,000 bars through the four services as processes, 50 faults of every kind.

The short version is ``tests/chaos/test_chaos.py`` (in ``make test``); this one runs the same harness longer and
prints what it did: the faults injected, the fills of the fault-free reference (the backtester on the same data)
and of the chaos run, every difference between the two ledgers, and the dead letters left. It starts a RabbitMQ node
of its own (the Debian package's ``/usr/lib/rabbitmq/bin/rabbitmq-server``), so no other broker is touched. It exits 1
if the two runs differ.

Usage::

    python -m bench.chaos                       # 20 x 5,000 bars, 50 faults of each of 6 kinds, ~15-20 min
    python -m bench.chaos --symbols 4 --bars 1000 --faults 3 --minutes 2    # a smaller run
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from services.data.adapters import write_synthetic_csv
from tests.chaos.harness import FAULT_KINDS, Ledger, pace_for, plan_faults, reference, run_chaos
from tests.chaos.private_broker import PrivateBroker
from tools.suite.processes import SuiteOptions


def differences(expected: Ledger, actual: Ledger) -> list[str]:
    """Return every way ``actual`` differs from ``expected`` (empty when they agree)."""
    found = []
    if actual.cash != expected.cash:
        found.append(f"cash {actual.cash} instead of {expected.cash}")
    if actual.positions != expected.positions:
        found.append(f"positions {actual.positions} instead of {expected.positions}")
    missing, extra = expected.fill_ids - actual.fill_ids, actual.fill_ids - expected.fill_ids
    if missing:
        found.append(f"{len(missing)} fills missing, e.g. {sorted(missing)[:3]}")
    if extra:
        found.append(f"{len(extra)} fills the reference does not have, e.g. {sorted(extra)[:3]}")
    if actual.closed_trades != expected.closed_trades:
        found.append(f"{len(actual.closed_trades)} closed trades instead of {len(expected.closed_trades)}, "
                     "or some differ")
    return found


async def main(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="tradebus-chaos-"))
    start = datetime(2021, 1, 4, tzinfo=timezone.utc)
    symbols = tuple(f"SYN{i:02d}" for i in range(args.symbols))
    data = tuple(write_synthetic_csv(work / f"{s.lower()}.csv", args.bars, seed=args.seed + i, start=start,
                                     step=timedelta(minutes=1), symbol=s) for i, s in enumerate(symbols))
    faults = plan_faults(args.seed, per_kind=args.faults, start=0.02, end=0.95)
    print(f"chaos: {len(symbols)} symbols x {args.bars} bars, {len(faults)} faults "
          f"({args.faults} of each of {len(FAULT_KINDS)} kinds), replay paced to {args.minutes} min; work in {work}")
    with PrivateBroker(work / "broker") as broker:
        options = SuiteOptions(amqp_url=broker.url, namespace="chaos", state_dir=work / "state", data=data,
                               symbols=symbols, timeframe="1m", speed=pace_for(data, args.minutes * 60))
        expected = await reference(options)
        # the services' logs and the faults, for whoever must explain a run that went wrong
        with (work / "suite.log").open("w") as log:
            def keep(line: str) -> None:
                log.write(line + "\n")

            run = await run_chaos(broker, options, faults, total_events=len(symbols) * args.bars,
                                  outage_s=args.outage, out=keep, timeout=args.minutes * 60 * 4 + 600)
    assert run.ledger is not None
    kinds = Counter(fault.kind for fault, _ in run.injected)
    print(f"faults injected: {sum(kinds.values())}: " + ", ".join(f"{k} {kinds[k]}" for k in FAULT_KINDS))
    print(f"fills: reference {len(expected.fill_ids)}, chaos run {len(run.ledger.fill_ids)} "
          f"({run.fills_applied} applied, {run.paper_orders} orders at the paper broker)")
    print(f"closed trades: reference {len(expected.closed_trades)}, chaos run {len(run.ledger.closed_trades)}")
    print(f"final cash: reference {expected.cash}, chaos run {run.ledger.cash}")
    dead = {name: depth for name, depth in run.dead_letters.items() if depth}
    print(f"dead letters: {sum(dead.values())} ({dead or 'every dead-letter queue empty'})")
    print(f"services up at the end: {run.services_up}")
    print(f"wall time: {run.seconds:.0f} s")
    found = differences(expected, run.ledger)
    if run.paper_orders != run.fills_applied:
        found.append(f"{run.paper_orders} orders for {run.fills_applied} fills")
    if dead or not all(run.services_up.values()):
        found.append("dead letters left or a service down")
    print("differences: " + ("; ".join(found) if found else "none"))
    return 1 if found else 0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--bars", type=int, default=5000, help="bars per symbol")
    parser.add_argument("--faults", type=int, default=50, help="faults of each kind")
    parser.add_argument("--minutes", type=float, default=15.0, help="how long the replay is paced to last")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds the broker stays stopped per restart")
    parser.add_argument("--seed", type=int, default=20261203)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
