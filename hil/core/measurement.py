"""Named measurements with their limits, and the one place a verdict is decided.

A step declares, per position, what it measured — a :class:`Measurement`: quantity, value, unit, lower/upper limit,
expanded uncertainty and the decision rule — and :func:`judge` decides the verdict (pass / fail / broken) the same
way for every kind, in the spirit of OpenHTF's measurements with validators:

- a symmetric limit ±L: the plan's decision rule (``simple``, or ``guard_band`` per ILAC-G8:09/2019 with w = U,
  ``hil.standards.decide``), and the acceptance-inspection check U ≤ L/5 (IEC 62058-21 §4.3, noted in the reason);
- a one-sided limit (``lower`` or ``upper`` only, e.g. a pulse count): value ≥ lower / value ≤ upper;
- a boolean (a condition the meter must meet): pass when True;
- no limit: recorded, pass.

Measurements are judged in order: the first that fails decides (its reason is the row's), a missing value before
any failure makes the result broken; when all pass the last one is the row's primary measurement.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hil.standards import Outcome, decide, uncertainty_adequate

#: acceptance inspection: U ≤ 1/5 of the limit (IEC 62058-21 §4.3, standards.md §6)
UNCERTAINTY_FRACTION = 0.2
_FOR_BOOL = {True: "pass", False: "fail"}


@dataclass
class Measurement:
    """``text``: the kind's own wording of what was measured, given whether it passed (replaces the generic
    phrase); ``suffix``: appended to the reason; ``remedy``: what to do when U exceeds 1/5 of the limit."""

    name: str
    value: float | bool | None
    unit: str = ""
    lower: float | None = None
    upper: float | None = None
    uncertainty: float | None = None
    rule: str = "simple"
    conditional_pass: str = "fail"
    digits: int = 4
    text: str | Callable[[bool], str] | None = None
    suffix: str = ""
    remedy: str = ""
    #: hold the uncertainty to 1/5 of the limit (acceptance inspection); off where that rule does not apply
    check_uncertainty: bool = True

    @classmethod
    def within(cls, name: str, value: float | None, limit: float, unit: str = "%", **kw: Any) -> Measurement:
        """A value held to ±``limit``."""
        return cls(name, value, unit, -limit, limit, **kw)

    def columns(self) -> dict[str, Any]:
        """The row's measurement columns (results table, hil.results.MEASUREMENT_COLUMNS)."""
        v = self.value
        # a condition (bool) has no value of its own: its quantity and the verdict say it
        number = None if isinstance(v, bool) or v is None else float(v)
        return {"quantity": self.name, "value": number,
                "unit": self.unit, "lower_limit": self.lower, "upper_limit": self.upper,
                "value_uncertainty": self.uncertainty}


@dataclass(frozen=True)
class Judgement:
    verdict: str  # pass | fail | broken
    reason: str
    #: the decision rule's outcome (pass | fail | conditional pass | conditional fail); None where no decision rule
    #: applies (one-sided limits, conditions, missing values)
    outcome: str | None = None
    uncertainty_adequate: bool | None = None


def _phrase(m: Measurement, passed: bool, generic: str) -> str:
    if m.text is None:
        return generic
    return m.text(passed) if callable(m.text) else m.text


def _symmetric(m: Measurement, value: float, limit: float) -> Judgement:
    u = m.uncertainty
    d = decide(value, limit, u, m.rule)  # type: ignore[arg-type]
    unit = f" {m.unit}" if m.unit else ""
    err, lim = f"{m.name} {value:+.{m.digits}f}{unit}", f"±{limit:g}{unit}"
    if d.rule != "guard_band":
        verdict = "pass" if d.passed else "fail"
        why = f"{err} {'within' if d.passed else 'outside'} {lim} ({d.outcome.value}, {d.rule})"
    else:
        assert u is not None
        uu = f"U {u:.3g}{unit}"
        if d.outcome is Outcome.PASS:
            verdict, why = "pass", f"{err} within {lim} with {uu} inside the limit: pass (guard band, ILAC-G8)"
        elif d.outcome is Outcome.CONDITIONAL_PASS:
            verdict = "pass" if m.conditional_pass == "pass" else "fail"
            why = (f"{err} within {lim} but {uu} reaches the limit: conditional pass, "
                   + ("accepted as the plan allows (measure.conditional_pass: pass; ILAC-G8)" if verdict == "pass"
                      else "rejected under guard-banded acceptance (ILAC-G8)"))
        elif d.outcome is Outcome.CONDITIONAL_FAIL:
            verdict, why = "fail", f"{err} outside {lim} but within {uu} of the limit: conditional fail (ILAC-G8)"
        else:
            verdict, why = "fail", f"{err} outside {lim} by more than {uu}: fail (guard band, ILAC-G8)"
    why = _phrase(m, verdict == "pass", why)
    adequate = None
    if u is not None and m.check_uncertainty:
        adequate = uncertainty_adequate(u, limit, fraction=UNCERTAINTY_FRACTION).ok
        if not adequate:
            why += (f"; uncertainty {u:.3g}{unit} exceeds 1/5 of the limit"
                    + (f": {m.remedy} (IEC 62058-21 §4.3)" if m.remedy else " (IEC 62058-21 §4.3)"))
    return Judgement(verdict, why + m.suffix, d.outcome.value, adequate)


def judge_one(m: Measurement) -> Judgement:
    """The verdict of one measurement (see the module doc)."""
    unit = f" {m.unit}" if m.unit else ""
    if m.value is None:
        return Judgement("broken", _phrase(m, False, f"{m.name}: not measured") + m.suffix)
    if isinstance(m.value, bool):
        ok = m.value
        return Judgement(_FOR_BOOL[ok], _phrase(m, ok, f"{m.name}: {'yes' if ok else 'no'}") + m.suffix)
    value = float(m.value)
    if m.lower is not None and m.upper is not None and abs(m.lower + m.upper) <= 1e-12 * max(1.0, abs(m.upper)):
        return _symmetric(m, value, m.upper)
    ok = (m.lower is None or value >= m.lower) and (m.upper is None or value <= m.upper)
    bounds = " and ".join(b for b in (f"≥ {m.lower:g}{unit}" if m.lower is not None else "",
                                      f"≤ {m.upper:g}{unit}" if m.upper is not None else "") if b)
    generic = (f"{m.name} {value:g}{unit} ({'within' if ok else 'outside'} {bounds})" if bounds
               else f"{m.name} {value:g}{unit} (recorded, no limit)")
    return Judgement(_FOR_BOOL[ok], _phrase(m, ok, generic) + m.suffix)


def judge(measurements: list[Measurement]) -> tuple[Judgement, Measurement | None]:
    """The verdict of a position's measurements and the one that decided it (see the module doc)."""
    if not measurements:
        return Judgement("broken", "the step declared no measurement"), None
    last: Judgement | None = None
    for m in measurements:
        last = judge_one(m)
        if last.verdict != "pass":
            return last, m
    assert last is not None
    return last, measurements[-1]
