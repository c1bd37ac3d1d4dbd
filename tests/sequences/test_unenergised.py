"""A sequence that is not energised (``load: null``) runs with the source off, whatever an earlier test left on."""

from __future__ import annotations

from pathlib import Path

from hil.kinds.sequences import read_monitoring
from hil.results import read_results
from hil.simbench import simulated_bench
from tests.sequences.plans import SEED, pytest_plan

PLAN = """\
plan: accuracy point, then thermal cycling unpowered
standard: IEC 62053-21
edition: "2020"
class: "1"
tests:
  - id: acc
    kind: accuracy
    currents: [Iref]
    power_factors: ["1"]
  - id: tc
    kind: thermal_cycling
    low_c: 10
    high_c: 40
    gradient_k_per_min: 5
    dwell_min: 10
    cycles: 1
    load: null
    monitoring: {interval_s: 60, port_every: 10, chunk_intervals: 30}
"""


def test_unenergised_sequence_switches_the_source_off(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    run_dir = tmp_path / "run"
    with simulated_bench(seed=SEED, write_to=tmp_path / "bench.yaml"):
        out, _ = pytest_plan(plan, tmp_path / "bench.yaml", run_dir).communicate(timeout=600)
    rows = read_results(run_dir)
    acc = rows[rows["test_id"] == "acc"]
    assert (acc["pulses"] > 0).sum() >= 10, out  # the accuracy point ran with the outputs on
    mon = read_monitoring(run_dir)
    tc = mon[mon["test_id"] == "tc"]
    assert len(tc) > 0
    assert int(tc["pulses"].sum()) == 0  # no meter registered: nothing was powered during the cycling
