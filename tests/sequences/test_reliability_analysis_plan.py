"""Plan kind ``reliability_analysis``: a burn-in's failures analysed in the same run, checked by hand formulas.

The burn-in on the default simulated bench fails the weak unit only (tests/sequences/test_burn_in.py); the analysis
must count 1 failure and 11 right-censored units, and its MTBF bound and acceleration factor must equal the
standards.md §8 formulas computed here from the run's own failure and sequence hours.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from scipy.stats import chi2

from hil.core.plan import load_plan
from hil.results import read_results
from hil.simbench import simulated_bench
from instruments.yamlconfig import ConfigError
from tests.sequences.plans import PLAN, SEED, WEAK

K_EV = 8.617333262e-5
ANALYSIS = """\
  - id: life_pass
    kind: reliability_analysis
    confidence: 0.9
    acceleration: {model: arrhenius, activation_energy_ev: 0.7, use_temperature_c: 30}
    target_mtbf_h: 1000
  - id: life_fail
    kind: reliability_analysis
    of: [bi]
    confidence: 0.9
    acceleration: {model: arrhenius, activation_energy_ev: 0.7, use_temperature_c: 30}
    target_mtbf_h: 1.0e9
"""


def test_analysis_of_the_burn_in_matches_the_hand_formulas(tmp_path: Path) -> None:
    plan = tmp_path / "burn_in_analysed.yaml"
    plan.write_text(PLAN + ANALYSIS, encoding="utf-8")
    run_dir = tmp_path / "run"
    with simulated_bench(seed=SEED, write_to=tmp_path / "bench.yaml"):
        p = subprocess.run([sys.executable, "-m", "pytest", str(plan), "--bench", str(tmp_path / "bench.yaml"),
                            "--run-dir", str(run_dir), "-p", "no:cacheprovider", "-q", "-rA",
                            "--alluredir", str(run_dir / "allure-results")],
                           capture_output=True, text=True, timeout=600, cwd=tmp_path)
    out = p.stdout
    assert p.returncode == 1, out  # the weak unit and the unreachable target fail
    assert any(line.startswith("PASSED") and "life_pass::reliability" in line for line in out.splitlines()), out
    assert any(line.startswith("FAILED") and "life_fail::reliability" in line for line in out.splitlines()), out

    rows = read_results(run_dir)
    bi = rows[rows["test_id"] == "bi"]
    assert len(bi) == 12
    failed = bi[bi["verdict"] == "fail"]
    assert list(failed["position"]) == [WEAK]
    total = float(failed["failure_time_h"].sum() + bi[bi["verdict"] == "pass"]["sequence_h"].sum())
    theta_l = 2 * total / chi2.ppf(0.9, 2 * 1 + 2)  # time-terminated, r = 1
    af = math.exp(0.7 / K_EV * (1 / (30 + 273.15) - 1 / (70 + 273.15)))

    for name, passed in (("life_pass", True), ("life_fail", False)):
        got = json.loads((run_dir / f"reliability_{name}.json").read_text())
        assert (got["units"], got["failures"], got["censored"]) == (12, 1, 11)
        assert got["total_unit_hours"] == pytest.approx(total, rel=1e-9)
        assert got["mtbf"]["lower_hours"] == pytest.approx(theta_l, rel=1e-9)
        assert got["acceleration_factor"] == pytest.approx(af, rel=1e-9)
        assert got["mtbf_lower_use_hours"] == pytest.approx(theta_l * af, rel=1e-9)
        assert got["weibull"] is None  # one failure: no two-parameter fit
        assert got["passed"] is passed

    results = [json.loads(f.read_text()) for f in (run_dir / "allure-results").glob("*-result.json")]
    life = [r for r in results if any(lb["name"] == "feature" and lb["value"] == "reliability_analysis"
                                      for lb in r["labels"])]
    assert sorted((r["name"], r["status"]) for r in life) == [
        ("reliability analysis life_fail", "failed"), ("reliability analysis life_pass", "passed")]
    assert all({a["type"] for a in r["attachments"]} >= {"image/png"} for r in life)


@pytest.mark.parametrize(("extra", "message"), [
    ("  - {id: life, kind: reliability_analysis, of: [nope]}\n", "'nope' is not a sequence test before it"),
    ("  - {id: life, kind: reliability_analysis, confidence: 1.5}\n", "confidence"),
    ("  - {id: life, kind: reliability_analysis, acceleration: {model: peck, use_temperature_c: 30}}\n",
     "use_humidity_pct"),
])
def test_bad_analysis_is_refused_with_file_and_line(tmp_path: Path, extra: str, message: str) -> None:
    plan = tmp_path / "bad.yaml"
    plan.write_text(PLAN + extra, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_plan(plan)
    text = str(exc.value)
    assert message in text and "bad.yaml" in text


def test_peck_without_a_test_humidity_is_refused_at_collection(tmp_path: Path) -> None:
    from hil.kinds.sequences.analysis import AnalysisError, acceleration_of

    plan = tmp_path / "p.yaml"
    plan.write_text(PLAN + "  - {id: life, kind: reliability_analysis, acceleration: "
                           "{model: peck, use_temperature_c: 30, use_humidity_pct: 60}}\n", encoding="utf-8")
    loaded = load_plan(plan)
    with pytest.raises(AnalysisError, match="no test humidity"):
        acceleration_of(loaded.tests[-1], loaded)  # type: ignore[arg-type]
