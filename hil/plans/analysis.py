"""Plan kind ``reliability_analysis``: the failures of this run's sequences as life data, analysed.

    - id: life
      kind: reliability_analysis
      of: [burn_in_70c]            # default: every sequence test before it
      confidence: 0.9
      acceleration: {model: arrhenius, activation_energy_ev: 0.7, use_temperature_c: 30}
      target_mtbf_h: 50000         # optional verdict on the MTBF lower bound in use hours

Each meter of the analysed sequences is a unit: failed at its failure time (sequence hours), or right-censored at
the sequence's length; broken rows are left out (and listed). The acceleration factor is resolved when the plan is
collected, so a missing condition is refused before anything is energised.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hil.plans.model import Plan, ReliabilityAnalysisTest
from hil.reliability import arrhenius_af, peck_af
from hil.reliability.summary import LifeSummary, summarise_life
from hil.sequences.model import SequenceTest
from hil.values import jsonable


class AnalysisError(ValueError):
    """The analysis cannot be set up from this plan (refused at collection)."""


@dataclass(frozen=True)
class Acceleration:
    factor: float
    text: str  # how it was computed, for people


def analysed_tests(test: ReliabilityAnalysisTest, plan: Plan) -> list[SequenceTest]:
    ids = test.of
    seqs: list[SequenceTest] = []
    for t in plan.tests:
        if t.id == test.id:
            break
        if isinstance(t, SequenceTest) and (ids is None or t.id in ids):
            seqs.append(t)
    return seqs


def _condition(tests: list[SequenceTest], name: str, what: str, analysis: str) -> float | None:
    values = {getattr(t, name) for t in tests if getattr(t, name, None) is not None}
    if len(values) > 1:
        raise AnalysisError(f"test {analysis!r}: the analysed sequences differ in {what} ({sorted(values)}): "
                            f"give acceleration.test_{name}")
    return float(values.pop()) if values else None


def acceleration_of(test: ReliabilityAnalysisTest, plan: Plan) -> Acceleration:
    """The test → use acceleration factor (1 without an ``acceleration`` option)."""
    a = test.acceleration
    if a is None:
        return Acceleration(1.0, "none: hours at test conditions")
    seqs = analysed_tests(test, plan)
    t_test = a.test_temperature_c if a.test_temperature_c is not None else \
        _condition(seqs, "temperature_c", "temperature", test.id)
    if t_test is None:
        raise AnalysisError(f"test {test.id!r}: the analysed sequences have no single test temperature: "
                            "give acceleration.test_temperature_c")
    if a.model == "arrhenius":
        af = arrhenius_af(a.activation_energy_ev, a.use_temperature_c, t_test)
        return Acceleration(af, f"Arrhenius Ea {a.activation_energy_ev:g} eV, {a.use_temperature_c:g} → "
                                f"{t_test:g} °C: AF {af:.4g}")
    rh_test = a.test_humidity_pct if a.test_humidity_pct is not None else \
        _condition(seqs, "humidity_pct", "humidity", test.id)
    if rh_test is None:
        raise AnalysisError(f"test {test.id!r}: the analysed sequences have no test humidity: "
                            "give acceleration.test_humidity_pct")
    assert a.use_humidity_pct is not None  # the model validator requires it for Peck
    af = peck_af(a.use_humidity_pct, rh_test, a.use_temperature_c, t_test, ea_ev=a.activation_energy_ev,
                 n=a.humidity_exponent)
    return Acceleration(af, f"Peck Ea {a.activation_energy_ev:g} eV, n {a.humidity_exponent:g}, "
                            f"{a.use_temperature_c:g} °C/{a.use_humidity_pct:g} %RH → {t_test:g} °C/{rh_test:g} %RH: "
                            f"AF {af:.4g}")


@dataclass(frozen=True)
class AnalysisOutcome:
    summary: LifeSummary
    passed: bool | None  # None: no target, report only
    reason: str

    def to_dict(self, test: ReliabilityAnalysisTest, acceleration: Acceleration) -> dict[str, Any]:
        return {"test_id": test.id, "of": test.of, "target_mtbf_h": test.target_mtbf_h,
                "acceleration": acceleration.text, "passed": self.passed, "reason": self.reason,
                **self.summary.to_dict()}


def analyse(results: Any, test: ReliabilityAnalysisTest, plan: Plan, acceleration: Acceleration) -> AnalysisOutcome:
    """Analyse the result rows (a DataFrame of this run) of the sequences ``test`` names."""
    from hil.reliability.lifedata import life_data_from_results

    ids = [t.id for t in analysed_tests(test, plan)]
    data = life_data_from_results(results, tests=ids)
    s = summarise_life(data, test.confidence, acceleration.factor)
    cl = f"{test.confidence * 100:g} %"
    text = (f"{data.n} units, {data.failures} failed, {s.total_unit_hours:.1f} unit-hours at test conditions; "
            f"MTBF ≥ {_h(s.mtbf.lower_hours)} at test conditions ({cl}, χ² {s.mtbf.dof} dof), "
            f"≥ {_h(s.mtbf_lower_use_hours)} in use ({acceleration.text})")
    if s.fit is not None:
        text += f"; Weibull β {s.fit.beta:.3g}, η {s.fit.eta:.4g} h, B10 {s.fit.b10:.4g} h"
    if test.target_mtbf_h is None:
        return AnalysisOutcome(s, None, text + "; no target: report only")
    ok = s.mtbf_lower_use_hours >= test.target_mtbf_h
    verdict = "demonstrated" if ok else "NOT demonstrated"
    return AnalysisOutcome(s, ok, text + f"; target {test.target_mtbf_h:g} h {verdict}")


def _h(x: float) -> str:
    return f"{x:.4g} h" if math.isfinite(x) else "∞"


def write_analysis(run_dir: Path, test: ReliabilityAnalysisTest, acceleration: Acceleration,
                   outcome: AnalysisOutcome) -> Path:
    path = run_dir / f"reliability_{test.id}.json"
    path.write_text(json.dumps(jsonable(outcome.to_dict(test, acceleration)), indent=2, ensure_ascii=False),
                    encoding="utf-8")
    return path

