"""The options ``backtest`` and ``up`` share: how to read the data files, and the services' settings.

The settings options are derived from the services' own models (``tools.settings_options``): execution's
``SizingSettings``, ``RiskSettings`` and ``PaperSettings``, and the portfolio's stops, kill switch and starting cash.
The short options of old (``--quantity --cash --commission --slippage-bps --fill``) are aliases of them.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.data.adapters import CsvBarFeed
from services.data.domain import ColumnError, ColumnMapping
from services.data.domain.columns import COLUMN_FIELDS
from services.execution.settings import PaperSettings, RiskSettings, SizingSettings
from services.portfolio.settings import PortfolioSettings
from services.strategy.adapters.loading import prepare_strategy
from services.strategy.domain import StrategyParamsError, UnknownStrategy, parse_params
from tools.errors import UsageError
from tools.settings_options import OptionGroup, RunConfig, add_group, build, given, pick

SIZING = OptionGroup("sizing", SizingSettings, aliases={"quantity": ("--quantity",)}, env_section="SIZING")
RISK = OptionGroup("risk", RiskSettings, env_section="RISK")
PAPER = OptionGroup("paper", PaperSettings, exclude=frozenset({"replay_window"}), env_section="PAPER",
                    aliases={"commission_rate": ("--commission",), "slippage_bps": ("--slippage-bps",),
                             "fill_on": ("--fill",)})
PORTFOLIO = OptionGroup("portfolio", PortfolioSettings, env_section="",
                        fields=("starting_cash", "max_drawdown", "stop_loss", "take_profit"),
                        aliases={"starting_cash": ("--cash",)})
GROUPS = (SIZING, RISK, PAPER, PORTFOLIO)
"""Every settings group on the command line (and each a ``[table]`` of a ``--config`` file)."""

DATA_KEYS = ("bad_rows", "datetime_format", "tz", "sep")
"""The data options a ``--config`` file may set at its top level (``columns`` is a table)."""
SEPARATORS = {",": ",", ";": ";", "tab": "\t", "\\t": "\t", "\t": "\t", "|": "|"}


# -- reading the files ------------------------------------------------------------------------------------------
def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that say how to read the data files."""
    group = parser.add_argument_group("reading the data files")
    group.add_argument("--bad-rows", choices=("skip", "reject"),
                       help="skip a bad row (reported, and counted at the end; the default) or stop at the first")
    group.add_argument("--columns", type=column_names, metavar="FIELD=COLUMN,...",
                       help="name the columns the header does not make plain, e.g. date=Day,close=Last; a column "
                            "by its position (0 is the first) for a file without a header line: "
                            "date=0,open=1,high=2,low=3,close=4,volume=5")
    group.add_argument("--datetime-format", metavar="FORMAT",
                       help="strptime format of the timestamps, e.g. '%%m/%%d/%%Y' for 8/19/2004 (default: ISO "
                            "8601 or epoch numbers); with date and time columns it reads '<date> <time>'")
    group.add_argument("--tz", type=zone, metavar="ZONE",
                       help="time zone of timestamps without an offset, e.g. America/New_York (default UTC)")
    group.add_argument("--sep", type=separator, metavar="SEP",
                       help="field separator: , ; tab or | (default: told from the header line)")


def column_names(text: str) -> dict[str, str]:
    """Parse ``date=Day,close=Last`` into a column mapping (the argparse ``type`` of ``--columns``)."""
    known = (*COLUMN_FIELDS, "epoch_unit")
    columns: dict[str, str] = {}
    for pair in text.split(","):
        name, equals, column = (part.strip() for part in pair.partition("="))
        if not equals or not name or not column:
            raise argparse.ArgumentTypeError(f"{pair!r} is not FIELD=COLUMN (e.g. date=Day,close=Last)")
        if name not in known:
            raise argparse.ArgumentTypeError(f"unknown field {name!r} (known: {', '.join(known)})")
        columns[name] = column
    return columns


def zone(text: str) -> str:
    """Check a time zone name (the argparse ``type`` of ``--tz``)."""
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"unknown time zone {text!r} (e.g. UTC, America/New_York)") from None
    return text


def separator(text: str) -> str:
    """Return the separator ``text`` names (the argparse ``type`` of ``--sep``)."""
    try:
        return SEPARATORS[text]
    except KeyError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a separator: give , ; tab or |") from None


@dataclass(frozen=True)
class DataOptions:
    """How to read the files: the bad-row policy, the time zone, and ``DataSettings.columns``."""

    bad_rows: str = "skip"
    tz: str = "UTC"
    columns: Mapping[str, str] = field(default_factory=dict)


def data_options_from(args: argparse.Namespace, config: RunConfig | None = None) -> DataOptions:
    """Return the data options of the command line, else of the ``--config`` file, else the defaults."""
    columns = {**(config.table("columns") if config else {}), **(args.columns or {})}
    for key in ("datetime_format", "sep"):
        value = pick(args, config, key)
        if value is not None:
            columns[key] = value if key == "datetime_format" else separator(str(value))
    bad_rows = pick(args, config, "bad_rows", "skip")
    if bad_rows not in ("skip", "reject"):
        raise UsageError(f"bad_rows must be skip or reject, got {bad_rows!r}")
    return DataOptions(bad_rows=bad_rows, tz=zone(str(pick(args, config, "tz", "UTC"))),
                       columns={key: str(value) for key, value in columns.items()})


def check_data_files(paths: Sequence[Path], symbols: Sequence[str], timeframe: str, options: DataOptions) -> None:
    """Open each file as the data service will (header, columns, first rows); a problem is one ``UsageError``."""
    for path, symbol in zip(paths, symbols):
        if not path.is_file():
            raise UsageError(f"--data {path}: no such file")
        try:
            mapping = ColumnMapping(**options.columns)  # type: ignore[arg-type]
            CsvBarFeed(path, symbol, timeframe, mapping=mapping, policy=options.bad_rows, tz=options.tz)
        except (ColumnError, ValueError, UnicodeDecodeError) as error:
            message = str(error)
            raise UsageError(message if message.startswith(str(path)) else f"{path}: {message}") from None


# -- the services' settings -------------------------------------------------------------------------------------
def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """Add an option for every setting of every group in ``GROUPS``."""
    for group in GROUPS:
        add_group(parser, group)


@dataclass(frozen=True)
class RunSettings:
    """The settings a run was given: each group's model, and the fields set (by file or command line)."""

    sizing: SizingSettings
    risk: RiskSettings
    paper: PaperSettings
    portfolio: dict[str, Any]
    """The ``PORTFOLIO`` fields, all of them."""
    explicit: dict[str, dict[str, Any]]
    """Per group prefix, the fields the config file or the command line set."""


def settings_from(args: argparse.Namespace, config: RunConfig | None = None,
                  base: Mapping[str, Mapping[str, Any]] | None = None) -> RunSettings:
    """Return every group's settings: ``base`` values, then the config file, then the command line."""
    base = base or {}
    models = {group.prefix: build(group, args, config, base.get(group.prefix)) for group in GROUPS[:3]}
    portfolio = build(PORTFOLIO, args, config, base.get("portfolio"),
                      make=lambda **values: PortfolioSettings.isolated(**values))
    explicit = {group.prefix: {**base.get(group.prefix, {}), **(config.table(group.prefix) if config else {}),
                               **given(args, group)} for group in GROUPS}
    for group in GROUPS:  # validated values, as the models hold them
        model = portfolio if group is PORTFOLIO else models[group.prefix]
        explicit[group.prefix] = {name: getattr(model, name) for name in explicit[group.prefix]}
    return RunSettings(sizing=models["sizing"], risk=models["risk"], paper=models["paper"],  # type: ignore[arg-type]
                       portfolio={name: getattr(portfolio, name) for name in PORTFOLIO.names()}, explicit=explicit)


def strategy_params(strategy: str, pairs: Sequence[str], config: RunConfig | None, sizing: SizingSettings,
                    defaults: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the strategy's parameters (config file, then ``--param``), checked before anything starts.

    A parameter that the execution settings make meaningless is refused: a strategy flag named like a sizing
    switch (``allow_short``) that is on while execution's switch is off would change nothing.
    """
    try:
        from_file = {key: _text(value) for key, value in (config.table("params") if config else {}).items()}
        params = {**from_file, **parse_params(pairs)} or dict(defaults or {})
        loaded = prepare_strategy(strategy, strategy, params)
    except (UnknownStrategy, StrategyParamsError, TypeError) as error:
        raise UsageError(f"--strategy {strategy}: {error}") from None
    for name, value in loaded.params.model_dump().items():
        switch = SizingSettings.model_fields.get(name)
        if value is True and switch is not None and switch.annotation is bool and not getattr(sizing, name):
            raise UsageError(f"--param {name}=true changes nothing while execution's {name} is off: add "
                             f"{SIZING.option(name)} (or leave the parameter out)")
    return params


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
