"""Imports point one way, checked by import-linter against the contracts in .importlinter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .helpers.layout import REPO, build_tree

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    # Run from inside the copied tree so that it, not the checkout or the editable install, is
    # what `import flushwatch` finds.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(REPO / ".importlinter")],
        cwd=tree, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=300,
    )


def test_the_package_keeps_its_layers(tmp_path: Path) -> None:
    proc = _lint(build_tree(tmp_path / "tree"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_an_upward_import_breaks_the_check(tmp_path: Path) -> None:
    tree = build_tree(tmp_path / "tree")
    (tree / "flushwatch" / "storage" / "upward.py").write_text("import flushwatch.cli.main\n")
    proc = _lint(tree)
    assert proc.returncode != 0
    assert "flushwatch.storage.upward -> flushwatch.cli.main" in proc.stdout
