"""The backtester: the four services over the in-memory bus reproduce the reference result, fast path or strict."""

from __future__ import annotations

import gc
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from services.data.adapters import write_synthetic_csv
from shared.messaging.topology import Topology
from tests.paths import ORCL_SAMPLE as ORCL
from tools.backtest import BacktestConfig, run_backtest
from tools.backtest.engine import JOURNAL_LENGTH, capped, rare_collections

D = Decimal


@pytest.mark.parametrize(("commission", "final_value"), [(D(0), D("102646.0652")), (D("0.001"), D("102302.3330"))])
async def test_sma_cross_on_orcl_reproduces_the_reference_result(commission: Decimal, final_value: Decimal) -> None:
    result = await run_backtest(BacktestConfig(data=(ORCL,), symbols=("ORCL",), commission=commission))
    assert (result.bars, len(result.trades), result.fills) == (5036, 97, 195)
    assert result.final_value.quantize(D("0.0001")) == final_value
    (position,) = result.open_positions
    assert (position.quantity, position.average_price, position.opened_at.date().isoformat()) == (
        D(100), D("38.93"), "2014-11-04")
    first = [(t.entry_ts.date().isoformat(), t.entry_price, t.exit_ts.date().isoformat(), t.exit_price)
             for t in result.trades[:2]]
    assert first == [("1995-05-12", D("2.37037"), "1995-09-25", D("2.935185")),
                     ("1995-10-23", D("3.12037"), "1995-12-08", D("3.351852"))]
    assert result.loop_seconds > 0


async def test_fast_path_trades_exactly_as_the_strict_json_round_trip(tmp_path: Path) -> None:
    data = write_synthetic_csv(tmp_path / "bars.csv", 3000, seed=3)
    config = BacktestConfig(data=(data,), symbols=("SYN",), timeframe="1m", params={"fast": "5", "slow": "12"})
    fast = await run_backtest(config)
    strict = await run_backtest(replace(config, strict=True))
    assert len(fast.trades) > 50
    assert fast.trades == strict.trades
    assert (fast.final_value, fast.cash, fast.fills) == (strict.final_value, strict.cash, strict.fills)
    assert list(fast.curve.equities) == list(strict.curve.equities)


def test_only_the_journal_is_shortened() -> None:
    specs = Topology("t").suite_queues()
    shortened = [capped(spec) for spec in specs]
    assert [s.max_length for s in shortened if s.mode == "journal"] == [JOURNAL_LENGTH]
    assert [s for s in shortened if s.mode != "journal"] == [s for s in specs if s.mode != "journal"]


def test_rare_collections_restore_the_collector_threshold_even_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), rare_collections(12345):
        assert gc.get_threshold()[0] == 12345
        raise RuntimeError("boom")
    assert gc.get_threshold() == before
