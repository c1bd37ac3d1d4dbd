"""What a set of life data says, in one call: Weibull fit (when it can be fitted), MTBF bounds, use-condition hours.

Used by plans (``reliability_analysis``: the failures of this run) and reports; pure computation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hil.reliability._check import positive, probability
from hil.reliability.lifedata import LifeData
from hil.reliability.mtbf import MtbfEstimate, estimate_mtbf
from hil.reliability.weibull import WeibullFit, fit_weibull

#: a two-parameter fit needs at least two failures (one failure leaves β undetermined)
MIN_FAILURES_FOR_FIT = 2


@dataclass(frozen=True)
class LifeSummary:
    """Life data at test conditions, and the same in use hours through ``acceleration_factor``.

    MTBF: time-terminated test (the sequence ran for its planned time), total unit-hours T = Σ hours on test,
    θ_L = 2T/χ²(CL; 2r+2) (standards.md §8). Use hours = test hours × AF (a constant-rate assumption for the
    MTBF; the Weibull B10 scales the same way if β does not change with stress — IEC 62059-31-1 checks that).
    """

    data: LifeData
    confidence: float
    acceleration_factor: float
    mtbf: MtbfEstimate
    fit: WeibullFit | None  # None: fewer than MIN_FAILURES_FOR_FIT failures
    fit_note: str

    @property
    def total_unit_hours(self) -> float:
        return float(self.data.hours.sum())

    @property
    def mtbf_lower_use_hours(self) -> float:
        return self.mtbf.lower_hours * self.acceleration_factor

    @property
    def b10_use_hours(self) -> float | None:
        return None if self.fit is None else self.fit.b10 * self.acceleration_factor

    def to_dict(self) -> dict[str, Any]:
        def num(x: float | None) -> float | None:
            return x if x is not None and math.isfinite(x) else None

        return {
            "units": self.data.n, "failures": self.data.failures, "censored": self.data.censored,
            "excluded": [{"unit": u, "why": w} for u, w in self.data.excluded],
            "total_unit_hours": self.total_unit_hours, "confidence": self.confidence,
            "acceleration_factor": self.acceleration_factor,
            "mtbf": self.mtbf.to_dict(),
            "mtbf_lower_use_hours": num(self.mtbf_lower_use_hours),
            "weibull": None if self.fit is None else self.fit.to_dict(),
            "b10_use_hours": num(self.b10_use_hours),
            "fit_note": self.fit_note,
        }


def summarise_life(data: LifeData, confidence: float = 0.9, acceleration_factor: float = 1.0) -> LifeSummary:
    """Fit (with ≥ 2 failures), MTBF estimate and bounds, and the use-condition equivalents."""
    cl = probability("confidence", confidence)
    af = positive("acceleration factor", acceleration_factor)
    fit: WeibullFit | None = None
    if data.failures >= MIN_FAILURES_FOR_FIT:
        fit = fit_weibull(data, cl)
        note = f"Weibull MLE with {data.censored} right-censored unit(s), likelihood-ratio bounds"
    else:
        note = (f"{data.failures} failure(s): a two-parameter Weibull fit needs at least {MIN_FAILURES_FOR_FIT}; "
                "the MTBF bound still holds")
    mtbf = estimate_mtbf(float(data.hours.sum()), data.failures, cl)
    return LifeSummary(data, cl, af, mtbf, fit, note)

