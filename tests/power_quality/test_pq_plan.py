"""The shipped power-quality plan on the shipped simulated PQ bench, run by pytest as a subprocess against the
bench's endpoints (as on hardware); every value by hand:

- THD (IEC 61000-4-7 3.3: √(Σ U_h²) over orders 2 … 40 in % of U_1): √(5² + 6² + 5² + 3.5²) = √98.25 = 9.912 %
  and √(4² + 2² + 1.5²) = √22.25 = 4.717 %; position 4 leaves out the orders above 13: √16 = 4.000 % for the
  second signal, 0.717 points off (tolerance 0.3);
- events at Un 230 V: a dip to 40 % is 92 V, to 70 % 161 V, a swell to 114 % 262.2 V, an interruption 0 V; position
  5 logs each dip twice as long (0.2 s and 2 s);
- diagnosis: bit 1 for the loss of L2, bit 3 for the sequence L1-L3-L2, bit 4 for L1's current reversed (the
  simulated meters' status word); position 6 sets no bit for the reversed sequence;
- flicker: IEC 61000-4-15 Table 5 (Ed. 2, 230 V lamp, 50 Hz): 0.894 % ΔV/V at 39 changes/min is Pst = 1, and Pst is
  proportional to ΔV/V, so 1.444 % at 110 changes/min (0.722 % for Pst = 1) is Pst = 2; position 3 reads 0;
- unbalance (IEC 61000-4-30 5.7.1, u2 = |U2|/|U1|): L1 at 0.9 Un is (0.9 − 1)/(0.9 + 2) = 0.1/2.9 = 3.448 %; L2
  turned by δ = 10° at equal magnitudes is 2 sin(δ/2)/√(5 + 4 cos δ) = 5.830 %; position 7 (magnitudes alone) reads
  3.448 % and 0.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from hil.results import read_results
from hil.simbench import simulated_bench

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "testplans" / "power_quality.yaml"
BENCH = ROOT / "instruments" / "simulators" / "data" / "pq_bench.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("pq_plan")
    with simulated_bench(BENCH, write_to=tmp / "bench.yaml"):
        cmd = [sys.executable, "-m", "pytest", str(PLAN), "--bench", str(tmp / "bench.yaml"),
               "--run-dir", str(tmp / "run"), "-p", "no:cacheprovider", "-q"]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=600)
        assert p.returncode == 1, p.stdout + p.stderr
    yield read_results(tmp / "run")


def test_good_meters_pass_and_each_fault_fails_its_test(run: pd.DataFrame) -> None:
    for _, r in run.iterrows():
        faulty = {(4, "harmonics"), (5, "events"), (6, "diagnosis"), (3, "flicker"), (7, "unbalance")}
        bad = (r["position"], r["test_id"]) in faulty and (r["test_id"] != "harmonics" or r["point"].endswith("23rd")) \
            and (r["test_id"] != "unbalance" or r["point"].endswith("10°"))
        assert r["verdict"] == ("fail" if bad else "pass"), (r["position"], r["point"], r["reason"])


def test_the_thd_and_harmonics_against_the_hand_values(run: pd.DataFrame) -> None:
    rows = run[run["test_id"] == "harmonics"]
    want = {"odd low orders": math.sqrt(98.25), "up to the 23rd": math.sqrt(22.25)}
    for _, r in rows.iterrows():
        assert r["expected_thd_pct"] == pytest.approx(want[r["point"].removeprefix("harmonics ")], abs=1e-6)
        measured = json.loads(r["measured"])
        assert len(measured) == 3  # every element
        for el in measured:
            if r["position"] == 4 and r["point"].endswith("23rd"):
                assert el["thd"] == pytest.approx(4.0, abs=0.01)
            else:
                assert el["thd"] == pytest.approx(r["expected_thd_pct"], abs=0.01)
    r4 = rows[(rows["position"] == 4) & rows["point"].str.endswith("23rd")].iloc[0]
    assert "THD" in r4["reason"] and "4.00 %" in r4["reason"]


def test_the_events_against_what_was_played(run: pd.DataFrame) -> None:
    played = [("dip", 92.0, 0.1), ("dip", 161.0, 1.0), ("swell", 262.2, 0.5), ("interruption", 0.0, 2.0)]
    codes = {1: "dip", 2: "swell", 3: "interruption"}
    for _, r in run[run["test_id"] == "events"].iterrows():
        logged = json.loads(r["logged"])
        assert [codes[e["code"]] for e in logged] == [k for k, _, _ in played]
        for e, (_, volts, seconds) in zip(logged, played, strict=True):
            assert e["voltage_v"] == pytest.approx(volts, abs=0.2)  # the source's setting error, 0.1 V steps
            factor = 2.0 if r["position"] == 5 and codes[e["code"]] == "dip" else 1.0
            assert e["duration_s"] == pytest.approx(seconds * factor, abs=1e-3)
        assert json.loads(r["counted"]) == {"dip": 2, "swell": 1, "interruption": 1}
    assert "logged 0.2 s" in run[(run["position"] == 5) & (run["test_id"] == "events")].iloc[0]["reason"]


@pytest.mark.parametrize(("old", "new", "field"), [
    ("{order: 23, percent: 1.5}", "{order: 51, percent: 1.5}", "harmonics[2].order"),
    ("{kind: swell, level_pct: 114, duration_s: 0.5}", "{kind: swell, level_pct: 105, duration_s: 0.5}",
     "events[2]"),
    ("{kind: interruption, level_pct: 0, duration_s: 2.0}", "{kind: interruption, level_pct: 0, duration_s: 61}",
     "events[3].duration_s"),
    ("{kind: interruption, level_pct: 0, duration_s: 2.0}",
     "{kind: interruption, level_pct: 0, duration_s: 2.0, phases: [1]}", "events[3]"),
])
def test_bad_signals_are_refused_at_plan_load_by_line_and_field(tmp_path: Path, old: str, new: str,
                                                                field: str) -> None:
    from hil.core.plan import load_plan
    from instruments.yamlconfig import ConfigError

    text = PLAN.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "plan.yaml"
    bad.write_text(text.replace(old, new), encoding="utf-8")
    line = next(i for i, ln in enumerate(bad.read_text(encoding="utf-8").splitlines(), 1) if new in ln)
    with pytest.raises(ConfigError) as exc:
        load_plan(bad)
    assert f"plan.yaml:{line}" in str(exc.value) and field in str(exc.value), str(exc.value)


def test_the_diagnosis_flags_each_fault_alone(run: pd.DataFrame) -> None:
    for _, r in run[run["test_id"] == "diagnosis"].iterrows():
        assert r["status_before"] == 0
        got = [(d["fault"], d["on"], d["off"]) for d in json.loads(r["diagnosed"])]
        sequence = 0 if r["position"] == 6 else 1 << 3
        assert got == [("phase_loss", 1 << 1, 0), ("reversed_sequence", sequence, 0), ("reversed_current", 1 << 4, 0)]
    assert "reversed sequence" in run[(run["position"] == 6) & (run["test_id"] == "diagnosis")].iloc[0]["reason"]


def test_flicker_against_table_5(run: pd.DataFrame) -> None:
    for _, r in run[run["test_id"] == "flicker"].iterrows():
        want = json.loads(r["pst_expected"])
        assert want == pytest.approx([1.0, 2.0], rel=0.05)  # the flickermeter's ±5 % at Table 5 points
        got = json.loads(r["pst_measured"])
        assert got == ([[0.0] * 3] * 2 if r["position"] == 3 else [[1.0] * 3, [2.0] * 3])


def test_unbalance_against_the_hand_values(run: pd.DataFrame) -> None:
    d = math.radians(10.0)
    want = {"L1 at 90 %": 100 * 0.1 / 2.9,
            "L2 turned by 10°": 100 * 2 * math.sin(d / 2) / math.sqrt(5 + 4 * math.cos(d))}
    rows = run[run["test_id"] == "unbalance"]
    assert len(rows) == 2 * 7
    for _, r in rows.iterrows():
        name = r["point"].removeprefix("unbalance ")
        assert r["u2_expected"] == pytest.approx(want[name], abs=1e-6)
        wrong = r["position"] == 7 and name.endswith("10°")
        assert r["u2_measured"] == pytest.approx(0.0 if wrong else want[name], abs=0.01)  # the register's 0.01 %


@pytest.mark.parametrize(("old", "new", "volts"), [
    ("{kind: swell, level_pct: 114, duration_s: 0.5}", "{kind: swell, level_pct: 120, duration_s: 0.5}", "276 V"),
    ("{order: 3, percent: 5}, {order: 5, percent: 6}", "{order: 3, percent: 60}, {order: 5, percent: 6}", "V RMS"),
])
def test_a_signal_beyond_the_ratings_is_refused_before_anything_is_energised(tmp_path: Path, old: str, new: str,
                                                                           volts: str) -> None:
    # the meters' 1.15 Un = 264.5 V: a swell to 120 % (276 V), or 60 % of 3rd harmonic (230 · √(1 + 0.6² + …) = 269 V)
    text = PLAN.read_text(encoding="utf-8")
    assert old in text
    bad = tmp_path / "plan.yaml"
    bad.write_text(text.replace(old, new), encoding="utf-8")
    p = subprocess.run([sys.executable, "-m", "hil.cli", "run", "--sim-bench", str(BENCH), str(bad), "--out",
                        str(tmp_path / "run")], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "plan.yaml" in p.stderr and volts in p.stderr and "264.5 V" in p.stderr, p.stderr
    assert not (tmp_path / "run" / "results.csv").exists()


def test_an_unbalance_above_the_meters_umax_is_refused_at_expansion(tmp_path: Path) -> None:
    from hil.core.expand import expand_plan
    from hil.core.plan import load_plan
    from hil.core.steps import PlanError
    from hil.simbench import bench_file_for
    from hil.standards import default_library
    from instruments.simulators.bench import SimulatedBench
    from instruments.simulators.world.config import load_sim_bench

    bench = bench_file_for(SimulatedBench(load_sim_bench(BENCH), seed=1))
    # meters that may see at most 263 V (the plan's swell to 114 % is 262.2 V): L1 at 115 % of 230 V is 264.5 V,
    # which the plan model allows (≤ 115 %) but the meters' rating does not
    bench = bench.model_copy(update={"positions": [
        p.model_copy(update={"meter": p.meter.model_copy(update={"umax_v": 263.0})}) for p in bench.positions]})
    bad = tmp_path / "plan.yaml"
    bad.write_text(PLAN.read_text(encoding="utf-8").replace("{pct: 90, degrees: 0}", "{pct: 115, degrees: 0}"),
                   encoding="utf-8")
    with pytest.raises(PlanError, match=r"115 % Un: 264\.5 V is beyond the bench's or the meters' rating \(263 V\)"):
        expand_plan(load_plan(bad), bench, default_library(), bad)
