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
    shipped_models = [
        p for p in (REPO / "models").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]
    for path in shipped_models:
        rel = path.relative_to(REPO / "models").as_posix()
        assert f"flushwatch/models/{rel}" in names, f"models/{rel} is not in the wheel"
