"""A plan's header names the meter connection it is written for; a bench wired otherwise is refused at load,
naming the plan file, the line and the field (issue 15, bad input: "a single-phase plan on a three-phase bench")."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.benchfile import BenchFile
from hil.core.expand import expand_plan
from hil.core.plan import load_plan
from hil.core.steps import PlanError
from hil.simbench import bench_file_for
from hil.standards import default_library
from instruments.simulators.bench import SimulatedBench
from instruments.simulators.world.config import load_sim_bench

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "instruments" / "simulators" / "data"
PLANS = ROOT / "testplans"
ONE_PHASE = PLANS / "iec62053-21_2020_class1_1ph_accuracy.yaml"
MID = PLANS / "en50470-3_2022_classB_1ph_accuracy.yaml"
THREE_PHASE = PLANS / "iec62053-21_2020_class1_3ph_accuracy.yaml"


def _bench(name: str) -> BenchFile:
    return bench_file_for(SimulatedBench(load_sim_bench(DATA / name), seed=1))


def _line_of(path: Path, key: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(f"{key}:"))


@pytest.mark.parametrize("plan", [ONE_PHASE, MID])
def test_a_single_phase_plan_on_a_three_phase_bench_is_refused(plan: Path) -> None:
    with pytest.raises(PlanError) as e:
        expand_plan(load_plan(plan), _bench("default_bench.yaml"), default_library(), plan)
    msg = str(e.value)
    assert f"{plan}:{_line_of(plan, 'connection')}" in msg and "connection" in msg
    assert "plan is for 1P2W meters" in msg and "has 3P4W meters" in msg


def test_a_three_phase_plan_on_a_single_phase_bench_is_refused() -> None:
    with pytest.raises(PlanError) as e:
        expand_plan(load_plan(THREE_PHASE), _bench("single_phase_bench.yaml"), default_library(), THREE_PHASE)
    msg = str(e.value)
    assert f"{THREE_PHASE}:{_line_of(THREE_PHASE, 'connection')}" in msg
    assert "plan is for 3P4W meters" in msg and "has 1P2W meters" in msg


@pytest.mark.parametrize(("plan", "bench"), [(ONE_PHASE, "single_phase_bench.yaml"),
                                             (THREE_PHASE, "default_bench.yaml")])
def test_a_matching_connection_expands(plan: Path, bench: str) -> None:
    assert expand_plan(load_plan(plan), _bench(bench), default_library(), plan)


def test_an_unknown_connection_is_refused_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "plan.yaml"
    bad.write_text(ONE_PHASE.read_text().replace("connection: 1P2W", "connection: 2P3W"))
    with pytest.raises(Exception) as e:
        load_plan(bad)
    assert str(bad) in str(e.value) and "connection" in str(e.value)
