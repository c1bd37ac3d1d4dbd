"""The one verdict: hil.core.measurement.judge on measurements, with expected outcomes worked by hand from the
rules (ILAC-G8:09/2019 guard band w = U; IEC 62058-21 §4.3 U ≤ limit/5)."""

from __future__ import annotations

import pytest

from hil.core.measurement import Measurement, judge, judge_one


@pytest.mark.parametrize(
    ("error", "u", "rule", "conditional", "verdict", "outcome"),
    [
        (0.9, 0.05, "simple", "fail", "pass", "pass"),
        (1.1, 0.05, "simple", "fail", "fail", "fail"),
        (1.0, 0.05, "simple", "fail", "pass", "pass"),  # at the limit: within
        (0.9, 0.05, "guard_band", "fail", "pass", "pass"),  # 0.9 + 0.05 ≤ 1
        (0.97, 0.05, "guard_band", "fail", "fail", "conditional_pass"),  # 0.97 ≤ 1 < 1.02
        (0.97, 0.05, "guard_band", "pass", "pass", "conditional_pass"),
        (1.03, 0.05, "guard_band", "pass", "fail", "conditional_fail"),  # 1.03 − 0.05 ≤ 1 < 1.03
        (-1.2, 0.05, "guard_band", "pass", "fail", "fail"),  # 1.2 − 0.05 > 1
    ],
)
def test_symmetric_limit_under_the_decision_rule(error: float, u: float, rule: str, conditional: str,
                                                 verdict: str, outcome: str) -> None:
    j = judge_one(Measurement.within("error", error, 1.0, "%", uncertainty=u, rule=rule,
                                     conditional_pass=conditional))
    assert (j.verdict, j.outcome) == (verdict, outcome)
    assert j.uncertainty_adequate is True  # 0.05 ≤ 1/5 of 1


def test_uncertainty_beyond_a_fifth_of_the_limit_is_said_with_the_remedy() -> None:
    j = judge_one(Measurement.within("drift", 0.1, 0.5, "s/day", uncertainty=0.11, remedy="measure longer"))
    assert j.verdict == "pass" and j.uncertainty_adequate is False  # 0.11 > 0.5 / 5 = 0.1
    assert j.reason.endswith("exceeds 1/5 of the limit: measure longer (IEC 62058-21 §4.3)")
    off = judge_one(Measurement.within("shift", 0.1, 0.5, "%", uncertainty=0.3, check_uncertainty=False))
    assert off.uncertainty_adequate is None and "1/5" not in off.reason


def test_the_generic_phrase_of_an_error() -> None:
    assert judge_one(Measurement.within("error", 1.45, 1.5, "%")).reason == \
        "error +1.4500 % within ±1.5 % (pass, simple)"


@pytest.mark.parametrize(("value", "lower", "upper", "verdict"),
                         [(1, 1, None, "pass"), (0, 1, None, "fail"), (1, None, 1, "pass"), (2, None, 1, "fail"),
                          (5, 2, 8, "pass"), (9, 2, 8, "fail")])
def test_one_sided_and_asymmetric_limits(value: int, lower: int | None, upper: int | None, verdict: str) -> None:
    j = judge_one(Measurement("pulses", value, "", lower=lower, upper=upper))
    assert j.verdict == verdict and j.outcome is None  # no decision rule: a count is exact


def test_conditions_missing_values_and_no_limit() -> None:
    assert judge_one(Measurement("serial", True)).verdict == "pass"
    no = judge_one(Measurement("serial", False, text="port says 'X'"))
    assert (no.verdict, no.reason) == ("fail", "port says 'X'")
    assert judge_one(Measurement("error", None)).verdict == "broken"
    rec = judge_one(Measurement("MTBF", 1234.0, "h"))
    assert rec.verdict == "pass" and "no limit" in rec.reason


def test_text_may_depend_on_the_verdict() -> None:
    m = Measurement.within("variation", 0.7, 0.5, "%", text=lambda ok: "within" if ok else "beyond")
    assert judge_one(m).reason == "beyond"


def test_the_first_failing_measurement_decides_and_later_missing_values_do_not_matter() -> None:
    ms = [Measurement("total = sum", True), Measurement("energy", False, text="no energy"),
          Measurement("switch", None)]
    j, decisive = judge(ms)
    assert (j.verdict, j.reason) == ("fail", "no energy") and decisive is ms[1]
    j, decisive = judge([Measurement("a", True), Measurement.within("b", 0.1, 1.0)])
    assert j.verdict == "pass" and decisive is not None and decisive.name == "b"
    assert judge([Measurement("a", None), Measurement("b", False)])[0].verdict == "broken"
    assert judge([])[0].verdict == "broken"


def test_row_columns_of_a_measurement() -> None:
    cols = Measurement.within("error", 0.25, 1.0, "%", uncertainty=0.02).columns()
    assert cols == {"quantity": "error", "value": 0.25, "unit": "%", "lower_limit": -1.0, "upper_limit": 1.0,
                    "value_uncertainty": 0.02}
    assert Measurement("serial", True).columns()["value"] is None
