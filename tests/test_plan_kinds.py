"""Meter-constant and influence-quantity tests on the simulated bench, checked by hand from the rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hil.results import read_results

ROOT = Path(__file__).resolve().parents[1]


def run_plan(name: str, tmp: Path) -> pd.DataFrame:
    subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(ROOT / "testplans" / name),
                    "--run-dir", str(tmp / "run")], cwd=tmp, capture_output=True, text=True, timeout=600)
    return read_results(tmp / "run")


def test_meter_constant(tmp_path: Path) -> None:
    df = run_plan("iec62053-21_2020_meter_constant.yaml", tmp_path)
    assert len(df) == 12
    for _, r in df.iterrows():
        adv = r["register_advance_kwh"]
        # 1 kWh at Imax, 3 × 230 V × 60 A: one register step (1 Wh) is 0.1 % of it, ±1 pulse of ~1000 another 0.1 %
        assert r["limit_pct"] == pytest.approx(0.1 + 100 / 1000)
        if r["position"] == 11:  # its pulse output is dead: the register moved, the test output did not
            assert r["pulses"] == 0 and adv > 0.9 and r["verdict"] in ("fail", "broken")
            continue
        assert r["error_pct"] == pytest.approx((r["pulses"] / (1000 * adv) - 1) * 100, abs=1e-6)
        assert adv >= 1.0  # at least the planned energy went through
        assert r["verdict"] == "pass"


def test_voltage_and_frequency_influence(tmp_path: Path) -> None:
    df = run_plan("iec62053-21_2020_influence_voltage_frequency.yaml", tmp_path)
    # IEC 62053-21 class 1 additional-error limits (standards.md §4): voltage ±10 %: 0.7 (PF 1), 1.0 (0.5L);
    # frequency ±2 %: 0.5 (PF 1), 0.7 (0.5L)
    limits = df.groupby(["test_id", "pf"])["limit_pct"].first().to_dict()
    assert limits == {("frequency", "0.5L"): 0.7, ("frequency", "1"): 0.5, ("voltage", "0.5L"): 1.0,
                      ("voltage", "1"): 0.7}
    measured = df[df["error_pct"].notna()]
    assert len(measured) == 8 * 11  # 8 points, every meter but the one that never pulses
    for _, r in measured.iterrows():
        assert r["error_pct"] == pytest.approx(r["error_deviated_pct"] - r["error_reference_pct"], abs=1e-9)
        assert (abs(r["error_pct"]) <= r["limit_pct"]) == (r["verdict"] == "pass")
    volts = df[df["test_id"] == "voltage"]
    assert sorted(set(volts["voltage_v"])) == [207.0, 253.0]
    freq = df[df["test_id"] == "frequency"]
    assert sorted(set(freq["frequency_hz"])) == [49.0, 51.0]


def test_harmonics_influence(tmp_path: Path) -> None:
    df = run_plan("iec62053-21_2020_influence_harmonics.yaml", tmp_path)
    # IEC 62053-21 class 1: harmonics in current and voltage, 0.5 Imax PF 1, ±0.8 % (standards.md §4). With the 5th
    # harmonic at 40 % of I and 10 % of U in phase, P5 = 0.4 · 0.1 · P1 = 0.04 P1; the reference measures P1 + P5,
    # a meter registering harmonic power h % off and P1 e % off: variation = (1 + e) · 0.04 · h / 1.04 (in %)
    assert set(df["limit_pct"]) == {0.8} and set(df["current_a"]) == {30.0}
    for _, r in df.iterrows():
        if r["position"] == 11:  # never pulses
            assert r["verdict"] == "broken"
            continue
        h = -30.0 if r["position"] == 10 else -2.0  # default_bench.yaml: the type's −2 %, position 10's −30 %
        want = (1 + r["error_reference_pct"] / 100) * 0.04 * h / 1.04
        # two errors, each to the point's resolution: a tenth of the limit, 0.08 % (MeasureSettings)
        assert r["error_pct"] == pytest.approx(want, abs=2 * 0.08), r["position"]
        assert r["verdict"] == ("fail" if r["position"] == 10 else "pass")
