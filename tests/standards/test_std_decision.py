"""Decision rules (simple, ILAC-G8 guard band) and the uncertainty budget (reference/standards.md §6)."""

from __future__ import annotations

import math

import pytest

from hil.standards import (
    Outcome,
    UncertaintyComponent,
    decide,
    guarded_acceptance,
    simple_acceptance,
    uncertainty_adequate,
    uncertainty_budget,
)

L, U = 1.0, 0.25  # chosen so the boundaries are exact in binary floating point


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (0.0, Outcome.PASS),
        (0.75, Outcome.PASS),  # |e| + U = L: on the boundary, still pass
        (-0.75, Outcome.PASS),
        (0.76, Outcome.CONDITIONAL_PASS),  # within L, but the uncertainty interval crosses it
        (1.0, Outcome.CONDITIONAL_PASS),  # |e| = L
        (-1.0, Outcome.CONDITIONAL_PASS),
        (1.01, Outcome.CONDITIONAL_FAIL),
        (1.25, Outcome.CONDITIONAL_FAIL),  # |e| − U = L: not yet beyond
        (1.26, Outcome.FAIL),
        (-1.5, Outcome.FAIL),
    ],
)
def test_guard_band_outcomes_at_the_boundaries(error: float, outcome: Outcome) -> None:
    d = guarded_acceptance(error, L, U)
    assert d.outcome is outcome
    assert d.inconclusive is (outcome in (Outcome.CONDITIONAL_PASS, Outcome.CONDITIONAL_FAIL))
    assert d.passed is (outcome is Outcome.PASS)
    assert d.rule == "guard_band"


@pytest.mark.parametrize(("error", "passed"), [(1.0, True), (-1.0, True), (1.0001, False), (-1.2, False)])
def test_simple_acceptance(error: float, passed: bool) -> None:
    d = simple_acceptance(error, L, U)
    assert d.passed is passed
    assert d.outcome is (Outcome.PASS if passed else Outcome.FAIL)
    assert d.uncertainty_pct == U  # carried, not used


def test_decide_dispatch() -> None:
    assert decide(1.0, L, U).outcome is Outcome.PASS
    assert decide(1.0, L, U, "guard_band").outcome is Outcome.CONDITIONAL_PASS
    with pytest.raises(ValueError):
        decide(1.0, L, None, "guard_band")
    with pytest.raises(ValueError):
        guarded_acceptance(0.1, L, -0.1)


def test_budget_combines_by_hand() -> None:
    repeats = [0.10, 0.12, 0.11]
    b = uncertainty_budget(reference_class_pct=0.02, ref_pulses=1000, repeats=repeats)
    u_ref = 0.02 / math.sqrt(3)  # rectangular over the class
    u_res = (100 / 1000) / math.sqrt(3)  # ±1 reference pulse of 1000
    mean = sum(repeats) / 3
    s = math.sqrt(sum((x - mean) ** 2 for x in repeats) / 2)
    u_rep = s / math.sqrt(3)
    u_c = math.sqrt(u_ref**2 + u_res**2 + u_rep**2)
    assert [c.name for c in b.components] == ["reference standard", "resolution", "repeatability"]
    assert b.combined_pct == pytest.approx(u_c)
    assert b.expanded_pct == pytest.approx(2 * u_c)
    assert b.mean_error_pct == pytest.approx(0.11)


def test_budget_without_repeats_and_with_extras() -> None:
    extra = UncertaintyComponent("source stability", 0.01, "normal")
    b = uncertainty_budget(reference_class_pct=0.05, repeats=[0.3], extra=[extra], coverage_factor=3.0)
    u_c = math.sqrt((0.05 / math.sqrt(3)) ** 2 + 0.01**2)
    assert b.combined_pct == pytest.approx(u_c)
    assert b.expanded_pct == pytest.approx(3 * u_c)
    assert b.mean_error_pct == 0.3 and len(b.components) == 2


def test_uncertainty_one_fifth_of_the_limit() -> None:
    # IEC 62058-21 §4.3 (C): U ≤ limit/5
    ok = uncertainty_adequate(0.2, 1.0)
    assert ok.ok and ok.fraction == pytest.approx(1 / 5)
    assert ok.provenance is not None and ok.provenance.standard == "IEC 62058-21"
    assert ok.provenance.status == "confirmed"
    assert not uncertainty_adequate(0.21, 1.0).ok
    # the published type-test budget 0.08 % (PF 1) suits class 1 (±1.0) but not 0.2S (±0.2)
    assert uncertainty_adequate(0.08, 1.0).ok and not uncertainty_adequate(0.08, 0.2).ok
    # in-service verification: ≤ 1/3 MPE
    assert uncertainty_adequate(0.3, 1.0, fraction=1 / 3).ok
