"""Life in cycles: thermal cycling in thermal cycles (Coffin–Manson), power cycling in power cycles.

Hand formulas (reference/standards.md §8): AF = (ΔT_test/ΔT_use)^n, n ≈ 1.9 for SnPb solder; a thermal cycle of
the profile is 2 ramps over the span at the gradient + 2 dwells; cycles to failure = failure time / cycle period;
mean cycles between failures ≥ 2T/χ²(CL; 2r + 2) with T the cycles on test (time-terminated), × AF in use,
× 24 / (cycles a day) in use hours. One end-to-end run on the default simulated bench (positions 1-8, seed 1:
position 8's power-cycle life runs out at its 157th power-up) checks the unit and the numbers against the run's
own rows.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from scipy.stats import chi2

from hil.core.plan import Plan, load_plan
from hil.kinds.sequences.analysis import AnalysisError, acceleration_of
from hil.kinds.sequences.analysis_model import ReliabilityAnalysisTest
from hil.kinds.sequences.model import ThermalCyclingTest
from hil.kinds.sequences.profile import cycle_period_s
from hil.reliability import POWER_CYCLES, THERMAL_CYCLES, life_data_from_results, weibull_plot_png
from hil.reliability.plots import life_axis_label
from hil.reliability.summary import summarise_life
from hil.reporting.sequence_tables import reliability_table, write_sequence_tables
from hil.results import read_results
from hil.simbench import simulated_bench
from instruments.yamlconfig import ConfigError
from tests.sequences.plans import PLAN as BURN_IN_PLAN

ROOT = Path(__file__).resolve().parents[2]
SNPB_N = 1.9  # standards.md §8: Coffin–Manson exponent for SnPb solder
HEAD = """\
plan: cycles
standard: IEC 62053-21
edition: "2020"
class: "1"
tests:
"""
TC = """\
  - id: tc
    kind: thermal_cycling
    low_c: -25
    high_c: 70
    gradient_k_per_min: 5
    dwell_min: 30
    cycles: 10
"""
PC = """\
  - id: pc
    kind: power_cycling
    load: {current: Iref}
    power_cycles: {cycles: 160, off_s: 5, on_s: 25}
"""


def _plan(tmp_path: Path, text: str) -> tuple[Path, Plan]:
    path = tmp_path / "cycles.yaml"
    path.write_text(text, encoding="utf-8")
    return path, load_plan(path)


def _analysis(plan: Plan) -> ReliabilityAnalysisTest:
    test = plan.tests[-1]
    assert isinstance(test, ReliabilityAnalysisTest)
    return test


# -- pure functions, by hand ------------------------------------------------------------------------------
def test_cycle_period_is_two_ramps_and_two_dwells() -> None:
    test = ThermalCyclingTest.model_validate({"id": "tc", "kind": "thermal_cycling", "low_c": -25, "high_c": 70,
                                              "gradient_k_per_min": 5, "dwell_min": 30, "cycles": 10})
    assert cycle_period_s(test) == pytest.approx((2 * 95 / 5 + 2 * 30) * 60, rel=1e-12)  # 98 min
    shipped = load_plan(ROOT / "testplans/ess_thermal_cycling.yaml").tests[0]
    assert isinstance(shipped, ThermalCyclingTest)
    assert cycle_period_s(shipped) == pytest.approx((2 * (70 - -25) / 5.0 + 2 * 30) * 60, rel=1e-12)


def test_coffin_manson_af_defaults_to_the_thermal_cycling_swing_and_snpb_exponent(tmp_path: Path) -> None:
    _, plan = _plan(tmp_path, HEAD + TC + "  - {id: life, kind: reliability_analysis, "
                                          "acceleration: {model: coffin_manson, use_delta_t_k: 20}}\n")
    acc = acceleration_of(_analysis(plan), plan)
    assert acc.unit == THERMAL_CYCLES
    assert acc.factor == pytest.approx((95 / 20) ** SNPB_N, rel=1e-12)
    assert "standards.md §8" in acc.text
    _, plan = _plan(tmp_path, HEAD + TC + "  - {id: life, kind: reliability_analysis, acceleration: "
                                          "{model: coffin_manson, exponent: 2.5, use_delta_t_k: 15, "
                                          "test_delta_t_k: 60}}\n")
    assert acceleration_of(_analysis(plan), plan).factor == pytest.approx(4.0**2.5, rel=1e-12)


def _row(test_id: str, serial: str, verdict: str, **extra: Any) -> dict[str, Any]:
    return {"test_id": test_id, "serial": serial, "position": int(serial[1:]), "verdict": verdict,
            "limit_table": "survival", **extra}


def _thermal(serial: str, verdict: str, **extra: Any) -> dict[str, Any]:
    return _row("tc", serial, verdict, test="thermal_cycling", life_unit=THERMAL_CYCLES,
                thermal_cycle_h=98 / 60, thermal_cycles=10, sequence_h=17.0, **extra)


def test_thermal_cycles_to_failure_from_a_results_frame() -> None:
    frame = pd.DataFrame([
        _thermal("M1", "fail", failure_time_h=5.0),
        _thermal("M2", "fail", failure_time_h=9.8),
        _thermal("M3", "fail"),  # found failed by the check after: at the end, at most the 10 cycles run
        _thermal("M4", "pass"),
        _thermal("M5", "broken"),
    ])
    data = life_data_from_results(frame, ["tc"])
    assert data.unit == THERMAL_CYCLES
    period_h = (2 * 95 / 5 + 2 * 30) / 60
    expected = [5.0 / period_h, 9.8 / period_h, 10.0, 10.0]
    assert list(data.hours) == pytest.approx(expected, rel=1e-12)
    assert list(data.failed) == [True, True, True, False]
    assert dict(data.excluded) == {"M5": "broken: no valid outcome"}

    af = (95 / 20) ** SNPB_N
    s = summarise_life(data, 0.9, af, use_cycles_per_day=3)
    total = sum(expected)
    lower = 2 * total / chi2.ppf(0.9, 2 * 3 + 2)
    got = s.to_dict()
    assert got["life_unit"] == THERMAL_CYCLES
    assert got["total_unit_cycles"] == pytest.approx(total, rel=1e-12)
    assert got["mcbf"]["lower_cycles"] == pytest.approx(lower, rel=1e-9)
    assert got["mcbf_lower_use_cycles"] == pytest.approx(lower * af, rel=1e-9)
    assert got["mtbf_lower_use_hours"] == pytest.approx(lower * af / 3 * 24, rel=1e-9)
    assert got["mtbf_lower_use_years"] == pytest.approx(lower * af / 3 * 24 / (365.25 * 24), rel=1e-9)
    assert got["weibull"]["eta_cycles"] > 0 and "eta_hours" not in got["weibull"]
    assert not any("hours" in k for k in got if k != "mtbf_lower_use_hours")
    assert weibull_plot_png(data, s.fit).startswith(b"\x89PNG")  # labelled in thermal cycles


def _power(serial: str, verdict: str, **extra: Any) -> dict[str, Any]:
    return _row("pc", serial, verdict, test="power_cycling", life_unit=POWER_CYCLES, sequence_h=1.4, **extra)


def test_power_cycles_to_failure_from_a_results_frame() -> None:
    frame = pd.DataFrame([
        _power("M1", "fail", failure_cycle=156, power_cycles_applied=156, failure_time_h=1.3),
        _power("M2", "fail", failure_cycle=None, power_cycles_applied=75),  # a drift found by the register check
        _power("M3", "fail", failure_cycle=None, power_cycles_applied=0),  # died in a dip: no power cycle yet
        _power("M4", "pass", power_cycles_applied=160),
        _power("M5", "pass", power_cycles_applied=160),
    ])
    data = life_data_from_results(frame, ["pc"])
    assert data.unit == POWER_CYCLES
    assert list(data.hours) == [156.0, 75.0, 160.0, 160.0]  # cycles, not the 1.3 h of M1's failure time
    assert list(data.failed) == [True, True, False, False]
    assert dict(data.excluded) == {"M3": "fail: failed before its first power cycle"}

    table = reliability_table(frame).iloc[0]
    total = 156 + 75 + 160 + 160
    assert table["life_unit"] == POWER_CYCLES
    assert table["total_unit_cycles"] == total and table["mcbf_point_cycles"] == total / 2
    assert table["mcbf_lower_90pct_cycles"] == pytest.approx(2 * total / chi2.ppf(0.9, 6), rel=1e-9)
    assert "mtbf_lower_90pct_h" not in table.index and "total_unit_hours" not in table.index
    assert life_axis_label(POWER_CYCLES) == "power cycles to failure / censoring"


def test_rows_in_different_units_are_not_mixed() -> None:
    frame = pd.DataFrame([_power("M1", "pass", power_cycles_applied=160),
                          _row("bi", "M1", "pass", test="burn_in", sequence_h=48.0)])
    with pytest.raises(ValueError, match=r"different units \(bi in h, pc in power cycles\)"):
        life_data_from_results(frame)
    with pytest.raises(ValueError, match="not all in h"):
        life_data_from_results(frame, ["pc"], unit="h")


# -- refused at load and at collection --------------------------------------------------------------------
@pytest.mark.parametrize(("acceleration", "field", "message"), [
    ("{model: coffin_manson}", "acceleration", "needs use_delta_t_k"),
    ("{model: coffin_manson, use_delta_t_k: 0}", "acceleration.use_delta_t_k", "greater than 0"),
    ("{model: coffin_manson, use_delta_t_k: 20, test_delta_t_k: -5}", "acceleration.test_delta_t_k",
     "greater than 0"),
    ("{model: coffin_manson, use_delta_t_k: 20, exponent: 0}", "acceleration.exponent", "greater than 0"),
    ("{model: coffin_manson, use_delta_t_k: 20, use_temperature_c: 30}", "acceleration",
     "not a Coffin–Manson parameter"),
    ("{model: arrhenius, use_temperature_c: 30, use_delta_t_k: 20}", "acceleration", "a Coffin–Manson parameter"),
    ("{model: arrhenius}", "acceleration", "needs use_temperature_c"),
])
def test_bad_acceleration_is_refused_at_load(tmp_path: Path, acceleration: str, field: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    text = HEAD + TC + f"  - id: life\n    kind: reliability_analysis\n    acceleration: {acceleration}\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_plan(path)
    # the union member (kind) is part of the field path, as for every plan test
    assert (exc.value.line, exc.value.field) == (len(text.splitlines()), f"tests[1].{field}")
    assert message in exc.value.message and exc.value.file == str(path)


@pytest.mark.parametrize(("plan", "analysis", "field", "message"), [
    (BURN_IN_PLAN, "acceleration: {model: coffin_manson, use_delta_t_k: 20}", "acceleration.model",
     "Coffin–Manson is per temperature cycle, but the analysed sequences (burn_in) count life in hours"),
    (HEAD + TC, "acceleration: {model: arrhenius, use_temperature_c: 30, test_temperature_c: 70}",
     "acceleration.model", "arrhenius accelerates time at a steady temperature"),
    (HEAD + PC, "acceleration: {model: coffin_manson, use_delta_t_k: 20}", "acceleration",
     "give acceleration.test_delta_t_k"),
    (BURN_IN_PLAN + PC, "confidence: 0.9", "of", "'bi' (burn_in) in hours, 'pc' (power_cycling) in power cycles"),
    (BURN_IN_PLAN, "use_cycles_per_day: 2", "use_cycles_per_day", "is for a life in cycles"),
    (HEAD + PC, "target_mtbf_h: 1000", "target_mtbf_h", "needs use_cycles_per_day"),
    (HEAD + TC + TC.replace("id: tc", "id: tc2").replace("high_c: 70", "high_c: 85"),
     "acceleration: {model: coffin_manson, use_delta_t_k: 20}", "acceleration", "differ in their swing"),
])
def test_nonsense_is_refused_at_collection_with_file_line_and_field(tmp_path: Path, plan: str, analysis: str,
                                                                   field: str, message: str) -> None:
    text = plan + f"  - id: life\n    kind: reliability_analysis\n    {analysis}\n"
    path, loaded = _plan(tmp_path, text)
    test = _analysis(loaded)
    with pytest.raises(AnalysisError) as exc:
        acceleration_of(test, loaded)
    assert message in str(exc.value)
    err = exc.value.located(path, loaded, test)
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if t.strip() == analysis)
    if field == "of":  # no of: key written (every sequence before it): the line of the analysis test
        line -= 2
    assert (err.file, err.line) == (str(path), line)
    assert err.field == f"tests[{len(loaded.tests) - 1}].{field}"


def test_mixed_units_stop_the_collection_before_anything_runs(tmp_path: Path) -> None:
    plan = tmp_path / "mixed.yaml"
    text = BURN_IN_PLAN + PC + "  - {id: life, kind: reliability_analysis}\n"
    plan.write_text(text, encoding="utf-8")
    with simulated_bench(write_to=tmp_path / "bench.yaml"):
        p = subprocess.run([sys.executable, "-m", "pytest", str(plan), "--bench", str(tmp_path / "bench.yaml"),
                            "--run-dir", str(tmp_path / "run"), "-p", "no:cacheprovider", "-q"],
                           capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr  # a collection error: no test ran
    line = len(text.splitlines())
    assert f"mixed.yaml:{line}: tests[2].of: test 'life': the analysed sequences count life in different units" \
        in p.stdout
    assert not (tmp_path / "run" / "results.csv").exists()


# -- end to end on the default simulated bench ------------------------------------------------------------
E2E = HEAD + """\
  - id: tc
    kind: thermal_cycling
    low_c: -25
    high_c: 70
    gradient_k_per_min: 5
    dwell_min: 10
    cycles: 2
    monitoring: {interval_s: 600, port_every: 6, chunk_intervals: 6}
  - id: pc
    kind: power_cycling
    load: {current: Iref}
    power_cycles: {cycles: 160, off_s: 5, on_s: 25}
    monitoring: {interval_s: 60}
  - id: tc_life
    kind: reliability_analysis
    of: [tc]
    acceleration: {model: coffin_manson, use_delta_t_k: 20}
  - id: pc_life
    kind: reliability_analysis
    of: [pc]
    confidence: 0.9
    acceleration: {model: coffin_manson, exponent: 2.0, use_delta_t_k: 10, test_delta_t_k: 30}
    use_cycles_per_day: 2
    target_mcbf_cycles: 100
"""
WEAK = 8  # the default bench's unit with a power-cycle life (β 4, η 250 power-ups)
#: seed 1: position 8 dies at its 157th power-up (default bench file's header); the subset of positions keeps that
#: (the simulator's draws are seeded per position). 160 cycles see it fail; the run's time is mostly the dead
#: meter's silent port (one read timeout), not the cycles
E2E_SEED = 1
CYCLES = 160


def _positions_1_to_8(tmp: Path) -> Path:
    """The default simulated bench with its positions 1-8 only (same numbers: the same seeded draws)."""
    data = yaml.safe_load((ROOT / "instruments/simulators/data/default_bench.yaml").read_text(encoding="utf-8"))
    data["positions"] = [p for p in data["positions"] if p["position"] <= WEAK]
    path = tmp / "sim_1_8.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_thermal_and_power_cycling_analysed_in_cycles(tmp_path: Path) -> None:
    plan = tmp_path / "cycles.yaml"
    plan.write_text(E2E, encoding="utf-8")
    run = tmp_path / "run"
    with simulated_bench(_positions_1_to_8(tmp_path), seed=E2E_SEED, write_to=tmp_path / "bench.yaml"):
        p = subprocess.run([sys.executable, "-m", "pytest", str(plan), "--bench", str(tmp_path / "bench.yaml"),
                            "--run-dir", str(run), "-p", "no:cacheprovider", "-q", "-rA",
                            "--alluredir", str(run / "allure-results")],
                           capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr  # position 8 fails the power cycling

    rows = read_results(run)
    tc, pc = rows[rows["test_id"] == "tc"], rows[rows["test_id"] == "pc"]
    assert (tc["verdict"] == "pass").all() and len(tc) == WEAK
    assert list(tc["thermal_cycle_h"]) == pytest.approx([(2 * 95 / 5 + 2 * 10) / 60] * WEAK, rel=1e-6)
    failed = pc[pc["verdict"] == "fail"]
    assert list(failed["position"]) == [WEAK]
    k = int(failed["failure_cycle"].iloc[0])
    assert 1 <= k <= CYCLES
    survivors = pc[pc["verdict"] == "pass"]
    assert (survivors["power_cycles_applied"] == CYCLES).all()

    # power cycles: T = the power cycle it did not come back from + the cycles run by each survivor; r = 1
    total = k + CYCLES * len(survivors)
    lower = 2 * total / chi2.ppf(0.9, 4)
    af = (30 / 10) ** 2.0
    got = json.loads((run / "reliability_pc_life.json").read_text(encoding="utf-8"))
    assert got["life_unit"] == "power cycles"
    assert (got["units"], got["failures"], got["censored"]) == (WEAK, 1, WEAK - 1)
    assert got["total_unit_cycles"] == pytest.approx(total, rel=1e-12)
    assert got["mcbf"]["lower_cycles"] == pytest.approx(lower, rel=1e-9)
    assert got["acceleration_factor"] == pytest.approx(af, rel=1e-12)
    assert got["mcbf_lower_use_cycles"] == pytest.approx(lower * af, rel=1e-9)
    assert got["mtbf_lower_use_hours"] == pytest.approx(lower * af / 2 * 24, rel=1e-9)
    assert got["passed"] is True and lower * af >= 100  # target_mcbf_cycles: 100 use cycles

    # thermal cycles: every unit censored at the 2 cycles run; AF from the plan's 95 K swing
    got_tc = json.loads((run / "reliability_tc_life.json").read_text(encoding="utf-8"))
    assert got_tc["life_unit"] == "thermal cycles"
    assert got_tc["total_unit_cycles"] == 2 * WEAK
    assert got_tc["mcbf"]["lower_cycles"] == pytest.approx(2 * 2 * WEAK / chi2.ppf(0.9, 2), rel=1e-9)
    assert got_tc["acceleration_factor"] == pytest.approx((95 / 20) ** SNPB_N, rel=1e-12)

    results = [json.loads(f.read_text()) for f in (run / "allure-results").glob("*-result.json")]
    text = {r["name"]: r.get("description", "") for r in results}
    assert "mean power cycles between failures ≥" in text["reliability analysis pc_life"]
    assert f"{lower:.4g} power cycles" in text["reliability analysis pc_life"]
    assert "thermal cycles" in text["reliability analysis tc_life"]

    write_sequence_tables(run, rows)
    table = pd.read_csv(run / "reliability.csv").set_index("test_id")
    assert list(table["life_unit"]) == ["thermal cycles", "power cycles"]
    assert table.loc["pc", "mcbf_lower_90pct_cycles"] == pytest.approx(lower, rel=1e-5)
    assert "total_unit_hours" not in table.columns and "mtbf_lower_90pct_h" not in table.columns
