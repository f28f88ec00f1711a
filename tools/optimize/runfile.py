"""A run file: the ``--config`` TOML of ``tradebus backtest``, as a dict, read from options and written back.

Every trial is a run file (the study's base run with the trial's point written in) turned into a backtest by the
backtest command's own ``config_from``: what a trial ran is exactly what ``tradebus backtest --config`` runs.
"""

from __future__ import annotations

import argparse
import math
import re
import tempfile
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from tools.backtest.command import CONFIG_KEYS
from tools.backtest.command import add_arguments as add_backtest_arguments
from tools.backtest.command import config_from as backtest_config_from
from tools.backtest.engine import BacktestConfig
from tools.errors import UsageError
from tools.run_options import DATA_KEYS, GROUPS
from tools.settings_options import given, load_config

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def run_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Return the base run the options describe: the ``--config`` file, then the options given over it."""
    config = load_config(args.config, CONFIG_KEYS, GROUPS, tables=("params", "columns"))
    run: dict[str, Any] = {key: (dict(value) if isinstance(value, dict) else value)
                           for key, value in (config.data if config else {}).items()}
    for key in ("data", "symbol"):
        values = getattr(args, key, None)
        if values:
            run[key] = [str(value) for value in values]
    for key in ("strategy", "timeframe", *DATA_KEYS):
        value = getattr(args, key, None)
        if value is not None:
            run[key] = value
    if getattr(args, "columns", None):
        run["columns"] = {**run.get("columns", {}), **args.columns}
    for group in GROUPS:
        values = given(args, group)
        if values:
            run[group.prefix] = {**run.get(group.prefix, {}), **values}
    return run


def backtest_config(run: Mapping[str, Any]) -> BacktestConfig:
    """Return the backtest ``tradebus backtest --config FILE`` runs for ``run``; ``UsageError`` if it refuses it."""
    parser = argparse.ArgumentParser(add_help=False)
    add_backtest_arguments(parser)
    with tempfile.TemporaryDirectory(prefix="tradebus-optimize-") as folder:
        path = Path(folder) / "run.toml"
        path.write_text(dumps(run), encoding="utf-8")
        return backtest_config_from(parser.parse_args(["--config", str(path)]))


def read(path: Path) -> dict[str, Any]:
    """Return the run file at ``path``."""
    return tomllib.loads(path.read_text(encoding="utf-8"))


def dumps(run: Mapping[str, Any]) -> str:
    """Return ``run`` as TOML: its plain keys first, then a ``[table]`` per dict."""
    lines = [f"{_key(key)} = {_value(value)}" for key, value in run.items() if not isinstance(value, dict)]
    for name, table in run.items():
        if isinstance(table, dict):
            lines += ["", f"[{_key(name)}]", *(f"{_key(key)} = {_value(value)}" for key, value in table.items())]
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UsageError(f"{value} cannot be written to a run file")
        return repr(value)
    if isinstance(value, Decimal):
        text = format(value, "f")
        exact = "." not in text or repr(float(text)) == text
        return text if exact and value.is_finite() else _string(text)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Path):
        return _string(str(value))
    return _string(str(value))


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\n", "\\n")
    return f'"{escaped}"'
