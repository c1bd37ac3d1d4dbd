"""The shipped DLMS plan on the default simulated bench, served by this process, run by pytest as a subprocess (as
on hardware), every verdict checked against the simulator's truth:

- each interval's energy: the reference's P × 900 s by hand (3 × 230 V × 5 A, PF 1), the meters' deltas within one
  register step of P × 900 s × (1 + their true error);
- position 4 (profile_gap_on_power_failure) fails with exactly the capture instants of the interruption missing;
  every other meter passes with the power-down bit on the four intervals the 06:46–07:31 interruption touched;
- remote disconnect at Iref: P = 3 × 230 V × 5 A = 3450 W at 1000 imp/kWh gives 57.5 pulses in 60 s while the
  current flows, none while the relay is open; position 5 (relay_stuck_closed) fails in both control modes although
  it reports itself disconnected; position 11 (dead pulse output) cannot be judged by pulses: broken.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hil.results import read_results
from hil.simbench import simulated_bench
from tests.dlms.conftest import truth_at

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "testplans" / "dlms_functions.yaml"
FAULTY = 4




@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pd.DataFrame, dict[str, Any], str]]:
    tmp = tmp_path_factory.mktemp("dlms_plan")
    with simulated_bench(seed=2, write_to=tmp / "bench.yaml") as (rb, _):
        cmd = [sys.executable, "-m", "pytest", str(PLAN), "--bench", str(tmp / "bench.yaml"),
               "--run-dir", str(tmp / "run"), "--alluredir", str(tmp / "run" / "allure-results"),
               "-p", "no:cacheprovider", "-q"]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=600)
        assert p.returncode == 1, p.stdout + p.stderr  # position 4 fails
        # the meters' true errors at the test's load (the run leaves the source off)
        truth = rb.call(lambda: truth_at(rb.bench.world, 5.0))
    log = "\n".join(f.read_text(encoding="utf-8", errors="replace") for f in (tmp / "run").rglob("*-attachment*"))
    yield read_results(tmp / "run"), truth["meters"], log


def test_good_meters_pass_and_the_faulty_one_fails_with_its_gap(run: tuple[pd.DataFrame, dict[str, Any], str]) -> None:
    df, _, _ = run
    rows = df[df["test_id"] == "load_profile_interruption"].set_index("position")
    assert sorted(rows.index) == list(range(1, 13))
    for pos in range(1, 13):
        r = rows.loc[pos]
        if pos == FAULTY:
            assert r["verdict"] == "fail" and r["quantity"] == "missing entries", r["reason"]
            assert r["value"] == 3 and "gap in the load profile" in r["reason"]
            assert list(r["missing_at"]) == ["2026-01-05T07:00:00+00:00", "2026-01-05T07:15:00+00:00",
                                             "2026-01-05T07:30:00+00:00"]
            continue
        assert r["verdict"] == "pass", (pos, r["reason"])
        assert r["missing"] == 0 and r["duplicates"] == 0 and r["off_grid"] == 0 and r["flags_wrong"] == 0
        assert list(r["flags_found"]) == ["2026-01-05T07:00:00+00:00", "2026-01-05T07:15:00+00:00",
                                          "2026-01-05T07:30:00+00:00", "2026-01-05T07:45:00+00:00"]


def test_interval_energy_against_the_reference_by_hand(run: tuple[pd.DataFrame, dict[str, Any], str]) -> None:
    df, meters, _ = run
    full_wh = 3 * 230.0 * 5.0 * 900.0 / 3600.0  # 862.5 Wh in a full interval at Iref PF 1
    for _, r in df[df["test_id"] == "load_profile_interruption"].iterrows():
        true_err = meters[str(r["position"])]["error_pct"]
        for iv in r["intervals"]:
            ref = iv["reference_wh"]
            if ref > 0.99 * full_wh:  # a full interval (not touched by the interruption)
                assert ref == pytest.approx(full_wh, rel=2e-4)  # the simulated reference's class 0.02
                assert abs(iv["meter_wh"] - ref * (1 + true_err / 100)) <= 1.0 + 1e-6
            elif ref == 0.0:
                assert iv["meter_wh"] == 0.0  # no supply, no energy
        if r["verdict"] == "pass":
            assert abs(r["value"]) <= r["upper_limit"] and r["unit"] == "%"


PULSES_PER_MIN = 3 * 230.0 * 5.0 / 1000.0 * 1000.0 / 60.0  # 57.5 per minute at Iref PF 1, 1000 imp/kWh


@pytest.mark.parametrize("test_id", ["disconnect_mode1", "disconnect_mode2"])
def test_remote_disconnect_judged_by_the_pulses(run: tuple[pd.DataFrame, dict[str, Any], str], test_id: str) -> None:
    df, meters, _ = run
    rows = df[df["test_id"] == test_id].set_index("position")
    assert sorted(rows.index) == list(range(1, 13))
    for pos in range(1, 13):
        r = rows.loc[pos]
        if pos == 11:  # no pulse output: the bench cannot see the relay
            assert r["verdict"] == "broken" and "no pulses" in r["reason"]
            continue
        assert abs(r["pulses_before"] - PULSES_PER_MIN) <= 1.5, (pos, r["pulses_before"])
        if pos == 5:
            assert r["verdict"] == "fail" and "the relay did not open" in r["reason"]
            assert r["output_state_open"] is False or r["output_state_open"] == 0  # it says it opened
            assert abs(r["pulses_open"] - PULSES_PER_MIN) <= 1.5
            continue
        assert r["verdict"] == "pass", (pos, r["reason"])
        assert r["pulses_open"] <= (1 if pos == 10 else 0)  # position 10 creeps (5 W with voltage on): one at most
        if test_id == "disconnect_mode1":  # remote_reconnect arms it only: still no current
            assert r["pulses_reconnected"] <= (1 if pos == 10 else 0) and r["control_state_reconnected"] == 2
        else:  # connected at once
            assert abs(r["pulses_reconnected"] - PULSES_PER_MIN) <= 1.5
    assert all(m["relay_closed"] for m in meters.values())  # mode 2 left every relay closed


def test_the_limiter_disconnects_the_good_meters_and_not_the_welded_one(
        run: tuple[pd.DataFrame, dict[str, Any], str]) -> None:
    df, meters, _ = run
    rows = df[df["test_id"] == "limiter"].set_index("position")
    assert rows.loc[5, "verdict"] == "fail" and "the relay did not open" in rows.loc[5, "reason"]
    assert rows.loc[11, "verdict"] == "broken"
    assert all(rows.loc[p, "verdict"] == "pass" for p in range(1, 13) if p not in (5, 11)), rows["reason"].to_dict()
    assert all(m["relay_closed"] for m in meters.values())  # every meter left connected, the limiters disarmed


def test_the_decoded_dlms_transcript_is_attached(run: tuple[pd.DataFrame, dict[str, Any], str]) -> None:
    _, _, log = run
    assert "AARQ client 1 HLS_GMAC" in log and "GET IC 7 1.0.99.1.0.255 attr 2 selector 1" in log
