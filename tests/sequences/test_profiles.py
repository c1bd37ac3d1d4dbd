"""Bad sequence input is refused before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from hil.core.expand import expand_plan
from hil.core.plan import Plan
from hil.core.steps import PlanError
from hil.kinds.sequences import BurnInTest, ProfileError, Ramp, Soak, ThermalCyclingTest, check_profile, steps_of
from hil.simbench import simulated_bench
from hil.standards import StandardsLibrary

ROOT = Path(__file__).resolve().parents[2]
SIM = yaml.safe_load((ROOT / "instruments/simulators/data/default_bench.yaml").read_text(encoding="utf-8"))
LOW, HIGH = SIM["chamber"]["temperature_range_c"]
GRAD = SIM["chamber"]["max_gradient_up_k_per_min"]


def _burn_in(**kw: object) -> BurnInTest:
    return BurnInTest.model_validate({"id": "b", "kind": "burn_in", "temperature_c": 70, "duration_h": 1, **kw})


def _limits(test: BurnInTest | ThermalCyclingTest) -> None:
    check_profile(test, min_c=LOW, max_c=HIGH, max_gradient_k_per_min=GRAD)


def test_negative_or_zero_duration_refused() -> None:
    for d in (-1, 0):
        with pytest.raises(ValidationError, match="duration_h"):
            _burn_in(duration_h=d)


def test_cycling_order_and_counts_refused() -> None:
    base = {"id": "c", "kind": "thermal_cycling", "gradient_k_per_min": 5, "dwell_min": 10, "cycles": 2}
    with pytest.raises(ValidationError, match="below high_c"):
        ThermalCyclingTest.model_validate({**base, "low_c": 70, "high_c": -25})
    with pytest.raises(ValidationError, match="cycles"):
        ThermalCyclingTest.model_validate({**base, "low_c": -25, "high_c": 70, "cycles": 0})


def test_profile_beyond_chamber_range_or_gradient_refused() -> None:
    _limits(_burn_in(temperature_c=HIGH))  # at the limit: fine
    with pytest.raises(ProfileError, match="range"):
        _limits(_burn_in(temperature_c=HIGH + 1))
    with pytest.raises(ProfileError, match="gradient"):
        _limits(_burn_in(gradient_k_per_min=GRAD + 0.5))
    cyc = ThermalCyclingTest.model_validate({"id": "c", "kind": "thermal_cycling", "low_c": LOW - 5, "high_c": 70,
                                             "gradient_k_per_min": 5, "dwell_min": 10, "cycles": 1})
    with pytest.raises(ProfileError, match="range"):
        _limits(cyc)


def test_thermal_cycling_steps() -> None:
    cyc = ThermalCyclingTest.model_validate({"id": "c", "kind": "thermal_cycling", "low_c": -25, "high_c": 70,
                                             "gradient_k_per_min": 5, "dwell_min": 30, "cycles": 3,
                                             "end_temperature_c": 23})
    steps = steps_of(cyc)
    # per cycle: ramp high, dwell, ramp low, dwell; then the return ramp
    assert len(steps) == 3 * 4 + 1
    assert [s.target_c for s in steps[:4]] == [70, 70, -25, -25]
    assert isinstance(steps[1], Soak) and steps[1].duration_s == 30 * 60
    assert isinstance(steps[-1], Ramp) and steps[-1].target_c == 23


def test_plan_expansion_refuses_beyond_the_bench_file_chamber_limits() -> None:
    plan = Plan.model_validate({"plan": "p", "standard": "IEC 62053-21", "edition": "2020", "class": "1",
                                "tests": [{"id": "b", "kind": "burn_in", "temperature_c": 150, "duration_h": 1}]})
    with simulated_bench() as (_, bench_file):
        chamber = bench_file.roles["chamber"]
        limited = bench_file.model_copy(update={"roles": {**bench_file.roles, "chamber": chamber.model_copy(
            update={"options": {**chamber.options, "max_temperature_c": 100.0}})}})
        library = StandardsLibrary.load([])
        tasks = expand_plan(plan, bench_file, library)  # the bench file gives no limit: checked at the start
        assert [t.kind for t in tasks] == ["burn_in"]
        with pytest.raises(PlanError, match="beyond the chamber's range"):
            expand_plan(plan, limited, library)
