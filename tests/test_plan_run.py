"""The main job end to end: `hil run` of the default plan on the simulated bench, results, Allure results, kills.

The simulated bench is served by this test process; `hil run --bench` attaches to it over TCP exactly as to
hardware, so the simulator's truth can be read afterwards.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hil.benchfile import BenchFile
from hil.results import COLUMNS, read_results
from hil.simbench import simulated_bench
from instruments.simulators.bench import RunningBench

ROOT = Path(__file__).resolve().parents[1]
PLAN = ROOT / "testplans" / "iec62053-21_2020_class1_3ph_accuracy.yaml"
SEED = 7


def hil(*args: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "hil.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningBench, BenchFile, Path]]:
    d = tmp_path_factory.mktemp("bench")
    with simulated_bench(seed=SEED, write_to=d / "bench.yaml") as (rb, bf):
        yield rb, bf, d / "bench.yaml"


@pytest.fixture(scope="module")
def run(served: tuple[RunningBench, BenchFile, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    _, _, bench = served
    out = tmp_path_factory.mktemp("run") / "demo"
    p = hil("run", str(PLAN), "--bench", str(bench), "--out", str(out), "--no-progress")
    text, _ = p.communicate(timeout=600)
    assert p.returncode == 1, text  # some meters fail: pytest exit 1
    return out


@pytest.fixture(scope="module")
def results(run: Path) -> pd.DataFrame:
    df = pd.read_parquet(run / "results.parquet")
    df.attrs["csv"] = str(run / "results.csv")
    return df


def true_error(rb: RunningBench, position: int, row: pd.Series) -> float:
    """The simulator's true error of the meter at the conditions of ``row`` (set directly in the physics)."""

    def at_point() -> float:
        w = rb.bench.world
        src = w.source
        phi = {"1": 0.0, "0.5L": 60.0, "0.8C": -math.degrees(math.acos(0.8))}[row["pf"]]
        for ph, ua in ((1, 0.0), (2, -120.0), (3, 120.0)):
            loaded = row["element"] == "all" or row["element"] == str(ph)
            src.set_voltage(ph, float(row["voltage_v"]))
            src.set_current(ph, float(row["current_a"]) if loaded else 0.0)
            src.set_voltage_angle(ph, ua)
            src.set_current_angle(ph, ua - phi)
        src.set_output(True)
        w.advance(30.0)
        err = float(w.meters[position].error_pct())
        src.set_output(False)
        return err

    return float(rb.call(at_point))


def test_results_table_has_every_column_and_row(results: pd.DataFrame, served: Any) -> None:
    _, bf, _ = served
    assert list(results.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert set(results["verdict"]) <= {"pass", "fail", "broken", "skipped"}
    assert set(results["position"]) == {p.position for p in bf.positions}
    # every point of the plan for every position
    assert len(results) == results.groupby(["test_id", "point"]).ngroups * len(bf.positions)
    assert results["run_id"].nunique() == 1


BASELINE = ROOT / "tests" / "data" / "main_job_baseline.csv"


def test_main_job_rows_equal_the_baseline(results: pd.DataFrame) -> None:
    """The main job gives the rows the code before the plugin refactor gave (tests/data/README.md): same meters,
    points, errors, limits, verdicts and reasons; only columns added since may be new."""
    base = pd.read_csv(BASELINE, dtype=str, keep_default_na=False)
    now = pd.read_csv(results.attrs["csv"], dtype=str, keep_default_na=False)
    missing = [c for c in base.columns if c not in now.columns]
    assert missing == []
    assert len(now) == len(base)
    key = ["test_id", "point", "position"]
    now = now.sort_values(key, kind="stable").reset_index(drop=True)[list(base.columns)]
    base = base.sort_values(key, kind="stable").reset_index(drop=True)
    diff = [(c, i, base.at[i, c], now.at[i, c]) for c in base.columns for i in range(len(base))
            if base.at[i, c] != now.at[i, c]]
    assert diff[:5] == []


def test_verdicts_match_the_truth_of_every_position(results: pd.DataFrame, served: Any) -> None:
    by_pos = {p: set(g["verdict"]) for p, g in results.groupby("position")}
    for good in (1, 2, 3, 4, 5, 6, 7, 8, 12):
        assert by_pos[good] == {"pass"}, good
    # position 9 fails at exactly the points where its error curve breaks the limit: below Itr at PF 1
    p9 = results[results["position"] == 9]
    failing = set(p9.loc[p9["verdict"] == "fail", "point"])
    assert failing == {"Imin PF 1"}
    # the creeping meter fails no-load, and only that
    p10 = results[results["position"] == 10]
    assert set(p10.loc[p10["verdict"] != "pass", "test"]) == {"no_load"}
    # the meter that never pulses is broken, with the reason
    p11 = results[results["position"] == 11]
    assert set(p11["verdict"]) == {"broken"}
    assert all("no pulses" in r for r in p11["reason"])


def test_measured_errors_agree_with_the_physics_within_uncertainty(results: pd.DataFrame, served: Any) -> None:
    rb, _, _ = served
    acc = results[(results["test"] == "accuracy") & results["error_pct"].notna()]
    sample = acc[acc["position"].isin([1, 9])]
    for _, row in sample.iterrows():
        truth = true_error(rb, int(row["position"]), row)
        # the reference's own error (class 0.02 %) is inside the stated expanded uncertainty
        assert abs(row["error_pct"] - truth) <= row["uncertainty_pct"] + 1e-9, (row["point"], truth)
        assert (abs(truth) <= row["limit_pct"]) == (row["verdict"] == "pass")
    # acceptance inspection needs U ≤ limit / 5 (IEC 62058-21 §4.3): checked and recorded on every point
    assert acc["uncertainty_adequate"].all()
    assert (acc["uncertainty_pct"] <= acc["limit_pct"] / 5).all()


def test_limits_carry_their_provenance(results: pd.DataFrame) -> None:
    acc = results[results["test"] == "accuracy"]
    assert set(acc["standard"]) == {"IEC 62053-21:2020"}
    assert acc["limit_table"].str.len().min() > 0
    assert set(acc["limit_status"]) <= {"confirmed", "derived", "unconfirmed"}
    # class 1 (IEC 62053-21:2020): ±1.5 % below Itr at PF 1, ±1.0 % from Itr; 0.5L: ±1.5 % in [Itr, 2 Itr)
    bal = acc[acc["element"] == "all"].set_index(["point"])["limit_pct"].groupby(level=0).first()
    assert bal["Imin PF 1"] == 1.5 and bal["Itr PF 1"] == 1.0 and bal["Iref PF 1"] == 1.0
    assert bal["Itr PF 0.5L"] == 1.5 and bal["2 Itr PF 0.5L"] == 1.0
    single = acc[acc["element"] != "all"]
    assert set(single["limit_pct"]) == {2.0}


def test_run_json(run: Path, served: Any) -> None:
    meta = json.loads((run / "run.json").read_text())
    assert meta["plans"][0]["sha256"] == hashlib.sha256(PLAN.read_bytes()).hexdigest()
    assert meta["instruments"]["reference"]["idn"].startswith("YOKOGAWA,WT5000")
    assert meta["bench"] == served[1].name
    assert meta["software_version"] and meta["finished_at"] >= meta["started_at"]


def allure_results(run: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in (run / "allure-results").glob("*-result.json")]


def test_allure_results_statuses_labels_parameters_attachments(run: Path, results: pd.DataFrame) -> None:
    res = allure_results(run)
    assert len(res) == len(results) + results["position"].nunique()  # one per meter and point, + a summary each
    by_key: dict[tuple[str, str], dict[str, Any]] = {}
    for r in res:
        labels = {lab["name"]: lab["value"] for lab in r["labels"]}
        params = {p["name"]: p["value"] for p in r["parameters"]}
        assert {"bench", "position", "serial"} <= params.keys()
        assert labels["suite"] == params["serial"].strip("'")
        by_key[(labels["suite"], labels["story"])] = r
        if labels["feature"] != "summary":
            names = {a["name"] for a in r.get("attachments", [])}
            assert "SCPI transcript" in names
            for a in r["attachments"]:
                assert (run / "allure-results" / a["source"]).exists()
    serial = {int(p): s for p, s in results.groupby("position")["serial"].first().items()}
    assert by_key[(serial[9], "Imin PF 1")]["status"] == "failed"
    assert by_key[(serial[9], "Iref PF 1")]["status"] == "passed"
    assert by_key[(serial[11], "Iref PF 1")]["status"] == "broken"
    assert "no pulses" in by_key[(serial[11], "Iref PF 1")]["statusDetails"]["message"]
    # distinct parameters: nothing folds into retries (historyId unique per meter and point)
    assert len({r["historyId"] for r in res}) == len(res)
    summary = by_key[(serial[1], "meter verdict")]
    assert summary["status"] == "passed"
    assert any(a["type"] == "image/png" for a in summary["attachments"])


def _wait_rows(csv: Path, n: int, proc: subprocess.Popen[str], timeout: float = 120) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()[0]
        try:
            rows = sum(1 for _ in csv.open()) - 1
        except OSError:
            rows = 0
        if rows >= n:
            return rows
        time.sleep(0.02)
    raise AssertionError(f"fewer than {n} rows after {timeout} s")


@pytest.mark.parametrize("how", ["SIGTERM to hil run", "SIGKILL to pytest"])
def test_kill_mid_plan_keeps_finished_points_and_source_off(served: Any, tmp_path: Path, how: str) -> None:
    rb, _, bench = served
    out = tmp_path / "killed"
    p = hil("run", str(PLAN), "--bench", str(bench), "--out", str(out), "--no-progress", start_new_session=True)
    try:
        rows_before = _wait_rows(out / "results.csv", 24, p)
        if how == "SIGTERM to hil run":
            p.send_signal(signal.SIGTERM)
        else:  # the child pytest dies without any chance to clean up: the guardian switches off
            children = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
            assert children, "hil run has no pytest child"
            os.kill(int(children[0]), signal.SIGKILL)
        text, _ = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert rb.call(lambda: rb.bench.world.source.output) is False
    df = read_results(out)  # Parquet, or the CSV if a SIGKILL fell between the two writes of a point
    assert len(df) >= rows_before
    assert len(df) % 12 == 0  # whole points only
    if how == "SIGTERM to hil run":  # the signal waits until a point's rows are written: both files agree
        assert len(pd.read_parquet(out / "results.parquet")) == len(df)
        assert p.returncode == 143, text  # 128 + SIGTERM, with the cause and how far it got
        assert f"interrupted by SIGTERM after {len(df) // 12} of 30 points" in text, text
    else:
        assert p.returncode == 4, text  # pytest died: not a verdict of the meters


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("standard: IEC 62053-21", "standard: IEC 99999-1"), "IEC 99999-1"),
        (('class: "1"', 'class: "7"'), "class"),
        (("  - id: starting\n    kind: starting", "  - id: starting\n    kind: starting\n    colour: red"),
         "colour"),
        (('currents: [Itr, Iref, Imax]', 'currents: [Itr, Iref, "2 Imax"]'), "rating"),
    ],
)
def test_bad_plans_are_refused_before_anything_is_energised(
    served: Any, tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    rb, _, bench = served
    text = PLAN.read_text()
    assert change[0] in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(change[0], change[1]))
    p = hil("run", str(bad), "--bench", str(bench), "--out", str(tmp_path / "out"), "--no-progress")
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 2, out
    assert message in out and "error" in out
    assert rb.call(lambda: rb.bench.world.source.output) is False
    assert not (tmp_path / "out" / "results.csv").exists()


def test_plan_show_lists_points_with_limits_and_durations(served: Any) -> None:
    _, _, bench = served
    p = hil("plan", "show", str(PLAN), "--bench", str(bench), "--json")
    out, _ = p.communicate(timeout=120)
    assert p.returncode == 0, out
    data = json.loads(out)
    pts = data["points"]
    imin = next(r for r in pts if r["point"] == "Imin PF 1")
    assert imin["limit_pct"] == 1.5 and imin["current_a"] == 0.25
    # one pulse at Imin, three phases: τ = 3.6e6 / (1000 · 3 · 230 · 0.25) s (standards.md §5)
    tau = 3.6e6 / (1000 * 3 * 230 * 0.25)
    assert imin["expected_s"] == pytest.approx(10 + (imin["pulses"] + 1) * tau, abs=0.05)
    no_load = next(r for r in pts if r["kind"] == "no_load")
    assert no_load["voltage_v"] == pytest.approx(1.1 * 230)
