"""What a set of life data says, in one call: Weibull fit (when it can be fitted), MTBF bounds, use-condition hours.

Used by plans (``reliability_analysis``: the failures of this run) and reports; pure computation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hil.reliability._check import positive, probability
from hil.reliability.lifedata import LifeData, is_cycles
from hil.reliability.mtbf import MtbfEstimate, estimate_mtbf
from hil.reliability.weibull import WeibullFit, fit_weibull

#: a two-parameter fit needs at least two failures (one failure leaves β undetermined)
MIN_FAILURES_FOR_FIT = 2
#: hours in a (Julian) year of use, 365.25 d
HOURS_PER_YEAR = 365.25 * 24.0


@dataclass(frozen=True)
class LifeSummary:
    """Life data at test conditions, and the same in use through ``acceleration_factor``.

    MTBF: time-terminated test (the sequence ran for its planned time), total unit-hours T = Σ hours on test,
    θ_L = 2T/χ²(CL; 2r+2) (standards.md §8). Use hours = test hours × AF (a constant-rate assumption for the
    MTBF; the Weibull B10 scales the same way if β does not change with stress — IEC 62059-31-1 checks that).

    Life in cycles (``data.unit`` thermal or power cycles): the same χ² bound on the mean cycles between failures
    (MCBF, T = Σ cycles on test) and the same fit, in cycles; the properties named ``…hours`` then hold cycles.
    Use cycles = test cycles × AF (Coffin–Manson, per cycle); ``use_cycles_per_day`` turns use cycles into use
    hours (× 24 / cycles per day) for an MTBF statement.
    """

    data: LifeData
    confidence: float
    acceleration_factor: float
    mtbf: MtbfEstimate
    fit: WeibullFit | None  # None: fewer than MIN_FAILURES_FOR_FIT failures
    fit_note: str
    use_cycles_per_day: float | None = None  # life in cycles only

    @property
    def unit(self) -> str:
        """The unit of life (``data.unit``)."""
        return self.data.unit

    @property
    def total_unit_hours(self) -> float:
        return float(self.data.hours.sum())

    @property
    def mtbf_lower_use_hours(self) -> float:
        return self.mtbf.lower_hours * self.acceleration_factor

    @property
    def b10_use_hours(self) -> float | None:
        return None if self.fit is None else self.fit.b10 * self.acceleration_factor

    @property
    def mtbf_lower_use_time_h(self) -> float | None:
        """Life in cycles with ``use_cycles_per_day``: the MCBF lower bound in use hours (use cycles × 24 / cycles
        per day), else None; life in hours: the MTBF lower bound in use hours."""
        if not is_cycles(self.unit):
            return self.mtbf_lower_use_hours
        if self.use_cycles_per_day is None:
            return None
        return self.mtbf_lower_use_hours / self.use_cycles_per_day * 24.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-able numbers. Life in hours: keys as ever (``total_unit_hours``, ``mtbf``, ``…_hours``); life in
        cycles: the same keys with ``hours`` → ``cycles`` and ``mtbf`` → ``mcbf``, plus, with
        ``use_cycles_per_day``, ``mtbf_lower_use_hours`` and ``mtbf_lower_use_years``. ``life_unit`` says which."""
        out = self._to_dict_hours()
        if not is_cycles(self.unit):
            return {"life_unit": self.unit, **out}
        use_h = self.mtbf_lower_use_time_h
        return {"life_unit": self.unit, **_in_cycles(out), "use_cycles_per_day": self.use_cycles_per_day,
                "mtbf_lower_use_hours": _num(use_h),
                "mtbf_lower_use_years": None if use_h is None else _num(use_h / HOURS_PER_YEAR)}

    def _to_dict_hours(self) -> dict[str, Any]:
        return {
            "units": self.data.n, "failures": self.data.failures, "censored": self.data.censored,
            "excluded": [{"unit": u, "why": w} for u, w in self.data.excluded],
            "total_unit_hours": self.total_unit_hours, "confidence": self.confidence,
            "acceleration_factor": self.acceleration_factor,
            "mtbf": self.mtbf.to_dict(),
            "mtbf_lower_use_hours": _num(self.mtbf_lower_use_hours),
            "weibull": None if self.fit is None else self.fit.to_dict(),
            "b10_use_hours": _num(self.b10_use_hours),
            "fit_note": self.fit_note,
        }


def _num(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _in_cycles(d: dict[str, Any]) -> dict[str, Any]:
    """The hours-named keys of a summary renamed for a life in cycles (``hours`` → ``cycles``, ``mtbf`` → ``mcbf``)."""
    return {k.replace("hours", "cycles").replace("mtbf", "mcbf"): _in_cycles(v) if isinstance(v, dict) else v
            for k, v in d.items()}


def summarise_life(data: LifeData, confidence: float = 0.9, acceleration_factor: float = 1.0,
                   use_cycles_per_day: float | None = None) -> LifeSummary:
    """Fit (with ≥ 2 failures), MTBF estimate and bounds, and the use-condition equivalents; ``use_cycles_per_day``
    (life in cycles only) converts use cycles into use hours."""
    cl = probability("confidence", confidence)
    af = positive("acceleration factor", acceleration_factor)
    if use_cycles_per_day is not None:
        if not is_cycles(data.unit):
            raise ValueError(f"use_cycles_per_day needs a life in cycles; this life data is in {data.unit}")
        positive("use cycles per day", use_cycles_per_day)
    fit: WeibullFit | None = None
    if data.failures >= MIN_FAILURES_FOR_FIT:
        fit = fit_weibull(data, cl)
        note = f"Weibull MLE with {data.censored} right-censored unit(s), likelihood-ratio bounds"
    else:
        note = (f"{data.failures} failure(s): a two-parameter Weibull fit needs at least {MIN_FAILURES_FOR_FIT}; "
                "the MTBF bound still holds")
    mtbf = estimate_mtbf(float(data.hours.sum()), data.failures, cl)
    return LifeSummary(data, cl, af, mtbf, fit, note, use_cycles_per_day)

