"""JSON Schemas of the message contracts, written to a folder and checked against the committed copies.

Every message type gets ``<Type>.v<schema_version>.json``. A committed file is the published contract of that
version, so a structural change (fields, types, constraints, defaults) under an unchanged ``schema_version`` is an
error; a change of wording or order only (titles, descriptions, field order) just asks to regenerate the file.
"""

from __future__ import annotations

import argparse
import difflib
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shared.contracts import MESSAGE_TYPES, Message
from tools.errors import ToolError

DEFAULT_SCHEMA_DIR = Path("schemas")
_DOC_KEYWORDS = frozenset({"title", "description", "examples"})
_NAME_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})  # keys there are names
_DIFF_LINES = 30


def schema_filename(type_name: str, message_type: type[Message]) -> str:
    """Return the file name of ``message_type``'s schema: ``<Type>.v<schema_version>.json``."""
    return f"{type_name}.v{message_type.model_fields['schema_version'].default}.json"


def render_schema(message_type: type[Message]) -> str:
    """Return ``message_type``'s JSON Schema as text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(message_type.model_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_schemas(message_types: Mapping[str, type[Message]] = MESSAGE_TYPES) -> dict[str, str]:
    """Return file name -> schema text for every message type."""
    return {schema_filename(name, cls): render_schema(cls) for name, cls in sorted(message_types.items())}


@dataclass(frozen=True, slots=True)
class SchemaDrift:
    """A generated schema that does not match the committed file of the same name."""

    filename: str
    kind: Literal["missing", "cosmetic", "changed"]
    diff: str = ""

    @property
    def message(self) -> str:
        """Return what is wrong and what the developer should do about it."""
        type_name, _, rest = self.filename.partition(".v")
        version = rest.removesuffix(".json")
        if self.kind == "missing":
            return (f"{self.filename} is not committed (a new message type or a new schema_version): "
                    "run `tradebus schema` and commit the file")
        if self.kind == "cosmetic":
            return (f"{self.filename}: only wording or order changed: run `tradebus schema` to refresh it "
                    "(no version bump needed)")
        return (f"{self.filename}: the {type_name} schema changed but its schema_version is still {version}: "
                f"bump schema_version in the {type_name} model, then run `tradebus schema`\n{self.diff}")


def compare_schema(filename: str, generated: str, committed: str | None) -> SchemaDrift | None:
    """Return how ``generated`` differs from the ``committed`` text of the same file, or ``None`` if it does not."""
    if committed is None:
        return SchemaDrift(filename, "missing")
    if generated == committed:
        return None
    if _structure(json.loads(generated)) == _structure(json.loads(committed)):
        return SchemaDrift(filename, "cosmetic")
    diff = difflib.unified_diff(committed.splitlines(), generated.splitlines(), "committed", "generated",
                                lineterm="", n=1)
    return SchemaDrift(filename, "changed", "\n".join(list(diff)[:_DIFF_LINES]))


def check_schemas(generated_dir: Path, committed_dir: Path) -> list[SchemaDrift]:
    """Compare every schema in ``generated_dir`` with the file of the same name in ``committed_dir``."""
    drifts = []
    for path in sorted(generated_dir.glob("*.json")):
        committed = committed_dir / path.name
        drift = compare_schema(path.name, path.read_text(),
                               committed.read_text() if committed.exists() else None)
        if drift is not None:
            drifts.append(drift)
    return drifts


def write_schemas(out: Path, message_types: Mapping[str, type[Message]] = MESSAGE_TYPES, *,
                  force: bool = False) -> list[Path]:
    """Write every schema into ``out`` and return the files that were new or changed.

    Refuse (``ToolError``, nothing written) to overwrite a file whose structure changed under the same version,
    unless ``force`` (for a version not yet released).
    """
    rendered = render_schemas(message_types)
    changed = [drift for name, text in rendered.items()
               if (drift := compare_schema(name, text, _read(out / name))) is not None]
    refused = [drift.message for drift in changed if drift.kind == "changed"]
    if refused and not force:
        raise ToolError("refusing to overwrite published schemas (use --force only for an unreleased version):\n"
                        + "\n".join(refused))
    out.mkdir(parents=True, exist_ok=True)
    for drift in changed:
        (out / drift.filename).write_text(rendered[drift.filename])
    return [out / drift.filename for drift in changed]


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def _structure(node: Any, *, names: bool = False) -> Any:
    """Return ``node`` without documentation keywords and with ``required`` sorted: what validation depends on."""
    if isinstance(node, dict):
        if names:
            return {key: _structure(value) for key, value in node.items()}
        return {key: sorted(value) if key == "required" else _structure(value, names=key in _NAME_MAPS)
                for key, value in node.items() if key not in _DOC_KEYWORDS}
    if isinstance(node, list):
        return [_structure(item) for item in node]
    return node


# -- command line ----------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``tradebus schema`` options to ``parser``."""
    parser.add_argument("--out", type=Path, default=DEFAULT_SCHEMA_DIR,
                        help="folder of the schema files (default: %(default)s)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the folder does not match the contracts")
    parser.add_argument("--force", action="store_true",
                        help="overwrite a changed schema without a version bump (unreleased versions only)")


def run(args: argparse.Namespace) -> int:
    """Write (or with ``--check`` verify) the schema folder."""
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            write_schemas(Path(tmp))
            drifts = check_schemas(Path(tmp), args.out)
        for drift in drifts:
            print(drift.message)
        if not drifts:
            print(f"{len(MESSAGE_TYPES)} schemas in {args.out} match the contracts")
        return 1 if drifts else 0
    written = write_schemas(args.out, force=args.force)
    for path in written:
        print(f"wrote {path}")
    print(f"{len(MESSAGE_TYPES) - len(written)} schemas unchanged in {args.out}")
    return 0
