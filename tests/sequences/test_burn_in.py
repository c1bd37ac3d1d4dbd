"""Burn-in on the default simulated bench: the weak unit (position 12) and only it fails, at the simulator's true
failure time; a run killed mid-sequence (SIGTERM, SIGKILL) and resumed ends with the same results.

The simulated bench is served by this test process; pytest runs the plan as a subprocess against it (as hardware).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from hil.kinds.sequences import read_monitoring
from hil.results import read_results
from hil.simbench import simulated_bench
from instruments.simulators.bench import RunningBench
from tests.sequences.plans import PLAN, SEED, WEAK, progress_h, pytest_plan

ROOT = Path(__file__).resolve().parents[2]
INTERVAL_S = 60.0



@pytest.fixture
def plan(tmp_path: Path) -> Path:
    p = tmp_path / "burn_in_48h.yaml"
    p.write_text(PLAN, encoding="utf-8")
    return p


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[RunningBench, Path]]:
    with simulated_bench(seed=SEED, write_to=tmp_path / "bench.yaml") as (rb, _):
        yield rb, tmp_path / "bench.yaml"


def _run(plan: Path, bench: Path, run_dir: Path, *extra: str) -> str:
    p = pytest_plan(plan, bench, run_dir, *extra)
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 1, out  # the weak unit fails: pytest exit 1
    return out


def _truth(rb: RunningBench) -> dict[int, float | None]:
    return dict(rb.call(lambda: {p: m.failed_at for p, m in rb.bench.world.meters.items()}))


def test_burn_in_finds_the_weak_unit_at_its_true_failure_time(plan: Path, served: tuple[RunningBench, Path],
                                                               tmp_path: Path) -> None:
    rb, bench = served
    run_dir = tmp_path / "run"
    _run(plan, bench, run_dir)
    res = read_results(run_dir).set_index("position")
    truth = _truth(rb)
    assert truth[WEAK] is not None
    assert [p for p, t in truth.items() if t is not None] == [WEAK]  # the simulator agrees only 12 failed
    assert list(res.index[res["verdict"] == "fail"]) == [WEAK]
    assert set(res["verdict"]) == {"pass", "fail"}
    row = res.loc[WEAK].to_dict()
    true_s = float(truth[WEAK] or 0.0)
    assert row["failure_mode"] == "dead"  # no pulses and the port silent
    # the recorded failure time (window midpoint, bench clock) is within one monitoring interval of the truth
    assert abs(float(row["failure_clock_s"]) - true_s) <= INTERVAL_S
    # the window brackets the truth (sequence time = clock − the sequence's origin)
    origin = float(row["failure_clock_s"]) - float(row["failure_time_h"]) * 3600
    assert float(row["failed_after_h"]) * 3600 <= true_s - origin <= float(row["failed_before_h"]) * 3600 + 1e-6
    mon = read_monitoring(run_dir)
    # one row per meter per interval, no interval twice
    assert not mon.duplicated(["position", "t_end_s"]).any()
    assert set(mon["position"]) == set(range(1, 13))
    # pulses per full interval at Iref PF 1 = 3 × 230 V × 5 A × 60 s / 3.6e6 Ws/kWh × 1000 imp/kWh = 57.5
    full = mon[(mon["position"] == 1) & ((mon["t_end_s"] - mon["t_start_s"]) == INTERVAL_S)]
    assert abs(full["pulses"].mean() - 57.5) < 1.0
    dead = mon[(mon["position"] == WEAK) & (mon["t_start_s"] > row["failed_before_h"] * 3600)]
    assert (dead["pulses"] == 0).all() and len(dead) > 0



def _comparable(df: pd.DataFrame) -> pd.DataFrame:
    # timestamps differ; pulses counted in total miss the unmonitored interruption
    drop = ["run_id", "started_at", "finished_at", "pulses"]
    return df.drop(columns=[c for c in drop if c in df]).sort_values("position").reset_index(drop=True)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_and_resumed_equals_uninterrupted(plan: Path, tmp_path: Path, signum: int) -> None:
    with simulated_bench(seed=SEED, write_to=tmp_path / "a.yaml") as (_, _):
        _run(plan, tmp_path / "a.yaml", tmp_path / "straight")
    straight = read_results(tmp_path / "straight")
    with simulated_bench(seed=SEED, write_to=tmp_path / "b.yaml") as (rb, _):
        run_dir = tmp_path / "killed"
        p = pytest_plan(plan, tmp_path / "b.yaml", run_dir)
        deadline = time.monotonic() + 120
        while progress_h(run_dir) < 2.0 and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        p.send_signal(signum)
        p.communicate(timeout=60)
        killed_at = progress_h(run_dir)
        assert 0 < killed_at < 15, killed_at  # interrupted well before the weak unit's failure
        assert not (run_dir / "results.csv").exists()  # the sequence had not finished
        before = read_monitoring(run_dir)
        _run(plan, tmp_path / "b.yaml", run_dir, "--resume")
        truth = _truth(rb)
    resumed = read_results(run_dir)
    pd.testing.assert_frame_equal(_comparable(resumed), _comparable(straight), check_dtype=False)
    mon = read_monitoring(run_dir)
    assert not mon.duplicated(["position", "t_end_s"]).any()  # no duplicated intervals
    # every interval recorded before the kill is still there
    assert set(before["t_end_s"]) <= set(mon["t_end_s"])
    ckpt = json.loads((run_dir / "checkpoint.json").read_text(encoding="utf-8"))
    assert len(next(iter(ckpt["sequences"].values()))["interruptions"]) == 1
    assert truth[WEAK] is not None


def test_a_failure_inside_the_interruption_gets_the_gap_as_its_window(tmp_path: Path) -> None:
    """SIGKILL just after the weak unit died (its death may fall after the last checkpoint: the monitoring of it
    is lost with the kill), then resume: the recorded failure window still holds the simulator's true time, and
    the unmonitored gap is part of it when the death was not seen before the kill."""
    plan = tmp_path / "bi.yaml"
    plan.write_text(PLAN.replace("chunk_intervals: 30", "chunk_intervals: 120"), encoding="utf-8")
    run_dir = tmp_path / "run"
    with simulated_bench(seed=SEED, write_to=tmp_path / "b.yaml") as (rb, _):
        p = pytest_plan(plan, tmp_path / "b.yaml", run_dir)
        died = None
        deadline = time.monotonic() + 300
        while died is None and p.poll() is None and time.monotonic() < deadline:
            died = rb.call(lambda: rb.bench.world.meters[WEAK].failed_at)
            time.sleep(0.002)
        assert died is not None, "the weak unit did not die before the plan ended"
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
        _run(plan, tmp_path / "b.yaml", run_dir, "--resume")
    r = read_results(run_dir).set_index("position").loc[WEAK]
    assert r["verdict"] == "fail"
    origin = float(r["failure_clock_s"]) - float(r["failure_time_h"]) * 3600.0  # sequence time 0 on the bench clock
    true_h = (died - origin) / 3600.0
    assert float(r["failed_after_h"]) - 1e-6 <= true_h <= float(r["failed_before_h"]) + 1e-6, (
        r["failed_after_h"], true_h, r["failed_before_h"])
