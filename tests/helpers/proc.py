"""Running the real ``flushwatch`` in a subprocess, as cron or a shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def flushwatch(db_path: Path, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """``python -m flushwatch ARGS`` with ``FLUSHWATCH_DB`` set to ``db_path``."""
    env = {**os.environ, "FLUSHWATCH_DB": str(db_path)}
    return subprocess.run(
        [sys.executable, "-m", "flushwatch", *args],
        cwd=REPO,
        env=env,
        check=check,
        capture_output=True,
        text=True,
        errors="replace",  # a path that is not UTF-8 may be echoed back
        timeout=120,
    )
