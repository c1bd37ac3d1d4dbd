"""The error measurement of an accuracy point, as every kind that measures errors declares it, and repeats.

Shared by the accuracy family, the checks around sequences and Python-module plans, so an error is held to its limit
in one way (:mod:`hil.core.measurement` decides; this module only says what was measured)."""

from __future__ import annotations

import statistics

from hil.core.measurement import Measurement
from hil.core.steps import PositionOutcome
from hil.standards import uncertainty_budget


def error_measurement(o: PositionOutcome, limit_pct: float, rule: str, conditional_pass: str = "fail",
                      suffix: str = "") -> Measurement:
    """The meter's error (%) held to ±``limit_pct`` under the plan's decision rule (simple, or guard band per
    ILAC-G8:09/2019 with w = U) with the acceptance-inspection check U ≤ limit/5 (IEC 62058-21 §4.3)."""
    return Measurement.within("error", o.error_pct, limit_pct, "%", uncertainty=o.extra.get("uncertainty_pct"),
                              rule=rule, conditional_pass=conditional_pass, suffix=suffix)


def combine_repeats(per: list[PositionOutcome], reference_accuracy_pct: float | None) -> PositionOutcome:
    """One outcome from repeated measurements of a position (mean error, spread, GUM budget with the
    repeatability s/√n): any missing result makes it broken."""
    missing = [o for o in per if o.error_pct is None]
    if missing:
        return missing[0]
    errors = [float(o.error_pct) for o in per if o.error_pct is not None]
    n_ref = min(o.n_ref for o in per)
    budget = uncertainty_budget(reference_class_pct=reference_accuracy_pct, ref_pulses=n_ref or None,
                                repeats=errors if len(errors) > 1 else ())
    last = per[-1]
    extra = dict(last.extra)
    extra["uncertainty_pct"] = round(budget.expanded_pct, 6)
    extra["repeats"] = len(errors)
    if len(errors) > 1:
        extra["spread_pct"] = round(statistics.stdev(errors), 6)
    return PositionOutcome(last.position, last.serial, sum(o.mut_pulses for o in per), n_ref,
                           statistics.fmean(errors), sum(o.duration_s for o in per), None, "", extra)
