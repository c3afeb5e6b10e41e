"""The wheel installs one namespace, `flushwatch`, and ships models/ and SQL as package data."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from .conftest import REPO


def test_wheel_has_one_namespace_and_ships_package_data(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("flushwatch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"flushwatch"}
    for sql in (REPO / "storage" / "sql").glob("*.sql"):
        assert f"flushwatch/storage/sql/{sql.name}" in names
    assert "flushwatch/storage/data/calendar_us.csv" in names  # the bundled release calendar
    shipped_models = [
        p for p in (REPO / "models").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    for path in shipped_models:
        rel = path.relative_to(REPO / "models").as_posix()
        assert f"flushwatch/models/{rel}" in names, f"models/{rel} is not in the wheel"


def _fresh_venv(tmp_path: Path) -> Path:
    """A new venv that borrows the test venv's dependencies but not its flushwatch install.

    The borrowed site-packages folder is added by a plain path line, so the editable
    install's own .pth hook there is never processed: flushwatch comes only from what the
    test installs.
    """
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site_dir = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    borrowed = [p for p in sys.path if p.endswith("site-packages")]
    Path(site_dir, "borrowed.pth").write_text("\n".join(borrowed) + "\n")
    return python


def _install_and_locate(python: Path, *pip_args: str) -> str:
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", *pip_args],
        capture_output=True, text=True, check=True, timeout=300,
    )
    probe = (
        "import flushwatch.ingest.news.parse as p, flushwatch.storage.db as d, flushwatch.models as m;"
        "from flushwatch.storage.schema import sql_text; assert 'CREATE' in sql_text('00_core.sql');"
        "from importlib.resources import files;"
        "assert files('flushwatch.models').joinpath('flushwatch-minilm').is_dir();"
        "print(p.__file__); print(d.__file__); print(m.__file__)"
    )
    # Run outside the checkout, where the repository's own flushwatch/ folder cannot shadow the install.
    proc = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=120, cwd=python.parent
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_wheel_install_in_a_fresh_venv_imports_every_stage(tmp_path: Path) -> None:
    out = _install_and_locate(_fresh_venv(tmp_path), str(REPO))
    assert str(REPO) not in out, out
    assert "site-packages/flushwatch/ingest/news/parse.py" in out
    assert "site-packages/flushwatch/storage/db.py" in out


def test_editable_install_in_a_fresh_venv_maps_the_stage_folders(tmp_path: Path) -> None:
    out = _install_and_locate(_fresh_venv(tmp_path), "-e", str(REPO))
    assert f"{REPO}/ingest/news/parse.py" in out
    assert f"{REPO}/storage/db.py" in out
    assert f"{REPO}/models/__init__.py" in out
