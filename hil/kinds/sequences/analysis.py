"""Plan kind ``reliability_analysis``: the failures of this run's sequences as life data, analysed.

    - id: life
      kind: reliability_analysis
      of: [burn_in_70c]            # default: every sequence test before it
      confidence: 0.9
      acceleration: {model: arrhenius, activation_energy_ev: 0.7, use_temperature_c: 30}
      target_mtbf_h: 50000         # optional verdict on the MTBF lower bound in use hours

Each meter of the analysed sequences is a unit: failed at its failure time (sequence hours), or right-censored at
the sequence's length; broken rows are left out (and listed). Thermal cycling counts life in thermal cycles and
power cycling in power cycles (:func:`hil.kinds.sequences.task.life_unit`): failed at the cycle it failed in, survivors
censored at the cycles run; their acceleration is Coffin–Manson (per cycle), and ``use_cycles_per_day`` states the
bound in use hours. The unit and the acceleration factor are resolved when the plan is collected, so a missing
condition, a model that does not fit the unit or sequences in different units are refused (file, line, field)
before anything is energised.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hil.core.plan import Plan
from hil.kinds.sequences.analysis_model import AccelerationOption, ReliabilityAnalysisTest
from hil.kinds.sequences.model import SequenceTest, ThermalCyclingTest
from hil.kinds.sequences.task import life_unit
from hil.reliability import COFFIN_MANSON_N_SNPB, HOURS, arrhenius_af, coffin_manson_af, peck_af
from hil.reliability.lifedata import is_cycles, unit_word
from hil.reliability.summary import HOURS_PER_YEAR, LifeSummary, summarise_life
from hil.values import jsonable
from instruments.yamlconfig import ConfigError, error_at


class AnalysisError(ValueError):
    """The analysis cannot be set up from this plan (refused at collection); ``field``: the key of the analysis
    test it is about (e.g. ``("acceleration", "model")``)."""

    def __init__(self, message: str, field: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.field = field

    def located(self, path: str | Path, plan: Plan, test: ReliabilityAnalysisTest) -> ConfigError:
        """The same error naming the plan file, the line and the field."""
        return error_at(path, ("tests", plan.tests.index(test), *self.field), str(self))


@dataclass(frozen=True)
class Acceleration:
    factor: float
    text: str  # how it was computed, for people
    unit: str = HOURS  # the life unit of the analysed sequences (hil.reliability.lifedata.LIFE_UNITS)


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
                            f"give acceleration.test_{name}", ("acceleration",))
    return float(values.pop()) if values else None


def _unit(test: ReliabilityAnalysisTest, seqs: list[SequenceTest]) -> str:
    """The one life unit of the analysed sequences; sequences in different units are refused."""
    units = {t.id: life_unit(t) for t in seqs}
    if len(set(units.values())) > 1:
        each = ", ".join(f"{t.id!r} ({t.kind}) in {unit_word(units[t.id])}" for t in seqs)
        raise AnalysisError(f"test {test.id!r}: the analysed sequences count life in different units ({each}): "
                            "analyse them separately (one reliability_analysis each, with of: [...])", ("of",))
    return next(iter(units.values()), HOURS)


def _check_options(test: ReliabilityAnalysisTest, unit: str) -> None:
    if is_cycles(unit):
        if test.target_mtbf_h is not None and test.use_cycles_per_day is None:
            raise AnalysisError(f"test {test.id!r}: the analysed sequences count life in {unit}: target_mtbf_h "
                                "needs use_cycles_per_day (or give target_mcbf_cycles)", ("target_mtbf_h",))
        return
    for name in ("use_cycles_per_day", "target_mcbf_cycles"):
        if getattr(test, name) is not None:
            raise AnalysisError(f"test {test.id!r}: {name} is for a life in cycles; the analysed sequences count "
                                "life in hours", (name,))


def acceleration_of(test: ReliabilityAnalysisTest, plan: Plan) -> Acceleration:
    """The life unit and the test → use acceleration factor (1 without an ``acceleration`` option)."""
    seqs = analysed_tests(test, plan)
    unit = _unit(test, seqs)
    _check_options(test, unit)
    a = test.acceleration
    if a is None:
        return Acceleration(1.0, f"none: {unit_word(unit)} at test conditions", unit)
    if a.model == "coffin_manson":
        return _coffin_manson(test, a, seqs, unit)
    if is_cycles(unit):
        kinds = ", ".join(sorted({t.kind for t in seqs}))
        raise AnalysisError(f"test {test.id!r}: {a.model} accelerates time at a steady temperature, but the analysed "
                            f"sequences ({kinds}) count life in {unit}: use model coffin_manson",
                            ("acceleration", "model"))
    assert a.use_temperature_c is not None  # the model validator requires it for Arrhenius and Peck
    t_test = a.test_temperature_c if a.test_temperature_c is not None else \
        _condition(seqs, "temperature_c", "temperature", test.id)
    if t_test is None:
        raise AnalysisError(f"test {test.id!r}: the analysed sequences have no single test temperature: "
                            "give acceleration.test_temperature_c", ("acceleration",))
    if a.model == "arrhenius":
        af = arrhenius_af(a.activation_energy_ev, a.use_temperature_c, t_test)
        return Acceleration(af, f"Arrhenius Ea {a.activation_energy_ev:g} eV, {a.use_temperature_c:g} → "
                                f"{t_test:g} °C: AF {af:.4g}")
    rh_test = a.test_humidity_pct if a.test_humidity_pct is not None else \
        _condition(seqs, "humidity_pct", "humidity", test.id)
    if rh_test is None:
        raise AnalysisError(f"test {test.id!r}: the analysed sequences have no test humidity: "
                            "give acceleration.test_humidity_pct", ("acceleration",))
    assert a.use_humidity_pct is not None  # the model validator requires it for Peck
    af = peck_af(a.use_humidity_pct, rh_test, a.use_temperature_c, t_test, ea_ev=a.activation_energy_ev,
                 n=a.humidity_exponent)
    return Acceleration(af, f"Peck Ea {a.activation_energy_ev:g} eV, n {a.humidity_exponent:g}, "
                            f"{a.use_temperature_c:g} °C/{a.use_humidity_pct:g} %RH → {t_test:g} °C/{rh_test:g} %RH: "
                            f"AF {af:.4g}")


def _coffin_manson(test: ReliabilityAnalysisTest, a: AccelerationOption, seqs: list[SequenceTest],
                   unit: str) -> Acceleration:
    """Coffin–Manson per cycle, AF = (ΔT_test/ΔT_use)^n (standards.md §8): the test swing defaults to the analysed
    thermal cycling's high_c − low_c; a power cycle has no swing of its own in the plan (give test_delta_t_k)."""
    if not is_cycles(unit):
        kinds = ", ".join(sorted({t.kind for t in seqs}))
        raise AnalysisError(f"test {test.id!r}: Coffin–Manson is per temperature cycle, but the analysed sequences "
                            f"({kinds}) count life in hours: use arrhenius or peck", ("acceleration", "model"))
    dt_test = a.test_delta_t_k
    if dt_test is None:
        swings = {t.high_c - t.low_c for t in seqs if isinstance(t, ThermalCyclingTest)}
        if len(swings) > 1:
            raise AnalysisError(f"test {test.id!r}: the analysed thermal cyclings differ in their swing "
                                f"({', '.join(f'{x:g} K' for x in sorted(swings))}): give acceleration.test_delta_t_k",
                                ("acceleration",))
        if not swings:
            raise AnalysisError(f"test {test.id!r}: a power cycle has no temperature swing in the plan: give "
                                "acceleration.test_delta_t_k (the swing a power cycle causes in the part, K)",
                                ("acceleration",))
        dt_test = swings.pop()
    assert a.use_delta_t_k is not None  # the model validator requires it for Coffin–Manson
    n = a.exponent if a.exponent is not None else COFFIN_MANSON_N_SNPB
    source = "" if a.exponent is not None else " (SnPb solder, standards.md §8)"
    af = coffin_manson_af(a.use_delta_t_k, dt_test, n=n)
    return Acceleration(af, f"Coffin–Manson n {n:g}{source}, ΔT {a.use_delta_t_k:g} K in use → {dt_test:g} K per "
                            f"test cycle: AF {af:.4g}", unit)


@dataclass(frozen=True)
class AnalysisOutcome:
    summary: LifeSummary
    passed: bool | None  # None: no target, report only
    reason: str

    def to_dict(self, test: ReliabilityAnalysisTest, acceleration: Acceleration) -> dict[str, Any]:
        targets: dict[str, Any] = {"target_mtbf_h": test.target_mtbf_h}
        if is_cycles(acceleration.unit):
            targets["target_mcbf_cycles"] = test.target_mcbf_cycles
        return {"test_id": test.id, "of": test.of, **targets, "acceleration": acceleration.text,
                "passed": self.passed, "reason": self.reason, **self.summary.to_dict()}


def analyse(results: Any, test: ReliabilityAnalysisTest, plan: Plan, acceleration: Acceleration) -> AnalysisOutcome:
    """Analyse the result rows (a DataFrame of this run) of the sequences ``test`` names."""
    from hil.reliability.lifedata import life_data_from_results

    ids = [t.id for t in analysed_tests(test, plan)]
    data = life_data_from_results(results, tests=ids, unit=acceleration.unit)
    s = summarise_life(data, test.confidence, acceleration.factor,
                       test.use_cycles_per_day if is_cycles(data.unit) else None)
    if is_cycles(data.unit):
        return _verdict_cycles(test, s, _text_cycles(test, s, acceleration))
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


def _text_cycles(test: ReliabilityAnalysisTest, s: LifeSummary, acceleration: Acceleration) -> str:
    u, data = s.unit, s.data
    text = (f"life in {u}: {data.n} units, {data.failures} failed, {s.total_unit_hours:g} {u} on test in total; "
            f"mean {u} between failures ≥ {_life(s.mtbf.lower_hours, u)} at test conditions "
            f"({test.confidence * 100:g} %, χ² {s.mtbf.dof} dof), ≥ {_life(s.mtbf_lower_use_hours, u)} in use "
            f"({acceleration.text})")
    use_h = s.mtbf_lower_use_time_h
    if use_h is not None and s.use_cycles_per_day is not None:
        text += (f", i.e. MTBF ≥ {_h(use_h)} = {use_h / HOURS_PER_YEAR:.3g} years in use at {s.use_cycles_per_day:g} "
                 f"{u} a day")
    if s.fit is not None:
        text += f"; Weibull β {s.fit.beta:.3g}, η {_life(s.fit.eta, u)}, B10 {_life(s.fit.b10, u)}"
    return text


def _verdict_cycles(test: ReliabilityAnalysisTest, s: LifeSummary, text: str) -> AnalysisOutcome:
    if test.target_mcbf_cycles is not None:
        ok = s.mtbf_lower_use_hours >= test.target_mcbf_cycles  # use cycles
        target = f"target {test.target_mcbf_cycles:g} {s.unit} between failures"
    elif test.target_mtbf_h is not None:
        use_h = s.mtbf_lower_use_time_h
        assert use_h is not None  # collection requires use_cycles_per_day with target_mtbf_h
        ok = use_h >= test.target_mtbf_h
        target = f"target MTBF {test.target_mtbf_h:g} h in use"
    else:
        return AnalysisOutcome(s, None, text + "; no target: report only")
    return AnalysisOutcome(s, ok, text + f"; {target} {'demonstrated' if ok else 'NOT demonstrated'}")


def _h(x: float) -> str:
    return f"{x:.4g} h" if math.isfinite(x) else "∞"


def _life(x: float, unit: str) -> str:
    return f"{x:.4g} {unit}" if math.isfinite(x) else "∞"


def write_analysis(run_dir: Path, test: ReliabilityAnalysisTest, acceleration: Acceleration,
                   outcome: AnalysisOutcome) -> Path:
    path = run_dir / f"reliability_{test.id}.json"
    path.write_text(json.dumps(jsonable(outcome.to_dict(test, acceleration)), indent=2, ensure_ascii=False),
                    encoding="utf-8")
    return path

