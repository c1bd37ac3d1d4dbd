"""The shipped prepayment plan on the shipped simulated prepayment bench, served by this process and run by pytest as a
subprocess (as on hardware); every verdict against the bench file's header, every value by hand:

- the faults (instruments/simulators/data/prepayment_bench.yaml): 3 accepts a replayed token, 4 charges tariff 1's
  price in tariff 2, 5 does not disconnect at zero credit, 6 disconnects in friendly hours, 7 ignores the rollover
  bit — each fails the test written for it, the good meters 1 and 2 pass everything;
- token statuses as the Blue Book token gateway numbers them: 3 accepted, 5 authentication failure, 6 validation
  failure; a 10 kWh token credits 10 000 Wh;
- energies from P = U·I: 230 V × 5 A = 1150 W for 1800 s is 575 Wh (tariff 2 at 0.5: 287.5 Wh of credit, at the
  faulty 1.0: 575 Wh, +100 %); 230 V × 60 A = 13.8 kW, so 6 kWh of credit last 6 / 13.8 h = 1565.2 s and a minute
  at Imax gives 13.8 kW × 60 s × 1000 imp/kWh = 230 pulses;
- the standing charge: 0.48 kWh a day hourly is 20 Wh at each full hour: six hours at no load take 120 Wh.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from hil.benchfile import load_bench_file
from hil.results import read_results
from hil.simbench import simulated_bench

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "testplans" / "prepayment_sts.yaml"
BENCH = ROOT / "instruments" / "simulators" / "data" / "prepayment_bench.yaml"
TESTS = ("key_change", "token_acceptance", "deduction", "credit_limits", "friendly_hours")
#: which tests each position fails (the bench file's header); 7 refuses every token after the key change
FAILS = {1: set(), 2: set(), 3: {"token_acceptance"}, 4: {"deduction"}, 5: {"credit_limits", "friendly_hours"},
         6: {"friendly_hours"}, 7: set(TESTS)}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pd.DataFrame, Path]]:
    tmp = tmp_path_factory.mktemp("prepayment_plan")
    with simulated_bench(BENCH, write_to=tmp / "bench.yaml") as (rb, _):
        cmd = [sys.executable, "-m", "pytest", str(PLAN), "--bench", str(tmp / "bench.yaml"),
               "--run-dir", str(tmp / "run"), "--alluredir", str(tmp / "run" / "allure-results"),
               "-p", "no:cacheprovider", "-q"]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=600)
        assert p.returncode == 1, p.stdout + p.stderr  # the faulty meters fail
        truth = rb.call(lambda: rb.bench.world.truth())
    (tmp / "truth.json").write_text(json.dumps(truth, default=str), encoding="utf-8")
    yield read_results(tmp / "run"), tmp


def _row(df: pd.DataFrame, pos: int, test: str) -> pd.Series:
    rows = df[(df["position"] == pos) & (df["test_id"] == test)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_each_fault_fails_its_test_and_the_good_meters_pass(run: tuple[pd.DataFrame, Path]) -> None:
    df, _ = run
    for pos, fails in FAILS.items():
        for test in TESTS:
            r = _row(df, pos, test)
            want = "fail" if test in fails else "pass"
            assert r["verdict"] == want, (pos, test, r["reason"])


def test_the_faults_are_caught_for_the_right_reason(run: tuple[pd.DataFrame, Path]) -> None:
    df, _ = run
    assert "replayed: the meter answered accepted" in _row(df, 3, "token_acceptance")["reason"]
    assert "tariff 2" in _row(df, 4, "deduction")["reason"]
    assert "out-of-credit event" in _row(df, 5, "credit_limits")["reason"]
    assert "stays on after the friendly hours" in _row(df, 5, "friendly_hours")["reason"]
    assert "cut in the friendly hours" in _row(df, 6, "friendly_hours")["reason"]
    r7 = _row(df, 7, "key_change")["reason"]
    assert "rollover minute" in r7 and "older than every TID" in r7


def test_the_token_matrix_gives_each_case_its_status_and_credit(run: tuple[pd.DataFrame, Path]) -> None:
    df, _ = run
    want = {"valid": (3, 10000.0), "wrong_meter": (5, 0.0), "wrong_supply_group": (5, 0.0),
            "wrong_key_revision": (5, 0.0), "corrupted_digit": (5, 0.0), "replayed": (6, 0.0), "old_tid": (6, 0.0),
            "key_expired": (6, 0.0), "wrong_class": (6, 0.0)}
    for pos in (1, 2):
        cases = json.loads(_row(df, pos, "token_acceptance")["cases"])
        assert set(cases) == set(want)
        for case, (status, credit_wh) in want.items():
            assert cases[case]["status"] == status, (pos, case, cases[case])
            assert abs(cases[case]["credited_wh"] - credit_wh) <= 1.0, (pos, case, cases[case])
    replay = json.loads(_row(df, 3, "token_acceptance")["cases"])["replayed"]
    assert replay["status"] == 3 and abs(replay["credited_wh"] - 10000.0) <= 1.0  # credited twice


def test_the_key_change_moves_the_good_meters_across_the_rollover(run: tuple[pd.DataFrame, Path]) -> None:
    df, _ = run
    for pos in (1, 2):
        r = _row(df, pos, "key_change")
        steps = json.loads(r["steps"])
        assert [steps[s]["status"] for s in ("before", "key_1", "key_2", "old_key", "at_rollover", "now")] == [
            3, 3, 3, 5, 3, 3]
        assert abs(steps["at_rollover"]["credited_wh"] - 1000.0) <= 1.0
        assert r["base_date"] == 2014 and r["krn"] == 2
    steps7 = json.loads(_row(df, 7, "key_change")["steps"])
    assert steps7["key_1"]["status"] == steps7["key_2"]["status"] == 3  # taken, but the rollover bit ignored
    assert steps7["at_rollover"]["status"] == 6 and steps7["at_rollover"]["credited_wh"] == 0.0


def test_deduction_follows_the_reference_energy_and_the_price(run: tuple[pd.DataFrame, Path]) -> None:
    df, _ = run
    for pos, price2 in ((1, 0.5), (4, 1.0)):
        windows = json.loads(_row(df, pos, "deduction")["windows"])
        t1, t2, idle = windows
        for w in (t1, t2):  # 230 V × 5 A for 1800 s, and for the settling of the load (at most 15 s here)
            assert 0.575 <= w["reference_kwh"] <= 0.575 + 1150.0 * 15.0 / 3.6e6
        for w, price in ((t1, 1.0), (t2, price2)):  # class 1 at Iref, plus two readings of 1 Wh
            assert w["drop_kwh"] - w["standing_kwh"] == pytest.approx(w["reference_kwh"] * price, rel=0.01, abs=0.002)
        assert idle["collections"] == 6 and idle["drop_kwh"] == pytest.approx(0.120, abs=0.002)


def test_credit_limits_timing_and_the_supply(run: tuple[pd.DataFrame, Path]) -> None:
    df, _ = run
    for pos in (1, 2):
        r = _row(df, pos, "credit_limits")
        # the credit when the load has settled (6 kWh less what the settling took), gone at 13.8 kW
        assert 6.0 - 13.8 * 15.0 / 3600.0 <= r["start_kwh"] <= 6.0
        assert r["zero_s"] == pytest.approx(r["start_kwh"] / 13.8 * 3600.0, rel=2e-3)
        assert r["pulses_at_zero"] <= 1 and abs(r["pulses_after_topup"] - 230) <= 2
        assert r["payback_kwh"] == pytest.approx(10.0 - 2.0, abs=0.002)
    r5 = _row(df, 5, "credit_limits")
    assert abs(r5["pulses_at_zero"] - 230) <= 2  # the supply stays on at zero


def test_friendly_hours_by_pulse_counts(run: tuple[pd.DataFrame, Path]) -> None:
    df, _ = run
    good, cuts_early, never_cuts = (_row(df, p, "friendly_hours") for p in (1, 6, 5))
    assert abs(good["pulses_in_window"] - 230) <= 2 and good["pulses_after_window"] <= 1
    assert cuts_early["pulses_in_window"] == 0
    assert abs(never_cuts["pulses_after_window"] - 230) <= 2


def test_the_bench_file_gives_each_payment_meter_its_sts_key_data(run: tuple[pd.DataFrame, Path]) -> None:
    _, tmp = run
    bench = load_bench_file(tmp / "bench.yaml")
    pos = bench.positions_by_number[1]
    assert pos.sts is not None
    # PAN: IIN 600727, the serial's digits 2700000001 zero-padded to 11, Luhn digit by hand
    body = "600727" + "02700000001"
    total = sum((2 * int(d) - 9 if 2 * int(d) > 9 else 2 * int(d)) if i % 2 == 0 else int(d)
                for i, d in enumerate(reversed(body)))
    assert pos.sts.pan == body + str(-total % 10)
    assert (pos.sts.sgc, pos.sts.ti, pos.sts.krn, pos.sts.base_date) == ("123456", 1, 1, 1993)


def test_allure_shows_each_fault_with_its_reason(run: tuple[pd.DataFrame, Path]) -> None:
    _, tmp = run
    found: dict[tuple[str, str], dict[str, object]] = {}
    for f in (tmp / "run" / "allure-results").glob("*-result.json"):
        r = json.loads(f.read_text(encoding="utf-8"))
        labels = {lab["name"]: lab["value"] for lab in r["labels"]}
        found[(labels["suite"], labels["feature"])] = r
    want = {("MHS2700000003", "sts_token_acceptance"): "replayed: the meter answered accepted",
            ("MHS2700000004", "prepayment_deduction"): "tariff 2",
            ("MHS2700000006", "prepayment_friendly"): "cut in the friendly hours",
            ("MHS2700000007", "sts_key_change"): "rollover minute"}
    for key, text in want.items():
        r = found[key]
        assert r["status"] == "failed", key
        details = r["statusDetails"]
        assert isinstance(details, dict) and text in details["message"], (key, details)
    assert found[("MHS2700000001", "sts_token_acceptance")]["status"] == "passed"


def test_a_plan_with_a_case_no_kind_knows_is_refused_by_field(tmp_path: Path) -> None:
    from hil.core.plan import load_plan
    from instruments.yamlconfig import ConfigError

    bad = tmp_path / "plan.yaml"
    bad.write_text(PLAN.read_text(encoding="utf-8").replace("    amount_kwh: 10\n",
                                                           "    amount_kwh: 10\n    cases: [valid, stolen]\n"),
                   encoding="utf-8")
    line = bad.read_text(encoding="utf-8").splitlines().index("    cases: [valid, stolen]") + 1
    with pytest.raises(ConfigError) as exc:
        load_plan(bad)
    text = str(exc.value)
    assert f"plan.yaml:{line}: tests[1].cases[1]" in text and "'old_tid'" in text


def test_the_plan_leaves_the_good_meters_supplied_with_credit_and_their_clocks_back(
        run: tuple[pd.DataFrame, Path]) -> None:
    _, tmp = run
    truth = json.loads((tmp / "truth.json").read_text(encoding="utf-8"))
    bench_time = dt.datetime.fromisoformat(truth["datetime"])
    for pos in ("1", "2"):
        m = truth["meters"][pos]
        assert m["relay_closed"] is True
        assert m["prepayment"]["available_kwh"] > 0 and not m["prepayment"]["credit_disconnect"]
        assert abs((dt.datetime.fromisoformat(m["clock"]) - bench_time).total_seconds()) < 5.0
