"""The shipped functional plan on the default simulated bench, served by this process, run by pytest as a
subprocess (as on hardware); every verdict and value checked against the simulator's truth by hand:

- drift = the meter's true clock rate (ppm) × 86 400 s/day, within the tick timing (±poll/2 per reading);
- a tariff switch where the meter's own schedule puts it (position 6 switches at 22:05, outside the 120 s
  window after 22:00: no switch seen); the energy across the switch = P × time at Imax;
- the clocks set back to the reference time afterwards; position 11 (dead pulse output) is judged by its port.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from hil.results import read_results
from hil.simbench import simulated_bench

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "testplans" / "functional_clock_tariff.yaml"
POLL_S = 0.05  # the plan's default poll interval


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("functional")
    plan = yaml.safe_load(PLAN.read_text(encoding="utf-8"))
    # one accuracy point first: position 11's dead pulse output is known before the port-only checks run
    plan["tests"].insert(0, {"id": "acc", "kind": "accuracy", "currents": ["Iref"], "power_factors": ["1"]})
    (tmp / "plan.yaml").write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    with simulated_bench(seed=2, write_to=tmp / "bench.yaml") as (rb, _):
        cmd = [sys.executable, "-m", "pytest", str(tmp / "plan.yaml"), "--bench", str(tmp / "bench.yaml"),
               "--run-dir", str(tmp / "run"), "-p", "no:cacheprovider", "-q"]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=600)
        assert p.returncode == 1, p.stdout + p.stderr  # meters 6, 7 (and 9 at no point here) fail
        truth = rb.call(lambda: rb.bench.world.truth())
    yield read_results(tmp / "run"), truth["meters"], truth


def _rows(df: pd.DataFrame, point: str) -> pd.DataFrame:
    rows = df[df["point"] == point].set_index("position")
    assert len(rows) == 12
    return rows


def test_clock_set_and_drift_against_the_true_rate(run: tuple[pd.DataFrame, dict[str, Any], Any]) -> None:
    df, meters, _ = run
    set_rows, drift_rows = _rows(df, "clock set"), _rows(df, "clock drift 24 h")
    for pos in range(1, 13):
        s = set_rows.loc[pos]
        assert s["verdict"] == "pass" and abs(s["value"]) <= POLL_S / 2 + 1e-6, s["reason"]
        d = drift_rows.loc[pos]
        true = meters[str(pos)]["clock_drift_ppm"] * 1e-6 * 86400.0  # s/day
        # two readings, each within ±poll/2 of its tick, one day apart
        assert d["value"] == pytest.approx(true, abs=POLL_S + 1e-6), (pos, d["reason"])
        assert d["unit"] == "s/day" and d["limit"] == 0.5
        assert d["verdict"] == ("pass" if abs(true) <= 0.5 else "fail"), d["reason"]
        assert d["limit_status"] == "unconfirmed" and d["standard"].startswith("IEC 62054-21")
    assert drift_rows.loc[7, "verdict"] == "fail" and drift_rows.loc[7, "value"] > 1.5  # the fast clock


def test_tariff_switches_where_each_meter_puts_them(run: tuple[pd.DataFrame, dict[str, Any], Any]) -> None:
    df, meters, _ = run
    power_kw = 3 * 230.0 * 60.0 / 1000.0  # Imax, PF 1
    for point, hour_index, scheduled_h in (("tariff 2→1 at 06:00", 0, 6.0), ("tariff 1→2 at 22:00", 1, 22.0)):
        rows = _rows(df, point)
        for pos in range(1, 13):
            r = rows.loc[pos]
            late_s = (meters[str(pos)]["tariff1_hours"][hour_index] - scheduled_h) * 3600.0
            across = r["old_advance_kwh"] + r["new_advance_kwh"]
            # the energy between the two timed reads: P × time, within the meters' error and two register steps
            assert across == pytest.approx(power_kw * r["duration_s"] / 3600.0, rel=0.01, abs=0.002)
            assert abs(r["total_advance_kwh"] - r["sum_advance_kwh"]) <= 0.002 + 1e-9
            if abs(late_s) > 120.0:  # the window after the scheduled time is 120 s: no switch seen
                assert r["verdict"] == "fail" and "no switch" in r["reason"], r["reason"]
                assert r["new_advance_kwh"] == 0 and pd.isna(r["value"])
                continue
            assert r["value"] == pytest.approx(late_s, abs=r["value_uncertainty"]), r["reason"]
            assert r["verdict"] == ("pass" if abs(late_s) <= 2.0 else "fail"), r["reason"]
    assert _rows(df, "tariff 1→2 at 22:00").loc[6, "verdict"] == "fail"
    assert _rows(df, "tariff 2→1 at 06:00").loc[6, "verdict"] == "pass"


def test_clocks_set_back_and_dead_pulse_output_judged_by_its_port(
        run: tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]) -> None:
    df, meters, truth = run
    reference = datetime.fromisoformat(truth["datetime"])
    for pos in range(1, 13):
        meter = datetime.fromisoformat(meters[str(pos)]["clock"])
        # set back after the tariff checks; it has drifted for minutes since, at most a few ppm (7: 25 ppm)
        assert abs((meter - reference).total_seconds()) < 0.1, pos
    eleven = df[df["position"] == 11].set_index("point")
    assert eleven.loc["Iref PF 1", "verdict"] == "broken"  # no pulses: not measurable
    functional = eleven[eleven["test"].isin(["clock", "tariff"])]
    assert len(functional) == 4 and set(functional["verdict"]) == {"pass"}
