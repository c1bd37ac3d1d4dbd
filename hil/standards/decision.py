"""Decision rules and the uncertainty of a measured error (pure functions).

Simple acceptance: pass when |error| ≤ limit; the uncertainty is reported, not used.
Guard-banded acceptance (ILAC-G8:09/2019, non-binary statement with guard band w = U):

    pass              |error| + U ≤ limit                  conformance, including the uncertainty
    conditional_pass  |error| ≤ limit < |error| + U        within the limit, uncertainty interval crosses it
    conditional_fail  |error| − U ≤ limit < |error|        outside the limit, uncertainty interval crosses it
    fail              |error| − U > limit                  non-conformance, including the uncertainty

The two conditional outcomes are inconclusive: a report must say which one; a plan decides whether they count
as pass or fail. Comparisons allow 1e-9 % so that a value exactly on a boundary is not flipped by rounding.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from hil.standards.model import Provenance
from hil.standards.tables import StandardsLibrary, default_library

_EPS_PCT = 1e-9
#: where the "uncertainty ≤ 1/5 of the limit" rule lives in the library
UNCERTAINTY_RULE = ("IEC 62058-21", "2008")


class Outcome(StrEnum):
    PASS = "pass"
    CONDITIONAL_PASS = "conditional_pass"
    CONDITIONAL_FAIL = "conditional_fail"
    FAIL = "fail"


Rule = Literal["simple", "guard_band"]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    rule: Rule
    error_pct: float
    limit_pct: float
    #: expanded uncertainty (k = 2) of the error, %; None when not known
    uncertainty_pct: float | None

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS

    @property
    def inconclusive(self) -> bool:
        return self.outcome in (Outcome.CONDITIONAL_PASS, Outcome.CONDITIONAL_FAIL)


def simple_acceptance(error_pct: float, limit_pct: float, uncertainty_pct: float | None = None) -> Decision:
    """Pass when |error| ≤ limit (the uncertainty is carried along, not used)."""
    ok = abs(error_pct) <= limit_pct + _EPS_PCT
    return Decision(Outcome.PASS if ok else Outcome.FAIL, "simple", error_pct, limit_pct, uncertainty_pct)


def guarded_acceptance(error_pct: float, limit_pct: float, uncertainty_pct: float) -> Decision:
    """ILAC-G8 non-binary decision with guard band w = U (see the module docstring for the four outcomes)."""
    if uncertainty_pct < 0:
        raise ValueError("uncertainty must be ≥ 0")
    e = abs(error_pct)
    if e + uncertainty_pct <= limit_pct + _EPS_PCT:
        outcome = Outcome.PASS
    elif e - uncertainty_pct > limit_pct + _EPS_PCT:
        outcome = Outcome.FAIL
    elif e <= limit_pct + _EPS_PCT:
        outcome = Outcome.CONDITIONAL_PASS
    else:
        outcome = Outcome.CONDITIONAL_FAIL
    return Decision(outcome, "guard_band", error_pct, limit_pct, uncertainty_pct)


def decide(error_pct: float, limit_pct: float, uncertainty_pct: float | None, rule: Rule = "simple") -> Decision:
    if rule == "simple":
        return simple_acceptance(error_pct, limit_pct, uncertainty_pct)
    if uncertainty_pct is None:
        raise ValueError("the guard-band rule needs the uncertainty")
    return guarded_acceptance(error_pct, limit_pct, uncertainty_pct)


@dataclass(frozen=True)
class UncertaintyComponent:
    name: str
    #: standard uncertainty, % of the error
    standard_pct: float
    distribution: str
    note: str = ""


@dataclass(frozen=True)
class UncertaintyBudget:
    components: tuple[UncertaintyComponent, ...]
    combined_pct: float
    coverage_factor: float
    expanded_pct: float
    #: mean of the repeats, when repeats were given
    mean_error_pct: float | None = None


def uncertainty_budget(
    *,
    reference_class_pct: float | None = None,
    ref_pulses: float | None = None,
    repeats: Sequence[float] = (),
    extra: Sequence[UncertaintyComponent] = (),
    coverage_factor: float = 2.0,
) -> UncertaintyBudget:
    """Combine, root-sum-square, the standard uncertainties of the error measurement (GUM):

    - reference standard of accuracy class ``reference_class_pct``: rectangular, class/√3;
    - error-calculator resolution (±1 reference pulse = 100/n_ref %): rectangular, (100/n_ref)/√3;
    - repeatability from ≥ 2 repeated errors: s/√n (s the sample standard deviation);
    - any ``extra`` components (already standard uncertainties).

    Returns the combined standard uncertainty and the expanded one U = k·u_c (k = 2 by default)."""
    comps: list[UncertaintyComponent] = []
    if reference_class_pct is not None:
        comps.append(UncertaintyComponent(
            "reference standard", reference_class_pct / math.sqrt(3), "rectangular",
            f"class {reference_class_pct:g} %",
        ))
    if ref_pulses is not None:
        if ref_pulses <= 0:
            raise ValueError("ref_pulses must be positive")
        comps.append(UncertaintyComponent(
            "resolution", 100.0 / ref_pulses / math.sqrt(3), "rectangular", f"±1 of {ref_pulses:g} reference pulses"
        ))
    mean = None
    if len(repeats) >= 2:
        mean = statistics.fmean(repeats)
        s = statistics.stdev(repeats)
        comps.append(UncertaintyComponent(
            "repeatability", s / math.sqrt(len(repeats)), "normal", f"s = {s:.4g} % over {len(repeats)} repeats"
        ))
    elif len(repeats) == 1:
        mean = float(repeats[0])
    comps.extend(extra)
    combined = math.sqrt(sum(c.standard_pct**2 for c in comps))
    return UncertaintyBudget(tuple(comps), combined, coverage_factor, coverage_factor * combined, mean)


@dataclass(frozen=True)
class UncertaintyCheck:
    ok: bool
    #: U / limit
    ratio: float
    fraction: float
    provenance: Provenance | None


def uncertainty_adequate(
    expanded_pct: float,
    limit_pct: float,
    *,
    fraction: float | None = None,
    library: StandardsLibrary | None = None,
) -> UncertaintyCheck:
    """Acceptance inspection needs U ≤ 1/5 of the limit (IEC 62058-21 §4.3, from the library); pass
    ``fraction`` for another rule (in-service verification: 1/3)."""
    prov = None
    if fraction is None:
        found = (library or default_library()).condition(*UNCERTAINTY_RULE, "uncertainty_fraction", "", "any")
        if found is None:
            raise ValueError("the library has no uncertainty_fraction row; pass fraction")
        row, prov = found
        assert row.value is not None
        fraction = row.value
    ratio = expanded_pct / limit_pct
    return UncertaintyCheck(ratio <= fraction + _EPS_PCT, ratio, fraction, prov)
