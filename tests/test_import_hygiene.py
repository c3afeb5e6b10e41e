"""What each command imports: `flushwatch --help` and every command that needs no model never
import torch/transformers/onnxruntime, and the scoring path never imports the training package.

Each case runs the real CLI in a fresh interpreter and inspects sys.modules afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "transformers", "sentence_transformers", "onnxruntime")

PROBE = """
import json, sys
from flushwatch.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""

# Commands that need no model. Each entry: argv after `flushwatch` ({db} is replaced).
NON_MODEL_COMMANDS = [
    ["--help"],
    ["db", "path", "--db", "{db}"],
    ["db", "info", "--db", "{db}"],
    ["db", "migrate", "--db", "{db}"],
    ["sql", "SELECT 1", "--db", "{db}"],
    ["feeds", "list", "--db", "{db}"],
    ["flushes", "--db", "{db}"],
    ["explain", "1", "--db", "{db}"],
    ["export", "--format", "parquet", "{db}.export", "--db", "{db}"],
    ["import", "candles", "--help"],
    ["import", "headlines", "--help"],
    ["market", "fetch", "--help"],
    ["liquidations", "record", "--help"],
    ["ingest", "--help"],
    ["feeds", "export-opml", "--db", "{db}"],
    ["digest", "--db", "{db}", "--date", "2025-10-10"],
    ["detect", "--db", "{db}"],
    ["import", "--help"],
    ["market", "--help"],
    ["liquidations", "--help"],
    ["model", "--help"],
    ["score", "--refresh-rules", "--db", "{db}"],
    ["calendar", "--help"],
    ["calendar", "import", "--help"],
    ["calendar", "list", "--db", "{db}"],
]


@pytest.mark.parametrize("argv", NON_MODEL_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_non_model_command_does_not_import_torch(argv: list[str], tmp_path: Path) -> None:
    args = [a.replace("{db}", str(tmp_path / "h.duckdb")) for a in argv]
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    loaded = json.loads(proc.stderr.strip().splitlines()[-1])
    assert loaded == [], f"`flushwatch {' '.join(argv)}` imported {loaded}"


# The scoring path never imports the training package (fitting, calibration, evaluation):
# each probe runs in a fresh interpreter and lists the training modules it loaded.
TRAINING = "flushwatch.training"
LIST_TRAINING = (
    "\nimport json, sys\n"
    f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({TRAINING!r}))))"
)
SCORING_PROBES = {
    "import scorer and pipeline": "import flushwatch.nlp.scorer, flushwatch.nlp.pipeline",
    "score --help": (
        "from flushwatch.cli.main import main\n"
        "try:\n    main(['score', '--help'])\nexcept SystemExit:\n    pass"
    ),
    "score titles on the fast path": (
        "from flushwatch.nlp.scorer import Scorer\n"
        "assert len(Scorer(mode='fast').score_texts(['Exchange halts withdrawals'])) == 1"
    ),
}


@pytest.mark.parametrize("code", list(SCORING_PROBES.values()), ids=list(SCORING_PROBES))
def test_the_scoring_path_never_imports_the_training_package(code: str) -> None:
    probe = code + LIST_TRAINING
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_the_probe_would_see_a_training_import() -> None:
    """The check above is not vacuous: importing the eval command loads the package."""
    probe = "import flushwatch.training.evaluate" + LIST_TRAINING
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert TRAINING in json.loads(proc.stdout.strip().splitlines()[-1])
