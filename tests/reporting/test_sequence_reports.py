"""Reports of stress sequences: Allure steps per stage (the failed stage of the weak meter, the interruption of a
resumed run), chamber trace / timeline / Weibull plots, reliability.csv and the summary per meter.

One burn-in on the default simulated bench (seed 3: the weak unit at position 12 dies at ≈ 25.2 h), killed with
SIGTERM after 2 h and resumed, then ``report_run``; the other tests use small hand-made tables.
"""

from __future__ import annotations

import json
import math
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hil.reporting import report_run
from hil.reporting.allure_steps import FAILED, PASSED, SKIPPED, StageStep, add_allure_steps, stage_steps
from hil.reporting.plots import png_size
from hil.reporting.sequence_data import Interruption
from hil.reporting.sequence_plots import chamber_trace_png, meter_spans, timeline_png, weibull_png
from hil.reporting.sequence_tables import reliability_table, sequence_summary
from hil.results import read_results
from hil.simbench import simulated_bench
from tests.sequences.plans import SEED, WEAK, progress_h, pytest_plan

# 30 h at +70 °C with 5-min monitoring: the weak unit fails inside the soak, the run stays short
PLAN = """\
plan: burn-in report test
standard: IEC 62053-21
edition: "2020"
class: "1"
tests:
  - id: bi
    kind: burn_in
    temperature_c: 70
    duration_h: 30
    gradient_k_per_min: 1.0
    end_temperature_c: 23
    monitoring: {interval_s: 300, port_every: 12, chunk_intervals: 12}
"""
STAGES = ["ramp to 70 °C", "soak 30 h at 70 °C", "ramp to 23 °C"]




@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A burn-in stopped by SIGTERM after ≥ 2 h, resumed to its end, then reported (no HTML)."""
    d = tmp_path_factory.mktemp("sequence-report")
    plan = d / "bi.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    run = d / "run"
    with simulated_bench(seed=SEED, write_to=d / "b.yaml") as (_, _):
        p = pytest_plan(plan, d / "b.yaml", run, "--alluredir", str(run / "allure-results"))
        deadline = time.monotonic() + 120
        while progress_h(run) < 2.0 and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)
        assert not (run / "results.csv").exists()  # stopped mid-sequence
        q = pytest_plan(plan, d / "b.yaml", run, "--alluredir", str(run / "allure-results"), "--resume")
        out, _ = q.communicate(timeout=300)
        assert q.returncode == 1, out  # the weak unit fails
    report_run(run, html=False)
    yield run


def _allure_results(run: Path) -> dict[str, dict[str, Any]]:
    """The newest Allure result per title (the stopped session may have left one for the interrupted item)."""
    out: dict[str, dict[str, Any]] = {}
    for f in (run / "allure-results").glob("*-result.json"):
        r = json.loads(f.read_text(encoding="utf-8"))
        if r["name"] not in out or r["stop"] > out[r["name"]]["stop"]:
            out[r["name"]] = r
    return out


def _sequence_result(run: Path, position: int) -> dict[str, Any]:
    return next(r for name, r in _allure_results(run).items()
                if name.startswith("30 h at 70 °C") and f"position {position} " in name)


def _interruption(run: Path) -> dict[str, float]:
    ckpt = json.loads((run / "checkpoint.json").read_text(encoding="utf-8"))
    gaps = next(iter(ckpt["sequences"].values()))["interruptions"]
    assert len(gaps) == 1
    return {k: float(v) for k, v in gaps[0].items()}


def _params(step: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in step["parameters"]}


def test_steps_per_stage_with_the_interruption(run_dir: Path) -> None:
    gap = _interruption(run_dir)
    title = f"interrupted: unmonitored from {gap['from_s'] / 3600:.1f} h to {gap['to_s'] / 3600:.1f} h, resumed"
    for pos in (1, WEAK):
        steps = _sequence_result(run_dir, pos)["steps"]
        names = [s["name"] for s in steps]
        assert title in names, names
        stages = [s for s in steps if s["name"] != title]
        assert [s["name"].split(" (")[0] for s in stages] == STAGES
        # the interruption lies inside the soak: it follows the soak's step (steps in order of their start)
        assert names.index(title) == 2
        gap_step = steps[names.index(title)]
        assert gap_step["status"] == SKIPPED
        assert gap_step["stop"] - gap_step["start"] == pytest.approx((gap["to_s"] - gap["from_s"]) * 1000, abs=1)
        for s in stages:  # every stage's title gives its span, as do its parameters and its Allure times
            start_h, end_h = float(_params(s)["start"].split()[0]), float(_params(s)["end"].split()[0])
            span = re.fullmatch(r".* \(([0-9.]+)–([0-9.]+) h\)", s["name"])
            assert span is not None, s["name"]
            assert float(span[1]) == pytest.approx(start_h, abs=0.006)
            assert float(span[2]) == pytest.approx(end_h, abs=0.006)
            # parameters are rounded to 0.001 h (3.6 s)
            assert s["stop"] - s["start"] == pytest.approx((end_h - start_h) * 3.6e6, abs=3600)
    healthy = [s["status"] for s in _sequence_result(run_dir, 1)["steps"]]
    assert healthy == [PASSED, PASSED, SKIPPED, PASSED]


def test_the_weak_meter_fails_in_the_soak(run_dir: Path) -> None:
    res = read_results(run_dir).set_index("position")
    ft = float(res.loc[WEAK, "failure_time_h"])
    result = _sequence_result(run_dir, WEAK)
    assert result["status"] == "failed"
    ramp, soak, _, end = result["steps"]
    assert soak["status"] == FAILED and soak["name"].startswith("soak 30 h at 70 °C")
    assert soak["statusDetails"]["message"] == res.loc[WEAK, "reason"]
    p = _params(soak)
    assert float(p["start"].split()[0]) <= ft <= float(p["end"].split()[0])
    assert ramp["status"] == PASSED
    assert end["status"] == SKIPPED and f"{ft:.2f} h" in end["statusDetails"]["message"]
    # the soak ran at 70 °C: the chamber range during it is near the setpoint
    low, high = (float(x) for x in p["chamber"].replace("°C", "").split("…"))
    assert 66.0 <= low <= high <= 72.0 and p["setpoint"] == "70 °C"
    names = [a["name"] for a in result["attachments"]]
    assert f"timeline {res.loc[WEAK, 'serial']}" in names and "chamber trace bi" in names
    att = next(a for a in result["attachments"] if a["name"].startswith("timeline"))
    w, h = png_size((run_dir / "allure-results" / att["source"]).read_bytes())
    assert w == 900 and 100 < h < 300  # one row: this meter's timeline only


def test_plots_tables_and_run_json(run_dir: Path) -> None:
    for name in ("chamber_trace_bi.png", "timeline_bi.png", "weibull_bi.png"):
        w, h = png_size((run_dir / "plots" / name).read_bytes())
        assert w >= 800 and h >= 250, name
    globals_ = json.loads((run_dir / "allure-results" / "meterhil-globals.json").read_text(encoding="utf-8"))
    names = [a["name"] for a in globals_["attachments"]]
    assert {"bi: chamber trace", "bi: timeline per meter", "bi: Weibull plot",
            "Stress sequences: summary per meter"} <= set(names)
    gap = _interruption(run_dir)
    meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert meta["interruptions"] == [{"sequence": "bi::30 h at 70 °C", "from_h": round(gap["from_s"] / 3600, 4),
                                      "to_h": round(gap["to_s"] / 3600, 4)}]
    assert "interrupted: unmonitored" in (run_dir / "summary.txt").read_text(encoding="utf-8")
    assert "interrupted: unmonitored" in (run_dir / "sequence_summary.html").read_text(encoding="utf-8")
    summary = pd.read_csv(run_dir / "sequence_summary.csv")
    assert list(summary.loc[summary["outcome"] == "failed", "position"]) == [WEAK]
    assert (summary["outcome"] == "survived").sum() == 11
    # reliability.csv against a hand computation from the results: T = Σ hours (failure time for the failed
    # unit, the sequence end for the survivors), r = 1, θ_L = T / m with Σ_{i≤r} e^(−m) m^i / i! = 1 − CL
    res = read_results(run_dir)
    fail = res["verdict"] == "fail"
    total = float(res.loc[fail, "failure_time_h"].sum() + res.loc[~fail, "sequence_h"].sum())
    rel = pd.read_csv(run_dir / "reliability.csv").iloc[0]
    assert (rel["units"], rel["failures"], rel["censored"]) == (12, 1, 11)
    assert rel["total_unit_hours"] == pytest.approx(total, rel=1e-5)
    assert rel["mtbf_lower_90pct_h"] == pytest.approx(total / _poisson_upper(1, 0.9), rel=1e-4)
    assert rel["mtbf_lower_60pct_h"] == pytest.approx(total / _poisson_upper(1, 0.6), rel=1e-4)
    assert "no Weibull fit" in rel["note"] and math.isnan(rel.get("beta", math.nan))


# -- hand-made tables --------------------------------------------------------------------------------------------
def _poisson_upper(r: int, cl: float) -> float:
    """m with P(N ≤ r; m) = 1 − CL, by bisection: 2T/χ²(CL; 2r + 2) = T/m (χ² with even dof vs Poisson)."""
    lo, hi = 0.0, 100.0
    for _ in range(200):
        m = (lo + hi) / 2
        p = sum(math.exp(-m) * m**i / math.factorial(i) for i in range(r + 1))
        lo, hi = (m, hi) if p > 1 - cl else (lo, m)
    return (lo + hi) / 2


def _row(serial: str, verdict: str, ft: float | None, seq_h: float = 100.0) -> dict[str, Any]:
    return {"test_id": "bi", "test": "burn_in", "position": int(serial[1:]), "serial": serial, "verdict": verdict,
            "limit_table": "survival", "failure_time_h": ft, "failed_after_h": None if ft is None else ft - 0.5,
            "failed_before_h": None if ft is None else ft + 0.5, "failure_mode": "dead" if ft else None,
            "sequence_h": seq_h, "reason": ""}


def test_reliability_table_by_hand() -> None:
    results = pd.DataFrame([_row("M1", "fail", 20.0), _row("M2", "fail", 45.0), _row("M3", "fail", 70.0),
                            _row("M4", "pass", None), _row("M5", "broken", None)])
    rel = reliability_table(results).iloc[0]
    total = 20.0 + 45.0 + 70.0 + 100.0  # M5 (broken) is left out
    assert (rel["units"], rel["failures"], rel["censored"], rel["excluded"]) == (4, 3, 1, 1)
    assert rel["total_unit_hours"] == total and rel["mtbf_point_h"] == total / 3
    assert rel["mtbf_lower_90pct_h"] == pytest.approx(total / _poisson_upper(3, 0.9), rel=1e-6)
    assert rel["mtbf_lower_60pct_h"] == pytest.approx(total / _poisson_upper(3, 0.6), rel=1e-6)
    # β̂, η̂ solve the censored Weibull likelihood equations (IEC 61649 §7.2):
    # 1/β + Σ_f ln t / r − Σ t^β ln t / Σ t^β = 0 and η = (Σ t^β / r)^(1/β)
    t = np.array([20.0, 45.0, 70.0, 100.0])
    tf = t[:3]
    b, eta = float(rel["beta"]), float(rel["eta_h"])
    assert 1 / b + np.log(tf).mean() - (t**b * np.log(t)).sum() / (t**b).sum() == pytest.approx(0.0, abs=1e-6)
    assert eta == pytest.approx(((t**b).sum() / 3) ** (1 / b), rel=1e-6)
    assert rel["beta_lower"] < b < rel["beta_upper"] and rel["eta_lower_h"] < eta < rel["eta_upper_h"]
    summary = sequence_summary(results)
    assert list(summary["outcome"]) == ["failed", "failed", "failed", "survived", "broken"]


@pytest.mark.parametrize("failures", [0, 1, 3])
def test_weibull_plot_with_few_failures_does_not_fit_and_does_not_crash(failures: int) -> None:
    rows = [_row(f"M{i}", "fail", 10.0 * i) for i in range(1, failures + 1)]
    rows += [_row(f"M{i}", "pass", None) for i in range(failures + 1, 6)]
    w, h = png_size(weibull_png(pd.DataFrame(rows), "bi"))
    assert (w, h) == (800, 600)


def _monitoring(names: list[str], positions: tuple[int, ...] = (1, 2), per_stage: int = 2,
                humidity: bool = False) -> pd.DataFrame:
    """Monitoring rows: ``per_stage`` 10-minute intervals per stage, setpoint 70 / −25 by stage name."""
    rows, t = [], 0.0
    for i, name in enumerate(names):
        for _ in range(per_stage):
            for p in positions:
                rows.append({"test_id": "tc", "step": i, "step_name": name, "t_start_s": t, "t_end_s": t + 600,
                             "position": p, "pulses": 50, "chamber_c": 60.0 + i, "setpoint_c": 70.0,
                             "chamber_alarm": i == 1, "alive": True, "failure_mode": "",
                             **({"humidity_pct": 90.0, "setpoint_rh": 93.0, "humidity_alarm": i == 3}
                                if humidity else {})})
            t += 600
    return pd.DataFrame(rows)


CYCLE = ["ramp to 70 °C", "soak 0.5 h at 70 °C", "ramp to -25 °C", "soak 0.5 h at -25 °C"]


def test_cycles_are_nested_and_the_failed_cycle_fails() -> None:
    names = CYCLE * 3 + ["ramp to 23 °C"]
    mon = _monitoring(names)
    # stage 6 (cycle 2, ramp to −25 °C) spans 7200–8400 s; the meter failed at 2.1 h = 7560 s
    row = {"verdict": "fail", "failure_time_h": 2.1, "reason": "pulse output stopped"}
    steps = stage_steps(mon, 1, row, planned=names, cycles=3)
    assert [s.name for s in steps] == ["cycle 1 of 3", "cycle 2 of 3", "cycle 3 of 3", "ramp to 23 °C"]
    assert [s.status for s in steps] == [PASSED, FAILED, SKIPPED, SKIPPED]
    assert steps[1].message == "pulse output stopped"
    assert [c.status for c in steps[1].steps] == [PASSED, PASSED, FAILED, SKIPPED]
    assert steps[1].steps[2].name == "ramp to -25 °C" and steps[1].title == "cycle 2 of 3 (1.33–2.67 h)"
    assert dict(steps[0].steps[1].parameters)["chamber alarms"] == "2 interval(s)"  # stage 1's two intervals


def test_damp_heat_holds_to_an_absolute_time_group_as_cycles() -> None:
    names = ["ramp to 25 °C at 98 %RH", "soak 1 h at 25 °C, 98 %RH"]
    for k in range(2):
        names += ["ramp to 55 °C at 98 %RH", f"hold 55 °C, 93 %RH to {12 + 24 * k:g} h", "ramp to 25 °C at 98 %RH",
                  f"hold 25 °C, 98 %RH to {24 + 24 * k:g} h"]
    steps = stage_steps(_monitoring(names, humidity=True), 2, {"verdict": "pass"}, cycles=2)
    assert [s.name for s in steps] == [*names[:2], "cycle 1 of 2", "cycle 2 of 2"]
    assert steps[3].steps[1].name == "hold 55 °C, 93 %RH to 36 h"
    assert dict(steps[0].parameters)["humidity"] == "90.0 … 90.0 %RH"
    assert dict(steps[2].steps[1].parameters)["humidity alarms"] == "2 interval(s)"  # stage 3: two intervals
    assert "humidity alarms" not in dict(stage_steps(_monitoring(names), 2, None)[0].parameters)


def test_broken_sequence_and_stages_not_run() -> None:
    mon = _monitoring(STAGES[:2])
    steps = stage_steps(mon, 1, {"verdict": "broken", "reason": "bench fault: chamber"}, planned=STAGES)
    assert [(s.name, s.status) for s in steps] == [
        ("ramp to 70 °C", PASSED), ("soak 30 h at 70 °C", "broken"), ("ramp to 23 °C", SKIPPED)]
    assert steps[1].message == "bench fault: chamber" and steps[2].message == "not run"


def test_no_allure_no_steps() -> None:
    # outside an Allure-recording session there is nothing to append to
    assert add_allure_steps([StageStep("ramp to 70 °C", 0.0, 60.0)], 0) is False


def test_timeline_spans_follow_the_failure_window() -> None:
    mon = _monitoring(STAGES, positions=(1,), per_stage=4)  # 12 intervals of 600 s
    mon.loc[mon["t_start_s"] >= 3600, ["alive", "failure_mode"]] = [False, "drift"]
    result = {"failed_after_h": 0.5, "failed_before_h": 2 / 3, "failure_mode": "drift", "failure_time_h": 7 / 12}
    spans = meter_spans(mon, result)
    assert spans == [(0.0, 1800.0, "alive"), (1800.0, 2400.0, "window"), (2400.0, 7200.0, "drifted")]


@pytest.mark.parametrize("humidity", [False, True])
def test_chamber_trace_and_timeline_with_and_without_humidity(humidity: bool) -> None:
    mon = _monitoring(STAGES, humidity=humidity)
    gaps = [Interruption(1200.0, 1800.0)]
    mon = mon[(mon["t_end_s"] <= 1200) | (mon["t_start_s"] >= 1800)]  # nothing monitored in the gap
    for png in (chamber_trace_png(mon, gaps), timeline_png(mon, pd.DataFrame(), gaps)):
        w, h = png_size(png)
        assert w == 900 and h > 100
    # the trace line must not bridge the gap: one NaN point just before monitoring resumed at 1800 s
    from hil.reporting import sequence_data as sd
    from hil.reporting.sequence_plots import _with_breaks

    line = _with_breaks(sd.chamber_intervals(mon), ["chamber_c"])
    nan_at = line.loc[line["chamber_c"].isna(), "h"].tolist()
    assert nan_at == [pytest.approx(1800 / 3600)]
    assert line["h"].is_monotonic_increasing


def test_check_pauses_are_read_shown_as_steps_and_shaded_apart_from_interruptions(tmp_path: Path) -> None:
    from hil.reporting import sequence_data as sd

    # a checkpoint as the runner writes it: one PC-down interruption and one check pause in the same sequence
    state = {"interruptions": [{"from_s": 3000.0, "to_s": 3600.0}],
             "check_pauses": [{"check": "during_1h", "from_s": 1200.0, "to_s": 1800.0}]}
    (tmp_path / "checkpoint.json").write_text(json.dumps({"version": 1, "sequences": {"tc::x": state}}))
    assert sd.interruptions(tmp_path, "tc") == [Interruption(3000.0, 3600.0)]
    assert sd.check_pauses(tmp_path, "tc") == [Interruption(1200.0, 1800.0, "during_1h")]
    gaps = sd.unmonitored(tmp_path, "tc")
    assert [g.from_s for g in gaps] == [1200.0, 3000.0]

    names = ["ramp to 70 °C", "soak 1 h at 70 °C", "ramp to 23 °C"]
    mon = _monitoring(names, positions=(1,), per_stage=3)
    steps = stage_steps(mon, 1, {"verdict": "pass"}, gaps, planned=names)
    by_name = {s.name: s for s in steps}
    pause = by_name["accuracy check during_1h: monitoring paused from 0.3 h to 0.5 h"]
    gap = by_name["interrupted: unmonitored from 0.8 h to 1.0 h, resumed"]
    assert (pause.status, gap.status) == (PASSED, SKIPPED)
    assert "accuracy check during_1h" in pause.message and "PC was down" in gap.message
    for png in (chamber_trace_png(mon, gaps), timeline_png(mon, pd.DataFrame(), gaps)):
        assert png_size(png)[0] == 900
