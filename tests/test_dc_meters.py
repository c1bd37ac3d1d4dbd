"""DC meters (issue 15, part 7): the IEC 62053-41:2021 limit table as data, the DC accuracy plan expanded against a
DC meter's own rating, and a DC plan on an AC bench (or an AC plan on a DC bench) refused at load with file, line
and field.

Expected limits typed by hand (IEC 62053-41:2021 classes 0.5 and 1, smart-functions.md; values unconfirmed: not in
the reference material), never read from the YAML table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.benchfile import BenchFile
from hil.core.expand import expand_plan
from hil.core.plan import load_plan
from hil.core.steps import PlanError
from hil.simbench import bench_file_for
from hil.standards import default_library, limit_for
from hil.standards.rating import MeterRating
from instruments.simulators.bench import SimulatedBench
from instruments.simulators.world.config import load_sim_bench

ROOT = Path(__file__).resolve().parents[1]
AC_BENCH = ROOT / "instruments" / "simulators" / "data" / "single_phase_bench.yaml"
DC_PLAN = ROOT / "testplans" / "iec62053-41_2021_dc_accuracy.yaml"
AC_PLAN = ROOT / "testplans" / "iec62053-21_2020_class1_1ph_accuracy.yaml"
IMIN, ITR, IREF, IMAX = 0.25, 0.5, 5.0, 80.0  # the single-phase bench's meters, 0.25-5(80) A


def dc_limit(cls: str, i: float) -> float:
    """IEC 62053-41:2021 (U): class 0.5 ±1.0 % below Itr, ±0.5 % from Itr; class 1 ±1.5 % / ±1.0 %."""
    low, high = {"0.5": (1.0, 0.5), "1": (1.5, 1.0)}[cls]
    return low if i < ITR else high


def _rating(cls: str) -> MeterRating:
    return MeterRating(standard="IEC 62053-41", edition="2021", class_index=cls, un_v=1000.0, supply="dc",
                       constant_imp_per_kwh=1000.0, imin_a=IMIN, itr_a=ITR, iref_a=IREF, imax_a=IMAX)


@pytest.mark.parametrize("cls", ["0.5", "1"])
@pytest.mark.parametrize("i", [IMIN, 0.4999, ITR, 2 * ITR, IREF, IMAX])
def test_limit_table_against_hand_typed_values(cls: str, i: float) -> None:
    lim = limit_for(_rating(cls), i, "1", library=default_library())
    assert lim.limit_pct == pytest.approx(dc_limit(cls, i))
    assert lim.provenance.standard == "IEC 62053-41"
    assert lim.provenance.edition == "2021"
    assert "DC" in lim.provenance.table
    assert lim.provenance.status == "unconfirmed"


def test_dc_table_is_marked_dc_and_has_only_classes_05_and_1() -> None:
    lib = default_library()
    assert lib.supply("IEC 62053-41", "2021") == "dc"
    assert lib.supply("IEC 62053-21", "2020") == "ac"
    assert set(lib.classes("IEC 62053-41", "2021")) == {"0.5", "1"}


@pytest.fixture(scope="module")
def ac_bench() -> BenchFile:
    return bench_file_for(SimulatedBench(load_sim_bench(AC_BENCH), seed=1))


def _as_dc(bench: BenchFile) -> BenchFile:
    positions = [p.model_copy(update={"meter": p.meter.model_copy(update={"supply": "dc"})}) for p in bench.positions]
    return bench.model_copy(update={"positions": positions})


def test_dc_plan_on_an_ac_bench_is_refused_with_file_line_and_field(ac_bench: BenchFile) -> None:
    with pytest.raises(PlanError) as e:
        expand_plan(load_plan(DC_PLAN), ac_bench, default_library(), DC_PLAN)
    msg = str(e.value)
    assert str(DC_PLAN) in msg
    line = next(n for n, t in enumerate(DC_PLAN.read_text().splitlines(), 1) if t.startswith("standard:"))
    assert f":{line}" in msg and "standard" in msg
    assert "DC meter standard" in msg and "AC meters" in msg


def test_ac_plan_on_a_dc_bench_is_refused(ac_bench: BenchFile) -> None:
    with pytest.raises(PlanError) as e:
        expand_plan(load_plan(AC_PLAN), _as_dc(ac_bench), default_library(), AC_PLAN)
    assert str(AC_PLAN) in str(e.value) and "AC meter standard" in str(e.value) and "DC meters" in str(e.value)


def test_dc_plan_expands_to_the_meters_own_currents_with_dc_limits(ac_bench: BenchFile) -> None:
    steps = expand_plan(load_plan(DC_PLAN), _as_dc(ac_bench), default_library(), DC_PLAN)
    got = sorted((s.spec.current_a, s.spec.pf, s.limit_pct) for s in steps)
    want = sorted((i, "1", dc_limit("1", i)) for i in (IMIN, ITR, 2 * ITR, IREF, IMAX))
    assert [(a, p) for a, p, _ in got] == [(a, p) for a, p, _ in want]
    assert [lim for *_, lim in got] == pytest.approx([lim for *_, lim in want])
    assert all("62053-41" in s.spec.standard for s in steps)
