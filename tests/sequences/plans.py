"""Plans and helpers shared by the sequence tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SEED = 3
WEAK = 12  # the default bench's weak unit
# 48 h at +70 °C: the weak unit fails after ≈ 21-31 h there (default bench file), the others never
PLAN = """\
plan: burn-in test
standard: IEC 62053-21
edition: "2020"
class: "1"
tests:
  - id: bi
    kind: burn_in
    temperature_c: 70
    duration_h: 48
    gradient_k_per_min: 1.0
    end_temperature_c: 23
    monitoring: {interval_s: 60, port_every: 60, chunk_intervals: 30}
"""


def pytest_plan(plan: Path, bench: Path, run_dir: Path, *extra: str) -> subprocess.Popen[str]:
    """pytest on ``plan`` against ``bench`` as a child process (as on a lab PC: the bench is hardware to it)."""
    cmd = [sys.executable, "-m", "pytest", str(plan), "--bench", str(bench), "--run-dir", str(run_dir),
           "-p", "no:cacheprovider", "-q", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=plan.parent)


def progress_h(run_dir: Path) -> float:
    """Sequence hours done so far, from the run's checkpoint (0 before the first one)."""
    try:
        data = json.loads((run_dir / "checkpoint.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0.0
    return max((float(s["seq_time"]) / 3600 for s in data["sequences"].values()), default=0.0)
