"""`hil run` records the simulated bench it served (seed, file) and `--resume` restarts that very bench; a SIGKILL
of pytest leaves every finished point in results.parquet; a SIGKILL of `hil run` itself stops its pytest, source
off."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from hil.benchfile import dump_bench_file
from hil.runner import ResumeRecord, resume_simulation, run_plan
from hil.simbench import bench_file_for, simulated_bench
from instruments.simulators.bench import RunningBench, SimulatedBench
from instruments.simulators.world.config import load_sim_bench
from tests.test_plan_run import PLAN, _wait_rows, hil, true_error

DEFAULT_SIM = Path(__file__).resolve().parents[1] / "instruments" / "simulators" / "data" / "default_bench.yaml"
SEED = 3  # not the file's own seed (1): a bench restarted without it gives other meters
SHORT_PLAN = """\
plan: two points
standard: IEC 62053-21
edition: "2020"
class: "1"
measure: {settle_s: 10, resolution_fraction: 0.1, min_duration_s: 10, min_pulses: 1}
tests:
  - id: balanced
    kind: accuracy
    load: balanced
    currents: [Iref, Imax]
    power_factors: ["1"]
"""


def _two_positions(path: Path, name: str = "two-position-bench") -> Path:
    """The packaged bench with its first two meters only, under another name."""
    data = yaml.safe_load(DEFAULT_SIM.read_text(encoding="utf-8"))
    data["name"], data["positions"] = name, data["positions"][:2]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """`hil run PLAN --seed 3 --sim-bench FILE`: the simulated bench served by `hil run` itself."""
    d = tmp_path_factory.mktemp("seeded")
    plan, sim = d / "plan.yaml", _two_positions(d / "sim.yaml")
    plan.write_text(SHORT_PLAN, encoding="utf-8")
    p = hil("run", str(plan), "--seed", str(SEED), "--sim-bench", str(sim), "--out", str(d / "run"), "--no-progress")
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0, out
    return d / "run", plan, sim


def test_run_json_records_the_seed_and_simulated_bench_file(first_run: tuple[Path, Path, Path]) -> None:
    run, _, sim = first_run
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert meta["seed"] == SEED and meta["simulated"] is True
    assert meta["sim_bench"] == str(sim.resolve()) and meta["bench"] == "two-position-bench"
    assert len(meta["sim_bench_sha256"]) == 64
    env = (run / "allure-results" / "environment.properties").read_text(encoding="ascii").splitlines()
    assert f"seed={SEED}" in env
    assert any(line.startswith("sim_bench=") and line.endswith("sim.yaml") for line in env)


def test_resume_restarts_the_recorded_bench(first_run: tuple[Path, Path, Path], tmp_path: Path) -> None:
    run, _, sim = first_run
    done = pd.read_parquet(run / "results.parquet")
    first_point = done["point"].iloc[0]
    # the run as a kill after its first point leaves it: the first point's rows in the CSV only (no Parquet)
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    lines = (resumed / "results.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    kept = 1 + int((done["point"] == first_point).sum())
    (resumed / "results.csv").write_text("".join(lines[:kept]), encoding="utf-8")
    (resumed / "results.parquet").unlink()
    p = hil("run", "--resume", str(resumed), "--no-progress")  # no --seed, no --sim-bench: from run.json
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0, out
    res = pd.read_parquet(resumed / "results.parquet")
    assert len(res) == len(done) and (res["point"] == first_point).sum() == kept - 1
    # the simulator that served the resumed part says so itself (run.json is rewritten from its answers)
    meta = json.loads((resumed / "run.json").read_text(encoding="utf-8"))
    assert "--resume" in meta["command_line"]
    assert (meta["seed"], meta["sim_bench"], meta["bench"]) == (SEED, str(sim.resolve()), "two-position-bench")
    # the meters of the resumed point are the seed-3 meters of that file: their true errors, not seed 1's
    new = res[res["point"] != first_point]
    seed1_off = []
    with simulated_bench(sim, seed=SEED) as (rb3, _), simulated_bench(sim, seed=1) as (rb1, _):
        for _, row in new.iterrows():
            pos = int(row["position"])
            t3, t1 = true_error(rb3, pos, row), true_error(rb1, pos, row)
            assert abs(row["error_pct"] - t3) <= row["uncertainty_pct"], (pos, t3)
            seed1_off.append(abs(row["error_pct"] - t1) > row["uncertainty_pct"])
    assert any(seed1_off)  # the check tells the seeds apart: a seed-1 bench would have failed it


def test_resume_refuses_another_simulated_bench(first_run: tuple[Path, Path, Path], tmp_path: Path) -> None:
    run = first_run[0]
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    changed = _two_positions(tmp_path / "changed.yaml", name="edited-since")
    with pytest.raises(OSError, match="not the one of the interrupted run"):
        run_plan(None, None, resumed, sim_bench=changed, progress=False, resume=True)
    meta = json.loads((resumed / "run.json").read_text(encoding="utf-8"))
    with pytest.raises(OSError, match="--seed 5 is not the seed"):
        run_plan(None, None, resumed, seed=5, progress=False, resume=True)
    meta["seed"] = None  # a run.json written before seeds were recorded
    (resumed / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    log = (resumed / "pytest.log").read_bytes()
    p = hil("run", "--resume", str(resumed), "--no-progress")
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 2 and "records no seed" in out, out
    assert (resumed / "pytest.log").read_bytes() == log  # refused before pytest started


def _rec(**kw: Any) -> ResumeRecord:
    base: dict[str, Any] = {"plan": Path("p.yaml"), "simulated": True, "bench_file": "b.yaml", "seed": 3,
                            "sim_bench": "default", "sim_bench_sha256": "ab"}
    base.update(kw)
    return ResumeRecord(**base)


def test_resume_simulation_rules(tmp_path: Path) -> None:
    warnings: list[str] = []
    assert resume_simulation(_rec(), tmp_path, None, None, warnings.append) == (3, None)
    sim = _two_positions(tmp_path / "s.yaml")
    assert resume_simulation(_rec(sim_bench=str(sim)), tmp_path, 3, None, warnings.append) == (3, sim)
    assert not warnings
    with pytest.raises(OSError, match="is gone"):
        resume_simulation(_rec(sim_bench=str(tmp_path / "moved.yaml")), tmp_path, None, None, warnings.append)
    with pytest.raises(OSError, match="not a simulated bench: give --bench"):
        resume_simulation(_rec(simulated=False), tmp_path, None, None, warnings.append)
    # an older run.json: the seed given by hand, the file unknown → the packaged one, said aloud
    assert resume_simulation(_rec(seed=None, sim_bench=None), tmp_path, 7, None, warnings.append) == (7, None)
    assert warnings and "does not say which simulated-bench file" in warnings[0]


# -- kills ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningBench, Path]]:
    """A simulated bench of two meters served by the test, as `hil sim` would (not told its file)."""
    d = tmp_path_factory.mktemp("bench")
    with RunningBench(SimulatedBench(load_sim_bench(_two_positions(d / "sim.yaml")), seed=7)) as rb:
        dump_bench_file(bench_file_for(rb.bench), d / "bench.yaml")
        yield rb, d / "bench.yaml"


def _child_of(pid: int) -> int:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    assert len(children) == 1, f"hil run {pid} has children {children}"
    return int(children[0])


def _gone(pid: int) -> bool:
    """Exited (a zombie whose new parent has not reaped it yet counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def _csv_rows(run: Path) -> int:
    return len(pd.read_csv(run / "results.csv"))


def test_sigkill_of_pytest_leaves_every_finished_point_in_parquet(served: Any, tmp_path: Path) -> None:
    rb, bench = served
    out = tmp_path / "killed"
    p = hil("run", str(PLAN), "--bench", str(bench), "--out", str(out), "--no-progress", start_new_session=True)
    try:
        _wait_rows(out / "results.csv", 2, p)
        child = _child_of(p.pid)
        # aim at the gap: SIGKILL as soon as the CSV grows, while the Parquet of that point is being written
        size = (out / "results.csv").stat().st_size
        end = time.monotonic() + 60
        while (out / "results.csv").stat().st_size == size and time.monotonic() < end:
            pass
        os.kill(child, signal.SIGKILL)
        text, _ = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert rb.call(lambda: rb.bench.world.truth())["source"]["output"] is False
    n = _csv_rows(out)
    assert n >= 4 and n % 2 == 0  # whole points of both meters
    assert len(pd.read_parquet(out / "results.parquet")) == n, text  # repaired by the guardian if it had to be
    assert not list(out.glob("tmp*"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_sigkill_of_hil_run_stops_its_pytest_source_off(served: Any, tmp_path: Path) -> None:
    rb, bench = served
    out = tmp_path / "orphan"
    p = hil("run", str(PLAN), "--bench", str(bench), "--out", str(out), "--no-progress", start_new_session=True)
    child = 0
    try:
        at_kill = _wait_rows(out / "results.csv", 2, p)
        child = _child_of(p.pid)
        p.kill()  # the guardian only, by pid: no handler, no cleanup
        p.communicate(timeout=30)
        end = time.monotonic() + 60
        while not _gone(child) and time.monotonic() < end:
            time.sleep(0.05)
        assert _gone(child), "pytest goes on without its guardian"
    finally:
        if child and not _gone(child):
            os.kill(child, signal.SIGKILL)
    n = _csv_rows(out)
    time.sleep(0.5)
    assert _csv_rows(out) == n  # nothing writes any more
    # stopped mid-plan: at most the points in flight when the guardian died, not the plan's 30 points
    assert at_kill <= n <= at_kill + 10 < 60
    assert len(pd.read_parquet(out / "results.parquet")) == n  # SIGTERM waits for a point's both writes
    assert rb.call(lambda: rb.bench.world.truth())["source"]["output"] is False
    meta = json.loads((out / "run.json").read_text(encoding="utf-8"))
    # a simulator started by someone else says its seed and configuration (its file it was not told)
    assert meta["seed"] == 7 and meta["sim_bench"] is None and len(meta["sim_bench_sha256"]) == 64


def test_resume_on_an_external_simulator_with_another_seed_is_refused(first_run: tuple[Path, Path, Path],
                                                                      tmp_path: Path) -> None:
    """`hil run --resume --bench FILE` onto a simulator someone else serves: the same file but seed 1 instead of the
    run's 3 gives other meters, so the resume stops before anything is energised and the results stay as they were."""
    run, _, sim = first_run
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    lines = (resumed / "results.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (resumed / "results.csv").write_text("".join(lines[:2]), encoding="utf-8")  # interrupted after one row
    (resumed / "results.parquet").unlink()
    with simulated_bench(sim, seed=1, write_to=tmp_path / "other.yaml") as (rb, _):
        p = hil("run", "--resume", str(resumed), "--bench", str(tmp_path / "other.yaml"), "--no-progress")
        out, _ = p.communicate(timeout=300)
        truth = rb.call(lambda: rb.bench.world.truth())
    assert p.returncode == 2, out
    assert "seed is 1, the interrupted run's was 3" in " ".join(out.split())  # the console may fold lines
    assert truth["source"]["output"] is False and all(m["registers"]["1.8.0"] == 0 for m in truth["meters"].values())
    assert len(pd.read_parquet(resumed / "results.parquet")) == 1  # repaired from the CSV, nothing added
