"""Where things live and which settings apply.

Precedence everywhere: command-line option, then environment variable, then the config file,
then the built-in default. The config file is TOML at ``FLUSHWATCH_CONFIG`` or the platform's
user config directory (``flushwatch config path`` is not needed: ``flushwatch db path`` and
``docs/configuration.md`` say where). Nothing here imports anything heavy.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flushwatch.errors import ConfigError

APP_NAME = "flushwatch"
DEFAULT_WAIT_S = 30.0
DB_FILENAME = "flushwatch.duckdb"

#: The package directory; ``models/`` and bundled data sit beside the code inside it.
PACKAGE_DIR = Path(__file__).resolve().parent


def _user_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def _user_config_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def config_path() -> Path:
    """The TOML config file (it need not exist)."""
    env = os.environ.get("FLUSHWATCH_CONFIG")
    return Path(env).expanduser() if env else _user_config_dir() / "config.toml"


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


def load_settings(path: Path | None = None) -> Settings:
    """Read the config file; a missing file is fine, a malformed one is a ConfigError."""
    path = path or config_path()
    if not path.exists():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}", hint="fix or remove the file") from exc
    db = data.get("db", {}).get("path")
    wait = data.get("db", {}).get("wait")
    model = data.get("model", {}).get("name")
    early_exit = data.get("model", {}).get("early_exit", True)
    if not isinstance(early_exit, bool):
        raise ConfigError(f"{path}: [model] early_exit must be true or false, not {early_exit!r}")
    return Settings(
        db=Path(db).expanduser() if db else None,
        wait_s=float(wait) if wait is not None else None,
        model_name=str(model) if model else None,
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
    return _user_data_dir() / DB_FILENAME


def resolve_wait(option: float | None = None) -> float:
    """``--wait``, else ``FLUSHWATCH_WAIT``, else the config file, else 30 seconds."""
    if option is not None:
        value = option
    elif os.environ.get("FLUSHWATCH_WAIT"):
        raw = os.environ["FLUSHWATCH_WAIT"]
        try:
            value = float(raw)
        except ValueError as exc:
            raise ConfigError(f"FLUSHWATCH_WAIT={raw!r} is not a number of seconds") from exc
    else:
        value = load_settings().wait_s or DEFAULT_WAIT_S
    if value < 0:
        raise ConfigError(f"--wait must be >= 0 seconds, got {value:g}")
    return value


def shared_data_dir() -> Path | None:
    """The third-party data folder (``../shared/data`` beside a checkout), if present.

    ``FLUSHWATCH_SHARED_DATA`` overrides. Used by tests, evaluation and training only: the
    data is never copied into the repository or the package.
    """
    env = os.environ.get("FLUSHWATCH_SHARED_DATA")
    if env:
        p = Path(env).expanduser()
        return p if p.is_dir() else None
    # PACKAGE_DIR is <repo>/flushwatch in a checkout (also for editable installs).
    for base in (PACKAGE_DIR.parent, Path.cwd()):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None
