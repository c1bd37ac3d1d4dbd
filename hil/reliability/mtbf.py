"""MTBF from a test with failures, and planning a test that demonstrates an MTBF (constant failure rate).

Chi-square confidence bounds for the exponential model (IEC 60605-4 §6; MIL-HDBK-781A §5.9), r failures in a
total unit-hours T:

- time-terminated test (stops at T): lower bound θ_L = 2T / χ²(CL; 2r + 2), standards.md §8;
- failure-terminated test (stops at the r-th failure): θ_L = 2T / χ²(CL; 2r);
- two-sided interval at CL: lower end at χ²((1 + CL)/2), upper end 2T / χ²((1 − CL)/2; 2r) (both test types).

Demonstration (IEC 61124 fixed-duration test, "success" at ≤ r failures): T = θ·χ²(CL; 2r + 2)/2, which for
r = 0 is T = −θ·ln(1 − CL) (90 %: 2.303·θ).
Weibull success run (Lipson–Sheth; standards.md §8): n = ln(1 − CL) / (m^β · ln R), m = test time / mission time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy import stats

from hil.reliability._check import non_negative, positive, probability, whole

TIME_TERMINATED = "time-terminated"
FAILURE_TERMINATED = "failure-terminated"


def _chi2(q: float, dof: int) -> float:
    return float(stats.chi2.ppf(q, dof))


def _checked(total_hours: float, failures: int, failure_terminated: bool) -> tuple[float, int]:
    t = positive("total test time T (unit-hours)", total_hours)
    r = whole("failures r", failures)
    if failure_terminated and r == 0:
        raise ValueError("a failure-terminated test ends at a failure: failures must be ≥ 1")
    return t, r


def mtbf_lower_bound(
    total_hours: float, failures: int, confidence: float, *, failure_terminated: bool = False
) -> float:
    """One-sided lower confidence bound θ_L on the MTBF: 2T/χ²(CL; 2r+2), or 2r dof if failure-terminated."""
    t, r = _checked(total_hours, failures, failure_terminated)
    cl = probability("confidence", confidence)
    dof = 2 * r if failure_terminated else 2 * r + 2
    return 2.0 * t / _chi2(cl, dof)


def mtbf_interval(
    total_hours: float, failures: int, confidence: float, *, failure_terminated: bool = False
) -> tuple[float, float]:
    """Two-sided confidence interval on the MTBF (upper end infinite with no failures)."""
    t, r = _checked(total_hours, failures, failure_terminated)
    cl = probability("confidence", confidence)
    dof_lower = 2 * r if failure_terminated else 2 * r + 2
    lower = 2.0 * t / _chi2((1.0 + cl) / 2.0, dof_lower)
    upper = 2.0 * t / _chi2((1.0 - cl) / 2.0, 2 * r) if r > 0 else math.inf
    return lower, upper


@dataclass(frozen=True)
class MtbfEstimate:
    """Point estimate and bounds of the MTBF from one test."""

    total_hours: float
    failures: int
    confidence: float
    test: str  # TIME_TERMINATED or FAILURE_TERMINATED
    dof: int  # degrees of freedom of the one-sided lower bound
    point_hours: float  # T/r, infinite with no failures
    lower_hours: float  # one-sided lower bound at confidence
    interval_hours: tuple[float, float]  # two-sided at confidence

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["point_hours"] = self.point_hours if math.isfinite(self.point_hours) else None
        d["interval_hours"] = [x if math.isfinite(x) else None for x in self.interval_hours]
        return d


def estimate_mtbf(
    total_hours: float, failures: int, confidence: float, *, failure_terminated: bool = False
) -> MtbfEstimate:
    """Everything about the MTBF of one test: T/r, the one-sided lower bound, the two-sided interval."""
    t, r = _checked(total_hours, failures, failure_terminated)
    return MtbfEstimate(
        total_hours=t, failures=r, confidence=probability("confidence", confidence),
        test=FAILURE_TERMINATED if failure_terminated else TIME_TERMINATED,
        dof=2 * r if failure_terminated else 2 * r + 2,
        point_hours=t / r if r else math.inf,
        lower_hours=mtbf_lower_bound(t, r, confidence, failure_terminated=failure_terminated),
        interval_hours=mtbf_interval(t, r, confidence, failure_terminated=failure_terminated),
    )


def demo_test_hours(mtbf_hours: float, confidence: float, failures: int = 0) -> float:
    """Total unit-hours that demonstrate ``mtbf_hours`` at ``confidence`` if at most ``failures`` occur.

    Zero failures: T = −θ·ln(1 − CL); otherwise T = θ·χ²(CL; 2r + 2)/2 (time-terminated test).
    """
    theta = positive("required MTBF θ (hours)", mtbf_hours)
    cl = probability("confidence", confidence)
    r = whole("allowed failures r", failures)
    if r == 0:
        return -theta * math.log1p(-cl)
    return theta * _chi2(cl, 2 * r + 2) / 2.0


@dataclass(frozen=True)
class DemoTestPlan:
    """A fixed-duration demonstration test: total unit-hours, and per unit if the number of units is given."""

    required_mtbf_hours: float
    confidence: float
    allowed_failures: int
    total_unit_hours: float
    units: int | None
    hours_per_unit: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_demo_test(
    mtbf_hours: float, confidence: float, failures: int = 0, units: int | None = None
) -> DemoTestPlan:
    """Plan a demonstration test; with ``units`` the total is split evenly over the units.

    Allowing more failures than units on test is refused: such a plan expects every unit to fail more than once,
    which is most likely swapped arguments, not a demonstration of these units.
    """
    total = demo_test_hours(mtbf_hours, confidence, failures)
    n: int | None = None
    if units is not None:
        n = whole("units", units, minimum=1)
        if failures > n:
            raise ValueError(f"allowed failures ({failures}) exceed the units on test ({n})")
    return DemoTestPlan(
        required_mtbf_hours=float(mtbf_hours), confidence=float(confidence), allowed_failures=int(failures),
        total_unit_hours=total, units=n, hours_per_unit=total / n if n else None,
    )


def success_run_units_exact(reliability: float, confidence: float, *, beta: float = 1.0,
                            test_ratio: float = 1.0) -> float:
    """Weibull success run, unrounded: n = ln(1 − CL) / (m^β · ln R) (all n units survive m × mission time)."""
    r = probability("reliability R", reliability)
    cl = probability("confidence", confidence)
    b = positive("Weibull shape β", beta)
    m = positive("test time ratio m (test time / mission time)", test_ratio)
    return float(math.log1p(-cl) / (m**b * math.log(r)))


def success_run_units(reliability: float, confidence: float, *, beta: float = 1.0, test_ratio: float = 1.0) -> int:
    """Units that must all survive ``test_ratio`` × the mission time to show R at CL (rounded up)."""
    exact = success_run_units_exact(reliability, confidence, beta=beta, test_ratio=test_ratio)
    return max(1, math.ceil(exact - 1e-9))  # the tolerance keeps float noise (22.000000001) from adding a unit


def success_run_test_ratio(units: int, reliability: float, confidence: float, *, beta: float = 1.0) -> float:
    """The inverse: test time / mission time each of ``units`` units must survive, (ln(1−CL)/(n·ln R))^(1/β)."""
    n = whole("units", units, minimum=1)
    r = probability("reliability R", reliability)
    cl = probability("confidence", confidence)
    b = positive("Weibull shape β", beta)
    return float((math.log1p(-cl) / (n * math.log(r))) ** (1.0 / b))


def equivalent_use_hours(test_hours: float, acceleration_factor: float) -> float:
    """Use hours that ``test_hours`` at an accelerated stress stand for (test hours × AF)."""
    return non_negative("test hours", test_hours) * positive("acceleration factor", acceleration_factor)
