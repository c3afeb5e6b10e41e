"""Shared fixtures: real DuckDB files in tmp dirs, the CLI in-process, shared data or a skip."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

from flushwatch.config import shared_data_dir
from flushwatch.storage.db import Database

REPO = Path(__file__).resolve().parent.parent

# Property tests check behaviour, not speed: a loaded 2-core CI box must not turn into failures.
settings.register_profile("flushwatch", deadline=None, print_blob=True)
settings.load_profile("flushwatch")


@pytest.fixture(scope="session")
def _onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX cache per test session: the int8 graph is built once, then reused by every test."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _onnx_cache: Path) -> None:
    """No test touches the user's real database, config or cache."""
    monkeypatch.setenv("FLUSHWATCH_CACHE_DIR", str(_onnx_cache))
    monkeypatch.setenv("FLUSHWATCH_DB", str(tmp_path / "default.duckdb"))
    monkeypatch.setenv("FLUSHWATCH_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.delenv("FLUSHWATCH_WAIT", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "test.duckdb"


@pytest.fixture
def db(db_path: Path) -> Database:
    return Database(db_path, wait_s=5, snapshot=False)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or $FLUSHWATCH_SHARED_DATA); the test is skipped when it is absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip(
            "shared data not found: put it at ../shared/data beside the repo or set FLUSHWATCH_SHARED_DATA"
        )
    return path


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run ``flushwatch ARGS...`` in-process; returns exit code, stdout and stderr."""
    from flushwatch.cli.main import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env
