"""Offer the fields of a settings model (pydantic) as command-line options, and a TOML file for a whole run.

A field ``quantity`` of the group ``sizing`` becomes ``--sizing-quantity``: its description is the help, its type
and constraints validate the value (a bad one is a one-line error naming the option), a ``Literal`` gives the
choices and a ``bool`` a ``--x/--no-x`` pair. A new setting therefore appears on the command line and in ``--help``
without a second list. Options left out keep the model's default, or the ``--config`` file's value: the command
line overrides the file, the file overrides the defaults.
"""

from __future__ import annotations

import argparse
import tomllib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from tools.errors import UsageError


@dataclass(frozen=True)
class OptionGroup:
    """The fields of ``model`` offered as ``--<prefix>-<field>`` options (and a ``[<prefix>]`` config table).

    ``fields`` picks some (default: all but ``exclude``); ``aliases`` gives a field shorter extra option strings
    (``{"quantity": ("--quantity",)}``); ``env_section`` is how the service's environment spells the section
    (``SIZING__``), ``""`` for fields at the top of the service's settings.
    """

    prefix: str
    model: type[BaseModel]
    fields: tuple[str, ...] | None = None
    exclude: frozenset[str] = frozenset()
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    env_section: str | None = None

    def names(self) -> list[str]:
        """Return the names of the fields offered, in the model's order."""
        chosen = self.fields if self.fields is not None else tuple(self.model.model_fields)
        return [name for name in chosen if name not in self.exclude]

    def option(self, name: str) -> str:
        """Return the option string of field ``name``."""
        return f"--{self.prefix}-{name.replace('_', '-')}"

    def dest(self, name: str) -> str:
        """Return the attribute of the parsed arguments that holds field ``name``."""
        return f"{self.prefix}__{name}"


def add_group(parser: argparse.ArgumentParser, group: OptionGroup, title: str | None = None) -> None:
    """Add an option per field of ``group`` to ``parser``, under a heading of its own in ``--help``."""
    section = parser.add_argument_group(title or f"{group.prefix} settings ({group.model.__name__})")
    for name in group.names():
        info = group.model.model_fields[name]
        flags = [group.option(name), *group.aliases.get(name, ())]
        kwargs: dict[str, Any] = {"dest": group.dest(name), "default": None, "help": help_of(info)}
        inner = optional_inner(info.annotation)
        if inner is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(inner) is Literal:
            kwargs["choices"] = [str(choice) for choice in typing.get_args(inner)]
        else:
            kwargs["type"] = value_parser(info, inner)
            kwargs["metavar"] = metavar_of(inner)
        section.add_argument(*flags, **kwargs)


def help_of(info: FieldInfo) -> str:
    """Return the help of a field: its description and its default, ``%`` escaped for argparse."""
    description = (info.description or "").rstrip(".")
    default = info.get_default(call_default_factory=True)
    shown = "unset" if default is None else str(default).lower() if isinstance(default, bool) else str(default)
    return f"{description} (default: {shown})".replace("%", "%%").lstrip()


def optional_inner(annotation: Any) -> Any:
    """Return ``X`` for ``X | None``, else ``annotation``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        others = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(others) == 1:
            return others[0]
    return annotation


def metavar_of(inner: Any) -> str:
    """Return how ``--help`` names the value of an option of type ``inner``."""
    return {Decimal: "NUMBER", float: "NUMBER", int: "INT"}.get(inner, "TEXT")


def value_parser(info: FieldInfo, inner: Any) -> Callable[[str], Any]:
    """Return the argparse ``type`` of a field: text to value, checked against the field's constraints."""
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[inner, *info.metadata]) if info.metadata \
        else TypeAdapter(inner)

    def parse(text: str) -> Any:
        try:
            return adapter.validate_python(text.strip())
        except ValidationError as error:
            raise argparse.ArgumentTypeError(f"{first_problem(error)}, got {text!r}") from None

    return parse


def first_problem(error: ValidationError) -> str:
    """Return pydantic's first complaint as a short lower-case phrase."""
    message = str(error.errors()[0]["msg"]).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def given(args: argparse.Namespace, group: OptionGroup) -> dict[str, Any]:
    """Return the fields of ``group`` the command line set."""
    values = {name: getattr(args, group.dest(name), None) for name in group.names()}
    return {name: value for name, value in values.items() if value is not None}


def build(group: OptionGroup, args: argparse.Namespace, config: RunConfig | None = None,
          base: Mapping[str, Any] | None = None, make: Callable[..., BaseModel] | None = None) -> BaseModel:
    """Return ``group``'s model from ``base`` values, then the config file's table, then the command line.

    ``make`` builds the model (default: the model class itself); a value it refuses is a ``UsageError`` naming
    the option or the config key that set it.
    """
    from_file = config.table(group.prefix) if config else {}
    from_cli = given(args, group)
    values = {**(base or {}), **from_file, **from_cli}
    try:
        return (make or group.model)(**values)
    except ValidationError as error:
        problem = error.errors()[0]
        name = str(problem["loc"][0]) if problem["loc"] else ""
        if name in from_cli:
            where = group.option(name)
        elif name in from_file and config is not None:
            where = f"{config.path}: [{group.prefix}] {name}"
        else:
            where = group.option(name) if name else f"the {group.prefix} settings"
        raise UsageError(f"{where}: {first_problem(error)}, got {problem.get('input')!r}") from None


def env_of(group: OptionGroup, values: Mapping[str, Any]) -> dict[str, str]:
    """Return ``values`` of ``group`` as the service's environment spells them (no service prefix)."""
    section = f"{group.env_section}__" if group.env_section else ""
    return {f"{section}{name.upper()}": env_text(value) for name, value in values.items()}


def env_text(value: Any) -> str:
    """Return a setting's value as an environment variable holds it."""
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(frozen=True)
class RunConfig:
    """A ``--config`` TOML file: top-level keys are the command's options, tables are settings groups."""

    path: Path
    data: Mapping[str, Any]

    def table(self, name: str) -> dict[str, Any]:
        """Return the table ``[name]`` (empty when the file has none)."""
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise UsageError(f"{self.path}: {name} must be a table ([{name}]), got {value!r}")
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """Return the top-level key ``key``."""
        return self.data.get(key, default)


def load_config(path: Path | None, options: Iterable[str], groups: Iterable[OptionGroup],
                tables: Iterable[str] = ()) -> RunConfig | None:
    """Read a TOML run file; an unreadable file or an unknown key is a ``UsageError`` (one line).

    ``options`` are the top-level keys allowed (option names with ``_``), ``tables`` free-form tables (``params``).
    """
    if path is None:
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--config: no such file: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"--config {path}: not a readable TOML file: {error}") from None
    groups = {group.prefix: group for group in groups}
    known = {*options, *groups, *tables}
    for key, value in data.items():
        if key not in known:
            raise UsageError(f"{path}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        group = groups.get(key)
        if group is not None and isinstance(value, dict):
            names = group.names()
            for name in value:
                if name not in names:
                    raise UsageError(f"{path}: unknown key {name!r} in [{key}] (known: {', '.join(names)})")
    return RunConfig(path, data)


def pick(args: argparse.Namespace, config: RunConfig | None, name: str, default: Any = None) -> Any:
    """Return option ``name``: from the command line if given, else from the config file, else ``default``."""
    value = getattr(args, name, None)
    if value is not None:
        return value
    if config is not None and name in config.data:
        return config.data[name]
    return default
