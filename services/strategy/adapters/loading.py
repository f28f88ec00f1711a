"""Load strategy classes from a file by its path (``./breakout.py:Breakout``) or from a module (``pkg.mod:Class``).

A file is executed as a module of its own, under a name derived from its absolute path, so a file called
``json.py`` shadows nothing and loading it twice returns the same class. Its folder is appended to ``sys.path``
(so it can import the modules beside it), and so is the current directory before a ``module:Class`` is imported:
both are appended, never prepended, so neither can shadow an installed package. Failures are one line:
``UnknownStrategy`` names the missing file or class, or the ``file:line`` where importing the code failed.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
import zlib
from collections.abc import Collection, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ..domain import ALL_SYMBOLS, LoadedStrategy, Strategy, registry
from ..domain.registry import UnknownStrategy


def import_strategy_object(path: str) -> object:
    """Return the object ``FILE.py:Attribute`` or ``package.module:Attribute`` names (an ``Importer``)."""
    location, attribute_path = registry.split_path(path)
    if registry.names_file(location):
        module = import_file(location, path)
        return registry.resolve_attribute(module, attribute_path, location, path)
    _append_to_sys_path(os.getcwd())
    try:
        module = importlib.import_module(location)
    except ModuleNotFoundError as error:
        if error.name is None or not f"{location}.".startswith(f"{error.name}."):
            raise UnknownStrategy(f"importing module {location!r} of strategy {path!r} failed: "
                                  f"{_where(error)}") from None
        raise UnknownStrategy(f"cannot import module {location!r} of strategy {path!r} (looked in the current "
                              f"directory and the installed packages): {error}") from None
    except Exception as error:  # noqa: BLE001 - any error the strategy's module raises while it is imported
        raise UnknownStrategy(f"importing module {location!r} of strategy {path!r} failed: "
                              f"{_where(error)}") from None
    return registry.resolve_attribute(module, attribute_path, f"module {location!r}", path)


def import_file(file: str, path: str) -> ModuleType:
    """Execute the Python file ``file`` as a module (once per absolute path) and return it."""
    resolved = Path(file).expanduser().resolve()
    if not resolved.is_file():
        raise UnknownStrategy(f"strategy file {file!r} does not exist (looked for {resolved}; "
                              f"strategy {path!r})")
    name = f"tradebus_strategy_file_{_identifier(resolved.stem)}_{zlib.crc32(str(resolved).encode()):08x}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise UnknownStrategy(f"strategy file {file!r} cannot be loaded as Python (strategy {path!r})")
    module = importlib.util.module_from_spec(spec)
    _append_to_sys_path(str(resolved.parent))
    sys.modules[name] = module  # before executing: dataclasses and pydantic look their module up there
    try:
        spec.loader.exec_module(module)
    except BaseException as error:
        del sys.modules[name]
        if not isinstance(error, Exception):
            raise
        raise UnknownStrategy(f"loading strategy file {file!r} failed: {_where(error)}") from None
    return module


def load_strategy(name_or_path: str) -> type[Strategy[Any]]:
    """Return the built-in strategy ``name_or_path``, or the class its ``FILE.py:Class`` or ``module:Class`` names."""
    return registry.load_strategy(name_or_path, import_strategy_object)


def prepare_strategy(strategy_id: str, name_or_path: str, params: Mapping[str, Any],
                     symbols: Collection[str] = ALL_SYMBOLS) -> LoadedStrategy:
    """Resolve a strategy named in the settings (files and the current directory included) into one ready to run."""
    return registry.prepare_strategy(strategy_id, name_or_path, params, symbols, import_strategy_object)


def absolute_path(name_or_path: str) -> str:
    """Return ``name_or_path`` with a relative ``FILE.py`` made absolute: what another process must be given."""
    if not registry.is_strategy_path(name_or_path):
        return name_or_path
    location, attribute_path = registry.split_path(name_or_path)
    if not registry.names_file(location):
        return name_or_path
    return f"{Path(location).expanduser().resolve()}:{attribute_path}"


def _append_to_sys_path(folder: str) -> None:
    if folder not in sys.path:
        sys.path.append(folder)


def _identifier(text: str) -> str:
    return "".join(character if character.isalnum() else "_" for character in text)


def _where(error: Exception) -> str:
    """Return ``file:line: Type: message`` for the innermost frame of ``error`` outside the import machinery."""
    if isinstance(error, SyntaxError) and error.filename:
        return f"{error.filename}:{error.lineno}: {type(error).__name__}: {error.msg}"
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if not frame.filename.startswith("<") and "importlib" not in Path(frame.filename).parts]
    place = f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""
    return f"{place}{type(error).__name__}: {error}"
