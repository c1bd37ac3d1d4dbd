"""Plans written as Python test modules (fixtures bench, meters, load_point) and measurement repeats."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pandas as pd

from hil.results import read_results

ROOT = Path(__file__).resolve().parents[1]


def pytest_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_python_plan_on_the_simulated_bench(tmp_path: Path) -> None:
    run = tmp_path / "run"
    p = pytest_run(str(ROOT / "testplans" / "test_python_plan_example.py"), "--run-dir", str(run), "--sim-seed", "3",
                   cwd=tmp_path)
    # position 11 never pulses: every accuracy point of the module is broken for it, the port check passes
    assert "test_meters_identify_over_their_port PASSED" in p.stdout or "1 passed" in p.stdout, p.stdout
    df = read_results(run)
    assert len(df) == 4 * 12
    p11 = df[df["position"] == 11]
    assert set(p11["verdict"]) == {"broken"}
    ok = df[df["position"].isin([1, 2, 3, 4, 5, 6, 7, 8, 12])]
    assert set(ok["verdict"]) == {"pass"}
    # limits from the table: class 1, from Itr ±1.0 % at PF 1, ±1.0 % at 0.5L and 0.8C above 2 Itr
    assert set(df["limit_pct"]) == {1.0}
    assert set(df["standard"]) == {"IEC 62053-21:2020"}


def test_repeats_give_mean_spread_and_repeatability(tmp_path: Path) -> None:
    plan = tmp_path / "repeats.yaml"
    plan.write_text(
        "plan: repeats\nstandard: IEC 62053-21\nedition: '2020'\nclass: '1'\n"
        "measure: {repeats: 4, settle_s: 2}\n"
        "tests:\n  - {id: iref, kind: accuracy, currents: [Iref], power_factors: ['1']}\n"
    )
    run = tmp_path / "run"
    pytest_run(str(plan), "--run-dir", str(run), cwd=tmp_path)
    df: pd.DataFrame = read_results(run)
    row = df[df["position"] == 1].iloc[0]
    assert row["repeats"] == 4
    # GUM: U = 2·√((class/√3)² + ((100/n_ref)/√3)² + (s/√n)²), class 0.02 % of the simulated reference
    u = 2 * math.sqrt((0.02 / math.sqrt(3)) ** 2 + (100 / row["n_ref"] / math.sqrt(3)) ** 2
                      + (row["spread_pct"] / math.sqrt(4)) ** 2)
    assert row["uncertainty_pct"] == pytest_approx(u)


def pytest_approx(x: float) -> object:
    import pytest

    return pytest.approx(x, abs=1e-6)  # stored rounded to 1e-6 %
