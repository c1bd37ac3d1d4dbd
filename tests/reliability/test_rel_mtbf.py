"""MTBF bounds and demonstration planning against hand-computed values.

χ² quantiles with even degrees of freedom are computed here independently of scipy, from the Poisson identity
P(χ²_{2k} ≤ x) = 1 − Σ_{j<k} e^{−x/2} (x/2)^j / j!, solved by bisection.
"""

from __future__ import annotations

import math

import pytest

from hil.reliability import (
    demo_test_hours,
    estimate_mtbf,
    mtbf_interval,
    mtbf_lower_bound,
    plan_demo_test,
    success_run_test_ratio,
    success_run_units,
    success_run_units_exact,
)


def poisson_cdf(k: int, mean: float) -> float:
    return sum(math.exp(-mean) * mean**j / math.factorial(j) for j in range(k + 1))


def chi2_even_ppf(q: float, dof: int) -> float:
    """Quantile of χ² with an even number of degrees of freedom, by bisection on the Poisson identity."""
    k = dof // 2
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        cdf = 1.0 - poisson_cdf(k - 1, mid / 2)
        lo, hi = (mid, hi) if cdf < q else (lo, mid)
    return (lo + hi) / 2


def test_issue_example_time_terminated() -> None:
    # issue 5 acceptance: T = 19520 h, r = 7, 80 % → MTBF ≥ 1907.6 h (2r + 2 = 16 dof)
    assert mtbf_lower_bound(19520, 7, 0.80) == pytest.approx(1907.6, abs=0.05)
    assert mtbf_lower_bound(19520, 7, 0.80) == pytest.approx(2 * 19520 / chi2_even_ppf(0.80, 16), rel=1e-9)


def test_failure_terminated_uses_2r_dof() -> None:
    expected = 2 * 19520 / chi2_even_ppf(0.80, 14)
    assert mtbf_lower_bound(19520, 7, 0.80, failure_terminated=True) == pytest.approx(expected, rel=1e-9)
    # fewer dof → smaller χ² quantile → the failure-terminated bound is higher
    assert expected > 1907.6


def test_zero_failures_closed_form() -> None:
    # χ²(CL; 2) = −2·ln(1 − CL): θ_L = T / −ln(1 − CL)
    assert mtbf_lower_bound(10_000, 0, 0.90) == pytest.approx(10_000 / math.log(10), rel=1e-12)


def test_two_sided_interval() -> None:
    lo, hi = mtbf_interval(19520, 7, 0.80)
    assert lo == pytest.approx(2 * 19520 / chi2_even_ppf(0.90, 16), rel=1e-9)
    assert hi == pytest.approx(2 * 19520 / chi2_even_ppf(0.10, 14), rel=1e-9)
    lo_f, hi_f = mtbf_interval(19520, 7, 0.80, failure_terminated=True)
    assert lo_f == pytest.approx(2 * 19520 / chi2_even_ppf(0.90, 14), rel=1e-9)
    assert hi_f == pytest.approx(hi, rel=1e-12)
    assert mtbf_interval(5000, 0, 0.9)[1] == math.inf


def test_estimate_bundle() -> None:
    est = estimate_mtbf(19520, 7, 0.8)
    assert est.point_hours == pytest.approx(19520 / 7)
    assert est.dof == 16 and est.test == "time-terminated"
    assert est.lower_hours < est.point_hours
    assert estimate_mtbf(1000, 0, 0.8).to_dict()["point_hours"] is None  # infinite → None in JSON


def test_zero_failure_demonstration_90_percent() -> None:
    assert demo_test_hours(1000, 0.90) == pytest.approx(2302.585, abs=1e-3)  # 2.303·θ
    assert demo_test_hours(1000, 0.60) == pytest.approx(-1000 * math.log(0.4), rel=1e-12)


def test_demonstration_with_failures_meets_its_definition() -> None:
    # at T the chance of ≤ r failures when the MTBF is exactly θ must be 1 − CL
    theta, cl, r = 2000.0, 0.9, 2
    t = demo_test_hours(theta, cl, failures=r)
    assert poisson_cdf(r, t / theta) == pytest.approx(1 - cl, abs=1e-9)
    assert t == pytest.approx(theta * chi2_even_ppf(cl, 2 * r + 2) / 2, rel=1e-9)


def test_plan_splits_over_units() -> None:
    plan = plan_demo_test(1000, 0.9, units=4)
    assert plan.total_unit_hours == pytest.approx(-1000 * math.log(0.1))
    assert plan.hours_per_unit == pytest.approx(-1000 * math.log(0.1) / 4)
    assert plan_demo_test(1000, 0.9).hours_per_unit is None


def test_success_run() -> None:
    assert success_run_units_exact(0.9, 0.9) == pytest.approx(math.log(0.1) / math.log(0.9))
    assert success_run_units(0.9, 0.9) == 22  # 21.85 rounded up: the textbook number
    # β = 2, each unit runs 1.5 × the mission: n = ln 0.1 / (1.5² · ln 0.9) = 9.71 → 10
    assert success_run_units(0.9, 0.9, beta=2.0, test_ratio=1.5) == 10
    m = success_run_test_ratio(10, 0.9, 0.9, beta=2.0)
    assert m == pytest.approx(math.sqrt(math.log(0.1) / (10 * math.log(0.9))))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: mtbf_lower_bound(-5, 1, 0.9), "must be > 0"),
        (lambda: mtbf_lower_bound(100, -1, 0.9), "failures r must be ≥ 0"),
        (lambda: mtbf_lower_bound(100, 1.5, 0.9), "whole number"),  # type: ignore[arg-type]
        (lambda: mtbf_lower_bound(100, 1, 1.0), "between 0 and 1"),
        (lambda: mtbf_lower_bound(100, 1, 0.0), "between 0 and 1"),
        (lambda: mtbf_lower_bound(100, 1, 90), r"give 0\.9 for 90 %"),
        (lambda: mtbf_lower_bound(100, 0, 0.9, failure_terminated=True), "failure-terminated"),
        (lambda: plan_demo_test(1000, 0.9, failures=5, units=3), r"allowed failures \(5\) exceed the units"),
        (lambda: plan_demo_test(1000, 0.9, units=0), "units must be ≥ 1"),
        (lambda: demo_test_hours(-1000, 0.9), "MTBF"),
        (lambda: success_run_units(1.0, 0.9), "reliability R"),
        (lambda: mtbf_lower_bound(math.nan, 1, 0.9), "finite"),
    ],
)
def test_bad_input(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]
