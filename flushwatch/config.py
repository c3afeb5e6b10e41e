"""Where things live and which settings apply.

Precedence everywhere: command-line option, then environment variable, then the config file,
then the built-in default. The config file is TOML at ``FLUSHWATCH_CONFIG`` or the platform's
user config directory (``flushwatch config path`` is not needed: ``flushwatch db path`` and
``docs/configuration.md`` say where). Nothing here imports anything heavy.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flushwatch.errors import ConfigError, InputError

APP_NAME = "flushwatch"
DEFAULT_WAIT_S = 30.0
DB_FILENAME = "flushwatch.duckdb"

#: This package's folder: <checkout>/flushwatch in a checkout (also for editable installs).
PACKAGE_DIR = Path(__file__).resolve().parent


def config_path() -> Path:
    """The TOML config file (it need not exist)."""
    env = os.environ.get("FLUSHWATCH_CONFIG")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


@dataclass(frozen=True)
class Settings:
    """Settings from the config file; every field has a default, every key is optional.

    Sections map to fields: ``[model] name = "..."`` becomes ``model_name``.
    """

    db: Path | None = None
    wait_s: float | None = None
    model_name: str | None = None
    #: ``[model] early_exit``: whether the fast path lets easy titles stop at the early-exit layer
    #: (``exit.safetensors`` of the model names it; layer 2 in the shipped one).
    model_early_exit: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


#: Sections of the config file and, where this module checks them, their keys. ``[detect]`` and
#: ``[attribution]`` are checked by detection and attribution (docs/flushes.md).
KNOWN_SECTIONS: dict[str, tuple[str, ...] | None] = {
    "db": ("path", "wait"),
    "model": ("name", "early_exit"),
    "market": ("symbols",),
    "detect": None,
    "attribution": None,
}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _check_sections(path: Path, data: dict[str, Any]) -> None:
    """Every top-level key is a known section holding a table, with only known keys."""
    known = ", ".join(f"[{name}]" for name in KNOWN_SECTIONS)
    for name, value in data.items():
        if name not in KNOWN_SECTIONS:
            raise ConfigError(f"{path}: unknown config section {name!r}; known sections: {known}")
        if not isinstance(value, dict):
            raise ConfigError(
                f"{path}: {name} must be a [{name}] section (a table), not {value!r}",
                hint=f"write it as [{name}] followed by key = value lines",
            )
        keys = KNOWN_SECTIONS[name]
        if keys is None:
            continue
        for key in value:
            if key not in keys:
                raise ConfigError(f"{path}: unknown key {key!r} in [{name}]; known keys: {', '.join(keys)}")


def _wait_value(raw: Any, where: str) -> float:
    """A number of seconds, finite and >= 0 (0: do not wait); a ConfigError naming ``where``."""
    if isinstance(raw, bool):
        raise ConfigError(f"{where} must be a number of seconds, not {raw!r}")
    if isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError as exc:
            raise ConfigError(f"{where}={raw!r} is not a number of seconds") from exc
    elif isinstance(raw, int | float):
        value = float(raw)
    else:
        raise ConfigError(f"{where} must be a number of seconds, not {raw!r}")
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{where} must be a finite number of seconds >= 0, got {raw!r}")
    return value


def load_settings(path: Path | None = None) -> Settings:
    """Read the config file; a missing file is fine, a malformed one is a ConfigError.

    A relative ``[db] path`` is relative to the config file's folder; ``~`` expands.
    """
    path = path or config_path()
    if not path.exists():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}", hint="fix or remove the file") from exc
    _check_sections(path, data)
    db_section = data.get("db", {})
    model_section = data.get("model", {})
    db = db_section.get("path")
    if db is not None and (not isinstance(db, str) or not db.strip()):
        raise ConfigError(
            f'{path}: [db] path must be a file path in quotes, e.g. "~/flushwatch.duckdb", not {db!r}'
        )
    db_path: Path | None = None
    if db is not None:
        db_path = Path(db).expanduser()
        if not db_path.is_absolute():
            db_path = path.expanduser().absolute().parent / db_path
    wait = db_section.get("wait")
    wait_s = _wait_value(wait, f"{path}: [db] wait") if wait is not None else None
    model = model_section.get("name")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise ConfigError(f"{path}: [model] name must be a model name or path in quotes, not {model!r}")
    early_exit = model_section.get("early_exit", True)
    if not isinstance(early_exit, bool):
        raise ConfigError(f"{path}: [model] early_exit must be true or false, not {early_exit!r}")
    return Settings(
        db=db_path,
        wait_s=wait_s,
        model_name=model or None,
        model_early_exit=early_exit,
        extra=data,
    )


def resolve_db_path(option: Path | None = None) -> Path:
    """``--db``, else ``FLUSHWATCH_DB``, else the config file, else the user data directory."""
    if option is not None:
        return option.expanduser()
    env = os.environ.get("FLUSHWATCH_DB")
    if env:
        return Path(env).expanduser()
    settings = load_settings()
    if settings.db is not None:
        return settings.db
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / DB_FILENAME


def resolve_wait(option: float | None = None) -> float:
    """``--wait``, else ``FLUSHWATCH_WAIT``, else the config file, else 30 seconds.

    0 means do not wait; negative, NaN and infinite values are a ConfigError.
    """
    if option is not None:
        return _wait_value(option, "--wait")
    raw = os.environ.get("FLUSHWATCH_WAIT")
    if raw is not None and raw.strip():
        return _wait_value(raw, "FLUSHWATCH_WAIT")
    configured = load_settings().wait_s
    return DEFAULT_WAIT_S if configured is None else configured


def resolve_snapshot() -> bool:
    """``FLUSHWATCH_SNAPSHOT``: whether write runs refresh the analyst snapshot (default on).

    ``1/true/yes/on`` or ``0/false/no/off``, any case; anything else is a ConfigError.
    """
    raw = os.environ.get("FLUSHWATCH_SNAPSHOT", "")
    word = raw.strip().lower()
    if not word or word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ConfigError(
        f"FLUSHWATCH_SNAPSHOT={raw!r} is not a yes/no value", hint=f"use one of {', '.join(_TRUE + _FALSE)}"
    )


def shared_data_dir() -> Path | None:
    """The third-party data folder (``../shared/data`` beside a checkout), if present.

    ``FLUSHWATCH_SHARED_DATA`` overrides. Used by tests, evaluation and training only: the
    data is never copied into the repository or the package.
    """
    env = os.environ.get("FLUSHWATCH_SHARED_DATA")
    if env:
        p = Path(env).expanduser()
        return p if p.is_dir() else None
    for base in (PACKAGE_DIR.parent, Path.cwd()):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def require_shared_data(needed_by: str) -> Path:
    """:func:`shared_data_dir`, or an InputError that says where it looked and what to do.

    ``FLUSHWATCH_SHARED_DATA=/typo`` must read as a wrong setting, not as missing data.
    """
    env = os.environ.get("FLUSHWATCH_SHARED_DATA")
    base = shared_data_dir()
    if base is not None:
        return base
    if env:
        raise InputError(
            f"{needed_by} needs the shared data, but FLUSHWATCH_SHARED_DATA={env!r} is not a folder",
            hint="point FLUSHWATCH_SHARED_DATA at the folder holding the data sets (its data/ folder), "
            "or unset it to use ../shared/data beside the repository",
        )
    raise InputError(
        f"{needed_by} needs the shared data, and no ../shared/data folder is beside the repository "
        "or the current directory",
        hint="put it there or set FLUSHWATCH_SHARED_DATA to the folder holding the data sets",
    )


def require_shared_file(relative: str, needed_by: str) -> Path:
    """One file of the shared data (``relative`` to its folder), or an InputError naming it."""
    path = require_shared_data(needed_by) / relative
    if not path.is_file():
        raise InputError(
            f"{needed_by} needs {relative} from the shared data, and it is not there",
            path=path,
            hint="check that FLUSHWATCH_SHARED_DATA (or ../shared/data) is the complete data folder",
        )
    return path
