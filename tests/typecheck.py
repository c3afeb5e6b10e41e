"""mypy over the package as installed, plus bench/: `python -m tests.typecheck`.

mypy names modules after folders, and the stage folders install under `flushwatch.` through
pyproject's package-dir mapping, so each file is handed to mypy with its installed name.
Errors are reported at the real paths in the checkout. Options come from pyproject.toml.
"""

from __future__ import annotations

import sys

from mypy import build
from mypy.fscache import FileSystemCache
from mypy.main import process_options
from mypy.modulefinder import BuildSource

from tests.helpers.layout import REPO, modules


def main() -> int:
    sources = [BuildSource(str(path), name) for name, path in modules()]
    sources += [BuildSource(str(path), path.stem) for path in sorted((REPO / "bench").glob("*.py"))]
    fscache = FileSystemCache()
    config = ["--config-file", str(REPO / "pyproject.toml"), "-c", "pass"]
    _, options = process_options(config, fscache=fscache)
    result = build.build(sources, options, fscache=fscache)
    for line in result.errors:
        print(line)
    print(f"mypy: {len(sources)} modules, {len(result.errors)} errors", file=sys.stderr)
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
