"""Where the database lives and how long to wait: option, env, config file, default."""

from __future__ import annotations

from pathlib import Path

import pytest

from flushwatch.config import resolve_db_path, resolve_wait, shared_data_dir
from flushwatch.errors import ConfigError


def test_db_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[db]\npath = "/from/config.duckdb"\nwait = 7\n')
    monkeypatch.setenv("FLUSHWATCH_CONFIG", str(cfg))
    monkeypatch.setenv("FLUSHWATCH_DB", "/from/env.duckdb")
    assert resolve_db_path(Path("/from/option.duckdb")) == Path("/from/option.duckdb")
    assert resolve_db_path(None) == Path("/from/env.duckdb")
    monkeypatch.delenv("FLUSHWATCH_DB")
    assert resolve_db_path(None) == Path("/from/config.duckdb")
    cfg.unlink()
    default = resolve_db_path(None)
    assert default.name == "flushwatch.duckdb" and "flushwatch" in str(default.parent)


def test_wait_precedence_and_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_wait(None) == 30.0
    monkeypatch.setenv("FLUSHWATCH_WAIT", "2.5")
    assert resolve_wait(None) == 2.5
    assert resolve_wait(9) == 9
    monkeypatch.setenv("FLUSHWATCH_WAIT", "soon")
    with pytest.raises(ConfigError, match="FLUSHWATCH_WAIT"):
        resolve_wait(None)


def test_malformed_config_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[db\npath = 3")
    monkeypatch.setenv("FLUSHWATCH_CONFIG", str(cfg))
    monkeypatch.delenv("FLUSHWATCH_DB")
    with pytest.raises(ConfigError, match="cannot read config"):
        resolve_db_path(None)


def test_shared_data_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUSHWATCH_SHARED_DATA", str(tmp_path))
    assert shared_data_dir() == tmp_path
    monkeypatch.setenv("FLUSHWATCH_SHARED_DATA", str(tmp_path / "missing"))
    assert shared_data_dir() is None
