"""``tradebus run`` (``make run``): the four services trading a replay of sample data in paper mode.

Over RabbitMQ when one answers (four processes, as ``tradebus up``), otherwise all four in one process over the
in-memory bus. Either way it says which it chose, trades the replay, prints the account, and stops.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

from pika.exceptions import AMQPError

from shared.messaging.topology import Topology
from shared.messaging.urls import redact_url
from tools.backtest import BacktestConfig, run_backtest
from tools.backtest.report import summary_table
from tools.errors import ToolError
from tools.ops.broker import connect

from .processes import ServiceProcess, SuiteOptions, run_suite
from .progress import settled
from .up import add_suite_arguments, options_from


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_suite_arguments(parser)
    parser.set_defaults(namespace="tradebus-run", state_dir=Path("var/run"))
    parser.add_argument("--embedded", action="store_true", help="use the in-memory bus even if a broker answers")


def broker_answers(url: str) -> bool:
    """Return whether a RabbitMQ broker accepts a connection at ``url``."""
    try:
        with connect(url, "run"):
            return True
    except ToolError:
        return False


def reset(options: SuiteOptions) -> None:
    """Start the demo afresh: delete its queues and exchanges on the broker and its state on disk."""
    topology = Topology(options.namespace)
    with connect(options.amqp_url, "run") as connection:
        channel = connection.channel()
        for name in topology.durable_queue_names():
            channel.queue_delete(name)
        for exchange in (*topology.topic_exchanges(), topology.partitioned_market_exchange,
                         topology.dead_letter_exchange):
            channel.exchange_delete(exchange)
    shutil.rmtree(options.state_dir, ignore_errors=True)


def account_lines(report: dict[str, Any]) -> list[str]:
    """Return the portfolio's /health report as a few lines for people."""
    lines = [f"equity {Decimal(report['equity']):.4f}  cash {Decimal(report['cash']):.4f}  "
             f"fills {report['fills']}  closed trades {report['closed_trades']}  halted {report['halted']}"]
    lines += [f"position {key}: {quantity}" for key, quantity in report.get("positions", {}).items()]
    return lines


def run(args: argparse.Namespace) -> int:
    options = options_from(args)
    if not args.embedded and broker_answers(options.amqp_url):
        print(f"tradebus run: RabbitMQ answers at {redact_url(options.amqp_url)}: starting data, strategy, "
              f"execution and portfolio as four processes (namespace {options.namespace!r})", flush=True)
        return run_over_broker(options)
    print(f"tradebus run: no RabbitMQ at {redact_url(options.amqp_url)}: running the four services in one "
          "process over the in-memory bus", flush=True)
    return run_embedded(options)


def run_over_broker(options: SuiteOptions) -> int:
    try:
        reset(options)
    except (ToolError, AMQPError) as error:
        raise ToolError(f"could not reset namespace {options.namespace}: {error}") from None
    reports: dict[str, Any] = {}

    async def until_settled(processes: list[ServiceProcess]) -> None:
        reports.update(await settled(processes, options.amqp_url, Topology(options.namespace)))

    code = asyncio.run(run_suite(options, until=until_settled))
    if "portfolio" in reports:
        print("\n".join(["", "tradebus run: replay traded, account now:", *account_lines(reports["portfolio"])]))
    return code


def run_embedded(options: SuiteOptions) -> int:
    settings, read = options.settings, options.data_options
    result = asyncio.run(run_backtest(BacktestConfig(
        data=options.data, symbols=options.symbols, strategy=options.strategy, params=dict(options.params),
        timeframe=options.timeframe, quantity=options.quantity, commission=options.commission,
        bad_rows=read.bad_rows, tz=read.tz, columns=read.columns,  # type: ignore[arg-type]
        **({} if settings is None else {"sizing": settings.sizing, "risk": settings.risk, "paper": settings.paper,
                                         "portfolio": settings.portfolio}))))
    print(summary_table(result))
    return 0
