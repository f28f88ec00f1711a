"""The committed JSON Schemas match the contracts, and a schema change without a version bump is caught."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pytest

from shared import contracts
from shared.contracts import MESSAGE_TYPES, Event
from tools.errors import ToolError
from tools.ops.schemas import check_schemas, render_schema, write_schemas

COMMITTED = Path(__file__).resolve().parents[2] / "schemas"


def drifts_against_committed(tmp_path: Path, **overrides: type[contracts.Message]) -> list:
    """Regenerate the schemas (with ``overrides`` replacing message types) and compare with the committed ones."""
    generated = tmp_path / "generated"
    write_schemas(generated, {**MESSAGE_TYPES, **overrides})
    return check_schemas(generated, COMMITTED)


class BarClosedWithVenue(contracts.BarClosed):
    """BarClosed with a field added and the version unchanged."""

    venue: str = "XNYS"


CURRENT = f"BarClosed.v{contracts.BarClosed.model_fields['schema_version'].default}.json"
NEXT = f"BarClosed.v{contracts.BarClosed.model_fields['schema_version'].default + 1}.json"


class BarClosedNext(contracts.BarClosed):
    """BarClosed with a field added and the version bumped."""

    schema_version: Literal[3] = 3  # type: ignore[assignment]
    venue: str = "XNYS"


class BarClosedReworded(contracts.BarClosed):
    """Record a closed bar (reworded)."""


def test_committed_schemas_match_the_contracts(tmp_path: Path) -> None:
    drifts = drifts_against_committed(tmp_path)

    assert not drifts, "\n\n".join(drift.message for drift in drifts)


def test_every_message_type_has_exactly_one_current_schema_file(tmp_path: Path) -> None:
    written = write_schemas(tmp_path)

    assert sorted(path.name.split(".v")[0] for path in written) == sorted(MESSAGE_TYPES)
    assert [path.name for path in written if path.name.startswith("BarClosed.")] == [CURRENT]


def test_a_field_added_without_a_version_bump_asks_for_a_bump(tmp_path: Path) -> None:
    drifts = drifts_against_committed(tmp_path, BarClosed=BarClosedWithVenue)

    assert [(d.filename, d.kind) for d in drifts] == [(CURRENT, "changed")]
    assert "bump schema_version" in drifts[0].message
    assert "venue" in drifts[0].message  # the diff shows what changed


def test_a_new_version_without_its_file_asks_to_run_tradebus_schema(tmp_path: Path) -> None:
    drifts = drifts_against_committed(tmp_path, BarClosed=BarClosedNext)

    assert [(d.filename, d.kind) for d in drifts] == [(NEXT, "missing")]
    assert "run `tradebus schema`" in drifts[0].message


def test_a_reworded_docstring_asks_to_regenerate_without_a_bump(tmp_path: Path) -> None:
    drifts = drifts_against_committed(tmp_path, BarClosed=BarClosedReworded)

    assert [(d.filename, d.kind) for d in drifts] == [(CURRENT, "cosmetic")]
    assert "no version bump needed" in drifts[0].message


def test_a_field_named_like_a_schema_keyword_still_counts_as_structure(tmp_path: Path) -> None:
    class Note(Event):
        type: Literal["Note"] = "Note"
        schema_version: Literal[1] = 1
        title: str

    class NoteWithNumericTitle(Note):
        title: int  # type: ignore[assignment]

    write_schemas(tmp_path / "committed", {"Note": Note})
    write_schemas(tmp_path / "generated", {"Note": NoteWithNumericTitle})

    drifts = check_schemas(tmp_path / "generated", tmp_path / "committed")

    assert [d.kind for d in drifts] == ["changed"]


def test_rendering_is_stable_sorted_and_ends_with_a_newline() -> None:
    text = render_schema(contracts.OrderFilled)

    assert text == render_schema(contracts.OrderFilled)
    assert text.endswith("}\n")
    properties = json.loads(text)["properties"]
    assert list(properties) == sorted(properties)


def test_writing_refuses_to_overwrite_a_published_schema_that_changed(tmp_path: Path) -> None:
    write_schemas(tmp_path)
    before = (tmp_path / CURRENT).read_text()

    with pytest.raises(ToolError, match=CURRENT):
        write_schemas(tmp_path, {**MESSAGE_TYPES, "BarClosed": BarClosedWithVenue})

    assert (tmp_path / CURRENT).read_text() == before


def test_writing_with_force_overwrites_a_changed_schema(tmp_path: Path) -> None:
    write_schemas(tmp_path)

    written = write_schemas(tmp_path, {**MESSAGE_TYPES, "BarClosed": BarClosedWithVenue}, force=True)

    assert [path.name for path in written] == [CURRENT]
    assert "venue" in json.loads(written[0].read_text())["properties"]


def test_writing_a_new_version_keeps_the_older_version_file(tmp_path: Path) -> None:
    write_schemas(tmp_path)

    write_schemas(tmp_path, {**MESSAGE_TYPES, "BarClosed": BarClosedNext})

    assert (tmp_path / CURRENT).exists()
    assert "venue" in json.loads((tmp_path / NEXT).read_text())["properties"]
