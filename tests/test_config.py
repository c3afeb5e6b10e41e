"""Where the database lives and how long to wait: option, env, config file, default."""

from __future__ import annotations

from pathlib import Path

import pytest

from flushwatch.config import (
    load_settings,
    resolve_db_path,
    resolve_snapshot,
    resolve_wait,
    shared_data_dir,
)
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


def test_a_mistyped_shared_data_setting_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flushwatch.config import require_shared_data, require_shared_file
    from flushwatch.errors import InputError

    monkeypatch.setenv("FLUSHWATCH_SHARED_DATA", str(tmp_path / "typo"))
    wrong = r"model eval needs the shared data, but FLUSHWATCH_SHARED_DATA=.*typo"
    with pytest.raises(InputError, match=wrong):
        require_shared_data("model eval")
    monkeypatch.setenv("FLUSHWATCH_SHARED_DATA", str(tmp_path))
    assert require_shared_data("model eval") == tmp_path
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "a.csv").write_text("x\n")
    assert require_shared_file("set/a.csv", "model eval") == tmp_path / "set" / "a.csv"
    missing = r"needs set/b\.csv from the shared data, and it is not there"
    with pytest.raises(InputError, match=missing) as info:
        require_shared_file("set/b.csv", "model eval")
    assert info.value.path == str(tmp_path / "set" / "b.csv")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[db]\npath = 123\n", "[db] path"),
        ('[db]\nwait = "soon"\n', "[db] wait"),
        ("[db]\nwait = true\n", "[db] wait"),
        ("[db]\nwait = -1\n", "[db] wait"),
        ("[db]\nwait = nan\n", "[db] wait"),
        ('db = "oops"\n', "[db]"),
        ("detect = 3\n", "[detect]"),
        ('[model]\nname = 5\n', "[model] name"),
    ],
)
def test_wrong_types_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, names: str
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    assert info.value.exit_code == 2
    assert names in str(info.value) and "\n" not in info.value.one_line()


@pytest.mark.parametrize(
    ("text", "known"),
    [
        ('[db]\npth = "/tmp/x"\n', "path, wait"),
        ('[model]\nnam = "x"\n', "name, early_exit"),
        ('[market]\nsymbol = ["BTCUSDT"]\n', "symbols"),
        ("[dbs]\npath = 1\n", "[db], [model], [market], [detect], [attribution]"),
    ],
)
def test_unknown_keys_and_sections_are_rejected(tmp_path: Path, text: str, known: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match="unknown") as info:
        load_settings(cfg)
    assert known in str(info.value)


def test_known_sections_still_load(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[db]\npath = "/x.duckdb"\nwait = 0\n[model]\nname = "m"\nearly_exit = false\n'
        '[market]\nsymbols = ["BTCUSDT"]\n[detect]\nmove_z = 6.0\n[attribution]\nlookback_min = 240\n'
    )
    s = load_settings(cfg)
    assert (s.db, s.wait_s, s.model_name, s.model_early_exit) == (Path("/x.duckdb"), 0.0, "m", False)


def test_wait_zero_means_no_wait_and_bad_env_values_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text("[db]\nwait = 0\n")
    monkeypatch.setenv("FLUSHWATCH_CONFIG", str(cfg))
    assert resolve_wait(None) == 0.0
    monkeypatch.setenv("FLUSHWATCH_WAIT", "0")
    assert resolve_wait(None) == 0.0
    assert resolve_wait(0) == 0.0
    for bad in ("nan", "inf", "-inf", "-1", "1e400"):
        monkeypatch.setenv("FLUSHWATCH_WAIT", bad)
        with pytest.raises(ConfigError, match="FLUSHWATCH_WAIT"):
            resolve_wait(None)
    with pytest.raises(ConfigError, match="--wait"):
        resolve_wait(float("nan"))
    with pytest.raises(ConfigError, match="--wait"):
        resolve_wait(-1)


def test_snapshot_flag_spellings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLUSHWATCH_SNAPSHOT", raising=False)
    assert resolve_snapshot() is True
    for word in ("0", "false", "False", "NO", "off", " Off "):
        monkeypatch.setenv("FLUSHWATCH_SNAPSHOT", word)
        assert resolve_snapshot() is False, word
    for word in ("1", "true", "TRUE", "yes", "On"):
        monkeypatch.setenv("FLUSHWATCH_SNAPSHOT", word)
        assert resolve_snapshot() is True, word
    monkeypatch.setenv("FLUSHWATCH_SNAPSHOT", "maybe")
    with pytest.raises(ConfigError, match="FLUSHWATCH_SNAPSHOT") as info:
        resolve_snapshot()
    assert info.value.exit_code == 2


def test_relative_db_path_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    cfg = folder / "config.toml"
    cfg.write_text('[db]\npath = "data/fw.duckdb"\n')
    monkeypatch.setenv("FLUSHWATCH_CONFIG", str(cfg))
    monkeypatch.delenv("FLUSHWATCH_DB")
    monkeypatch.chdir(tmp_path)
    assert resolve_db_path(None) == folder / "data" / "fw.duckdb"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cfg.write_text('[db]\npath = "~/fw.duckdb"\n')
    assert resolve_db_path(None) == tmp_path / "home" / "fw.duckdb"
