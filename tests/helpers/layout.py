"""The installed module layout, read from pyproject.toml's package-dir mapping.

The stage folders (ingest/, nlp/, scoring/, storage/, models/) sit at the top of the checkout
but install as `flushwatch.<stage>`. Tools that infer module names from folders (mypy,
import-linter) cannot see that mapping, so the checks give them the layout from here.
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def package_dirs() -> dict[str, Path]:
    """Top-level mapped package name -> its folder in the checkout."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    return {name: REPO / folder for name, folder in mapping.items()}


def modules() -> Iterator[tuple[str, Path]]:
    """Every installed Python module as (dotted name, source file)."""
    for package, folder in package_dirs().items():
        for path in sorted(folder.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join([package, *parts]), path


def build_tree(target: Path) -> Path:
    """Copy the sources into `target`, laid out as installed; returns `target`."""
    for name, path in modules():
        dest = target.joinpath(*name.split("."))
        dest = dest / "__init__.py" if path.name == "__init__.py" else dest.with_suffix(".py")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    return target
