"""The ``tradebus`` dispatcher and the parts of its tools that need no broker."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pika
import pytest

from shared.contracts import encode
from shared.messaging.topology import Topology
from tests.factories import fill
from tools import cli
from tools.cli import main
from tools.ops.dlq import DeadLetter, dlq_name, known_dead_letter_queues
from tools.ops.tail import TailedEvent

COMMITTED = Path(__file__).resolve().parents[2] / "schemas"


# -- dispatcher -------------------------------------------------------------------------------------------------
def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0

    out = capsys.readouterr().out
    assert all(name in out for name in cli.COMMANDS)


def test_an_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["launch-rockets"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_only_the_chosen_subcommand_module_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    imported: list[str] = []
    real_import = importlib.import_module

    def recording_import(name: str) -> object:
        imported.append(name)
        return real_import(name)

    monkeypatch.setattr(cli.importlib, "import_module", recording_import)

    assert main(["schema", "--check", "--out", str(COMMITTED)]) == 0
    assert set(imported) == {"tools.ops.schemas"}


def test_an_unreachable_broker_is_a_message_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "list", "--url", "amqp://guest:secret@127.0.0.1:1/"]) == 1

    err = capsys.readouterr().err
    assert err.startswith("tradebus dlq: error: cannot reach the broker at amqp://guest:***@127.0.0.1:1/")
    assert "secret" not in err and "Traceback" not in err


def test_a_count_below_one_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tail", "--count", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


# -- schema -----------------------------------------------------------------------------------------------------
def test_schema_check_passes_on_the_committed_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--check", "--out", str(COMMITTED)]) == 0
    assert "match the contracts" in capsys.readouterr().out


def test_schema_check_fails_when_a_file_was_changed_by_hand(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    main(["schema", "--out", str(tmp_path)])
    path = tmp_path / "OrderFilled.v2.json"
    schema = json.loads(path.read_text())
    schema["required"].remove("fill_id")
    path.write_text(json.dumps(schema))

    assert main(["schema", "--check", "--out", str(tmp_path)]) == 1
    assert "OrderFilled.v2.json: the OrderFilled schema changed" in capsys.readouterr().out


def test_schema_refuses_to_overwrite_a_changed_file_unless_forced(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    main(["schema", "--out", str(tmp_path)])
    path = tmp_path / "OrderFilled.v2.json"
    path.write_text(path.read_text().replace('"fill_id"', '"fill_ref"'))
    tampered = path.read_text()

    assert main(["schema", "--out", str(tmp_path)]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert path.read_text() == tampered

    assert main(["schema", "--out", str(tmp_path), "--force"]) == 0
    assert main(["schema", "--check", "--out", str(tmp_path)]) == 0


# -- tail -------------------------------------------------------------------------------------------------------
def test_a_tail_line_shows_time_routing_key_type_and_the_fields_beyond_the_envelope() -> None:
    event = TailedEvent("ns.order", "order.filled.ORCL", "OrderFilled", encode(fill()))

    line = event.line()

    assert line.startswith("2024-01-02T14:30:00Z  order.filled.ORCL  OrderFilled  ")
    assert "symbol=ORCL" in line and "price=10.01" in line
    assert "message_id" not in line and "correlation_id" not in line


def test_a_tail_line_for_a_body_that_is_not_json_says_so() -> None:
    event = TailedEvent("ns.order", "order.filled.ORCL", None, b"{not json")

    assert event.line().endswith("  order.filled.ORCL  ?  <9 bytes, not a JSON object>")


# -- dlq --------------------------------------------------------------------------------------------------------
def test_the_known_dead_letter_queues_are_those_of_the_work_queues_partitions_and_inboxes() -> None:
    topology = Topology("ns", partitions=16)

    names = known_dead_letter_queues(topology)

    assert {"ns.execution.signals.dlq", "ns.portfolio.orders.dlq", "ns.data.requests.dlq"} <= set(names)
    assert {f"ns.strategy.market.p{p:02d}.dlq" for p in range(16)} <= set(names)
    assert "ns.strategy.inbox.dlq" in names and "ns.journal.dlq" not in names


def test_a_queue_and_its_dlq_name_the_same_dead_letter_queue() -> None:
    assert dlq_name("ns.portfolio.orders") == dlq_name("ns.portfolio.orders.dlq") == "ns.portfolio.orders.dlq"


def letter(headers: dict[str, object]) -> DeadLetter:
    return DeadLetter(1, pika.BasicProperties(type="OrderFilled", message_id="m-1", headers=headers), b"{}")


def test_a_dead_letter_from_the_bus_replays_to_its_recorded_origin() -> None:
    dead = letter({"x-original-exchange": "ns.order", "x-original-routing-key": "order.filled.ORCL",
                   "x-death": [{"exchange": "elsewhere", "routing-keys": ["other"]}]})

    assert dead.origin() == ("ns.order", "order.filled.ORCL")


def test_a_dead_letter_from_the_broker_replays_to_the_exchange_in_its_latest_death() -> None:
    dead = letter({"x-death": [{"exchange": "ns.order", "routing-keys": ["order.filled.ORCL"],
                                "queue": "ns.portfolio.orders", "count": 1, "reason": "rejected"},
                               {"exchange": "older", "routing-keys": ["older.key"]}]})

    assert dead.origin() == ("ns.order", "order.filled.ORCL")
    assert dead.failed_queue == "ns.portfolio.orders"


def test_a_dead_letter_without_any_record_has_no_origin() -> None:
    assert letter({}).origin() is None


def test_replay_strips_dead_letter_bookkeeping_and_keeps_routing_headers() -> None:
    dead = letter({"x-error": "InvalidMessage: no", "x-error-type": "InvalidMessage", "x-failed-queue": "q",
                   "x-failed-at": "now", "x-original-exchange": "ns.order", "x-original-routing-key": "k",
                   "x-attempts": 1, "x-death": [{}], "x-delivery-count": 2, "x-first-death-queue": "q",
                   "tradebus-partition": 7, "x-schema-version": 1, "x-causation-id": "c"})

    properties = dead.replay_properties()

    assert properties.headers == {"tradebus-partition": 7, "x-schema-version": 1, "x-causation-id": "c"}
    assert (properties.type, properties.message_id, properties.delivery_mode) == ("OrderFilled", "m-1", 2)
    assert "x-error" in dead.headers  # the fetched letter itself is left as it was
