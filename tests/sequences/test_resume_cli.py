"""`hil run --resume RUN_DIR` after the run was stopped (SIGTERM to `hil run`, forwarded to its pytest)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from hil.results import read_results
from hil.simbench import simulated_bench
from tests.sequences.plans import PLAN, SEED, WEAK


def _hil(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "hil.cli", "run", *args, "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_hil_run_resume(tmp_path: Path) -> None:
    plan = tmp_path / "bi.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    run_dir = tmp_path / "run"
    with simulated_bench(seed=SEED, write_to=tmp_path / "b.yaml") as (rb, _):
        bench = str(tmp_path / "b.yaml")
        p = _hil(str(plan), "--bench", bench, "--out", str(run_dir))
        deadline = time.monotonic() + 60
        while not (run_dir / "checkpoint.json").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=60)
        assert not (run_dir / "results.csv").exists(), out
        again = _hil(str(plan), "--bench", bench, "--out", str(run_dir))  # not a resume: refused
        out, _ = again.communicate(timeout=60)
        assert again.returncode == 2 and "already holds results" in out, out
        q = _hil("--resume", str(run_dir), "--bench", bench)
        out, _ = q.communicate(timeout=300)
        assert q.returncode == 1, out  # the weak unit fails
        truth = rb.call(lambda: rb.bench.world.meters[WEAK].failed_at)
    res = read_results(run_dir)
    assert len(res) == 12 and list(res.loc[res["verdict"] == "fail", "position"]) == [WEAK]
    assert abs(float(res.loc[res["position"] == WEAK, "failure_clock_s"].iloc[0]) - float(truth)) <= 60.0
    ckpt = json.loads((run_dir / "checkpoint.json").read_text(encoding="utf-8"))
    assert len(next(iter(ckpt["sequences"].values()))["interruptions"]) == 1
