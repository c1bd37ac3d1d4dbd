"""The packaged single-phase bench and its plans (issue 15, part 1): IEC 62053-21:2020 class 1 and EN 50470-3 (MID)
class B on 1P2W meters 0.25-5(80) A behind a single-phase source and a one-element WT1801E reference.

Expected verdicts by hand from the bench's documented truth (instruments/simulators/data/single_phase_bench.yaml
header) and the limits of reference/standards.md §3, never from the code's output.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hil.benchfile import BenchFile
from hil.core.expand import expand_plan
from hil.core.plan import load_plan
from hil.core.steps import PlanError
from hil.results import read_results
from hil.simbench import bench_file_for, simulated_bench
from hil.standards import default_library
from instruments.simulators.bench import SimulatedBench
from instruments.simulators.world.config import load_sim_bench

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "instruments" / "simulators" / "data" / "single_phase_bench.yaml"
IEC_PLAN = ROOT / "testplans" / "iec62053-21_2020_class1_1ph_accuracy.yaml"
MID_PLAN = ROOT / "testplans" / "en50470-3_2022_classB_1ph_accuracy.yaml"
THREE_PHASE_PLAN = ROOT / "testplans" / "iec62053-21_2020_class1_3ph_accuracy.yaml"
IMIN, ITR, IREF, IMAX, UN = 0.25, 0.5, 5.0, 80.0, 230.0
LOW_CAL, CREEPER = 3, 6  # position 3: +2.3 % at Imin, +0.3 % from Itr; position 6 creeps


def iec_class1(i: float, pf: str) -> float:
    """IEC 62053-21:2020 class 1, single-phase (standards.md §3)."""
    if pf == "1":
        return 1.5 if i < ITR else 1.0
    return 1.5 if i < 2 * ITR else 1.0


def mid_class_b(i: float, pf: str) -> float:
    """MID MI-003 Table 2, class B, +5…+30 °C (standards.md §3): ±2.0 % over Imin … Imax (both current ranges)."""
    return 2.0


@pytest.fixture(scope="module")
def bench() -> BenchFile:
    return bench_file_for(SimulatedBench(load_sim_bench(BENCH), seed=1))


def test_the_bench_is_single_phase(bench: BenchFile) -> None:
    assert bench.limits.phases == 1
    assert {p.meter.connection for p in bench.positions} == {"1P2W"}
    assert bench.roles["reference"].idn == "YOKOGAWA,WT1801E,*"
    assert len(bench.positions) == 8


def test_a_single_element_load_on_single_phase_meters_is_refused_naming_the_plan(bench: BenchFile,
                                                                                 tmp_path: Path) -> None:
    # without its header's connection (tests/test_plan_connection.py), the load itself is refused
    plan = tmp_path / "three_phase.yaml"
    plan.write_text(THREE_PHASE_PLAN.read_text().replace("connection: 3P4W\n", ""))
    with pytest.raises(PlanError) as e:
        expand_plan(load_plan(plan), bench, default_library(), plan)
    assert str(plan) in str(e.value) and "single_element needs polyphase meters" in str(e.value)


def _run(plan: Path, tmp: Path) -> pd.DataFrame:
    with simulated_bench(BENCH, seed=2, write_to=tmp / "bench.yaml"):
        cmd = [sys.executable, "-m", "pytest", str(plan), "--bench", str(tmp / "bench.yaml"),
               "--run-dir", str(tmp / "run"), "-p", "no:cacheprovider", "-q"]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=600)
        assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]  # positions 3 and 6 fail
        return read_results(tmp / "run")


@pytest.mark.parametrize(("plan", "limit", "points"), [(IEC_PLAN, iec_class1, 13), (MID_PLAN, mid_class_b, 12)],
                         ids=["iec62053-21-class1", "mid-class-b"])
def test_verdicts_match_the_truth(tmp_path: Path, plan: Path, limit: object, points: int) -> None:
    df = _run(plan, tmp_path)
    # IEC class 1 has no PF 0.5L / 0.8C limit below Itr: Imin is measured at PF 1 only (13 points, standards.md §3)
    assert len(df) == (points + 2) * 8 and "broken" not in set(df["verdict"])
    assert set(df.loc[df["test"] == "accuracy", "voltage_v"]) == {UN}
    for good in (1, 2, 4, 5, 7, 8):
        assert set(df.loc[df["position"] == good, "verdict"]) == {"pass"}, good
    acc = df[df["test"] == "accuracy"]
    for _, r in acc.iterrows():
        assert r["limit_pct"] == limit(r["current_a"], r["pf"]), r["point"]  # type: ignore[operator]
    # position 3: +2.3 % at Imin fails both (±1.5 %, ±2.0 %); +0.3 % from Itr passes
    low = acc[acc["position"] == LOW_CAL]
    assert set(low.loc[low["verdict"] == "fail", "current_a"]) == {IMIN}
    assert set(low.loc[low["current_a"] >= ITR, "verdict"]) == {"pass"}
    # position 6 creeps: only the no-load test fails
    creep = df[df["position"] == CREEPER]
    assert set(creep.loc[creep["verdict"] == "fail", "test"]) == {"no_load"}
