"""A profile beyond the chamber is refused before anything starts: at plan expansion when the bench file states the
chamber's datasheet (the simulated bench writes it), else by the chamber itself before the meters are energised;
non-finite numbers in a plan are refused at load, with file, line and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hil.core.expand import expand_plan
from hil.core.plan import Plan, load_plan
from hil.core.steps import PlanError
from hil.results import read_results
from hil.simbench import simulated_bench
from hil.standards import StandardsLibrary
from instruments.yamlconfig import ConfigError
from tests.sequences.plans import SEED, pytest_plan

ROOT = Path(__file__).resolve().parents[2]
SIM = yaml.safe_load((ROOT / "instruments/simulators/data/default_bench.yaml").read_text(encoding="utf-8"))
STEEPEST = min(SIM["chamber"]["max_gradient_up_k_per_min"], SIM["chamber"]["max_gradient_down_k_per_min"])
LOW_C, HIGH_C = SIM["chamber"]["temperature_range_c"]


def _plan(**burn_in: object) -> Plan:
    test = {"id": "bi", "kind": "burn_in", "temperature_c": 70, "duration_h": 1, "gradient_k_per_min": 1.0,
            "monitoring": {"interval_s": 60, "port_every": 10, "chunk_intervals": 30}, **burn_in}
    return Plan.model_validate({"plan": "p", "standard": "IEC 62053-21", "edition": "2020", "class": "1",
                                "tests": [test]})


def test_simulated_bench_file_states_the_chamber_datasheet() -> None:
    with simulated_bench() as (_, bench_file):
        options = bench_file.roles["chamber"].options
        assert options["max_gradient_k_per_min"] == STEEPEST
        assert (options["min_temperature_c"], options["max_temperature_c"]) == (LOW_C, HIGH_C)
        library = StandardsLibrary.load([])
        assert [t.kind for t in expand_plan(_plan(), bench_file, library)] == ["burn_in"]
        with pytest.raises(PlanError, match="gradient 50 K/min is beyond the chamber's"):
            expand_plan(_plan(gradient_k_per_min=50), bench_file, library)
        with pytest.raises(PlanError, match="beyond the chamber's range"):
            expand_plan(_plan(temperature_c=HIGH_C + 20), bench_file, library)


def test_a_gradient_the_bench_file_does_not_know_is_refused_by_the_chamber_before_the_load(tmp_path: Path) -> None:
    """Without ``max_gradient_k_per_min`` in the bench file the chamber is the judge: the runner sets each gradient
    of the profile before energising, so the refusal leaves the source off and no meter ever registers."""
    with simulated_bench(seed=SEED, write_to=tmp_path / "full.yaml") as (rb, _):
        bench = yaml.safe_load((tmp_path / "full.yaml").read_text(encoding="utf-8"))
        del bench["roles"]["chamber"]["options"]["max_gradient_k_per_min"]
        (tmp_path / "bench.yaml").write_text(yaml.safe_dump(bench), encoding="utf-8")
        plan = tmp_path / "plan.yaml"
        plan.write_text(yaml.safe_dump(_plan(gradient_k_per_min=STEEPEST * 4).model_dump(by_alias=True,
                                                                                         exclude_none=True)),
                        encoding="utf-8")
        out, _ = pytest_plan(plan, tmp_path / "bench.yaml", tmp_path / "run").communicate(timeout=300)
        truth = rb.call(lambda: rb.bench.world.truth())
    rows = read_results(tmp_path / "run")
    assert set(rows["verdict"]) == {"broken"}, out
    assert rows["reason"].str.contains("chamber").all()
    assert truth["source"]["output"] is False  # never switched on
    assert all(m["registers"]["1.8.0"] == 0 for m in truth["meters"].values())  # no meter ever registered


@pytest.mark.parametrize("bad", [".inf", ".nan"])
def test_non_finite_numbers_are_refused_with_file_line_and_field(tmp_path: Path, bad: str) -> None:
    plan = tmp_path / "bad.yaml"
    plan.write_text(f'plan: p\nstandard: IEC 62053-21\nedition: "2020"\ntests:\n  - id: b\n    kind: burn_in\n'
                    f"    temperature_c: 70\n    duration_h: {bad}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_plan(plan)
    assert err.value.file.endswith("bad.yaml") and err.value.line == 8
    assert err.value.field == "tests[0].duration_h"
    shown = subprocess.run([sys.executable, "-m", "hil.cli", "plan", "show", str(plan)], capture_output=True,
                           text=True, cwd=tmp_path, timeout=120)
    assert shown.returncode != 0 and "bad.yaml:8" in shown.stdout + shown.stderr
