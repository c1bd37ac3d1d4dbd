"""Accuracy checks before, during and after a sequence, and the limit on each meter's error shift (issue 5 item 3).

A sequence test with ``checks`` expands into tasks, in run order (each task × position is a pytest item):

1. ``<id>.before`` — one per check point, measured before the chamber profile starts (chamber at its start
   temperature): ordinary accuracy measurements (same runner, limits from the standards library with their
   provenance, uncertainty budget, decision rule);
2. the sequence itself; ``during_every_h`` pauses it after every that many hours of (nominal) soak time and
   measures the points there (:class:`SessionDuringChecks`, run by the sequence runner; a check still due when
   the profile's last soak ends is measured at that end); the outcomes and the chamber temperature wait in the
   checkpoint until
3. ``<id>.during_<h>h`` — one task per check and point — writes them as rows, judged at the check's chamber
   temperature (:func:`judge_during`: reference limit + temperature-coefficient limit, the MID band's MPE, or
   no verdict outside the specified operating range);
4. ``<id>.after`` — after the end ramp (back at the end temperature);
5. ``<id>.shift`` — per point, each meter's shift = error after − error before, judged against
   ``max_shift_pct``, uncertainty √(U_before² + U_after²) (uncorrelated: two measurements, days apart).

Where the shift limit comes from: reference/standards.md has no table of error shifts after a stress test, and
the influence tables of hil/standards (IEC 62053-21 "limits of variation in percentage error") bound the error
*while* an influence quantity is applied, not a change over a sequence. So the limit is the plan's value, and the
shift rows say so: ``limit_table`` "plan", ``limit_status`` "lab".

Checks during a soak are not at reference conditions: at +70 °C a class 1 meter may move by its temperature
coefficient, up to 0.05 %/K × 47 K ≈ 2.35 % (IEC 62053-21 limits of variation, reference/standards.md §4). So a
check during the sequence is judged against the reference-condition limit + the temperature-coefficient limit ×
|T_chamber − 23 °C| (T_chamber read when the check starts; the coefficient from the influence table of the
standards library, its provenance in ``limit_table``/``limit_status`` and the reason). The limits of variation
hold only inside the meter's specified operating range (IEC 62052-11, reference/standards.md §7, status U;
:mod:`hil.standards.operating`, plan option ``checks.operating_range`` indoor / outdoor): at a chamber temperature
outside it (e.g. +70 °C for an indoor meter, −10…+45 °C) the standard gives no limit, and the check is recorded
without a verdict (``skipped``, measured values kept), as it is where the library has no temperature-coefficient
row for a point. MID meters (EN 50470-3) need no coefficient: MI-003 Table 2 gives the MPE per ambient temperature
band, so the check is judged against the band holding the chamber temperature (:func:`judge_during`).

Resume: before/after/shift rows are results rows (a completed task is reused, not measured again); a check during
the sequence is recorded in the checkpoint as completed with its outcomes, so it is not repeated either.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from hil.core import Measurement, PlanError, PointSpec, PositionOutcome, RunContext, Step
from hil.core.chunks import Checkpoint
from hil.kinds.sequences.model import ChecksOptions, SequenceTest
from hil.kinds.sequences.profile import Soak, steps_of
from hil.measure.accuracy import runner_of
from hil.measure.decision import combine_repeats, error_measurement
from hil.measure.pulse_outputs import pulse_outputs
from hil.standards import (
    MeterRating,
    PowerFactor,
    StandardsError,
    StandardsLibrary,
    decide,
    influence_limit,
    limit_for,
)
from hil.standards import environmental as env
from hil.standards.model import AccuracyTable, TemperatureBand
from hil.standards.operating import DEFAULT_ENVIRONMENT, operating_ranges
from hil.values import finite_or_none

if TYPE_CHECKING:
    from hil.core.plan import Plan

#: provenance of the shift limit: the plan's own value (no standard table applies, see the module doc)
SHIFT_LIMIT_TABLE = "plan"
SHIFT_LIMIT_STATUS = "lab"
CHECK_KIND = "check"
SHIFT_KIND = "shift"


class CheckNotMeasured(RuntimeError):
    """A check during the sequence has no outcome: the sequence stopped before it."""


class DuringChecks(Protocol):
    """What the sequence runner needs to pause for checks (:class:`hil.kinds.sequences.runner.SequenceRunner`)."""

    @property
    def every_s(self) -> float: ...

    @property
    def count(self) -> int: ...

    def label(self, k: int) -> str: ...

    def measure(self, k: int, temperature_c: float) -> dict[str, list[dict[str, Any]]]: ...


@dataclass(frozen=True)
class TemperatureCoefficient:
    """The temperature-coefficient limit (%/K) of a check point, with where it comes from."""

    pct_per_k: float
    standard: str
    table: str
    row: str
    status: str

    def label(self) -> str:
        return f"{self.standard} {self.table}, row {self.row} ({self.status})"


@dataclass(frozen=True)
class DuringPlan:
    """The checks during a sequence, as expanded (kept in the sequence task's params)."""

    every_h: float
    count: int
    specs: tuple[PointSpec, ...]
    repeats: int


_STATUS_ORDER = ("confirmed", "derived", "unconfirmed")


def _weakest(*statuses: str) -> str:
    """The least certain of the statuses (an unknown one counts as least certain)."""
    return max(statuses, key=lambda s: _STATUS_ORDER.index(s) if s in _STATUS_ORDER else len(_STATUS_ORDER))


def temperature_coefficient(rating: MeterRating, spec: PointSpec,
                            library: StandardsLibrary) -> TemperatureCoefficient | None:
    """The temperature-coefficient limit at a check point from the library's influence table (IEC 62053-21
    limits of variation, mean temperature coefficient: reference/standards.md §4); None where the library has none
    (no table, class or current not covered)."""
    try:
        lim = influence_limit(rating, "temperature", spec.current_a, spec.pf, library)
    except StandardsError:
        return None
    if lim.unit != "%/K":
        return None
    p = lim.provenance
    return TemperatureCoefficient(lim.limit, f"{p.standard}:{p.edition}", p.table, p.row, p.status)


@dataclass(frozen=True)
class DuringLimit:
    """The limit of a check during a soak: reference limit + coefficient × |T − T_ref|, with its provenance."""

    limit_pct: float
    limit_table: str
    limit_status: str
    note: str


def during_limit(spec: PointSpec, tc: TemperatureCoefficient, temperature_c: float) -> DuringLimit:
    """IEC 62053-21 limits of variation (reference/standards.md §4): the error may move by the mean temperature
    coefficient × the distance from the reference temperature, so the reference-condition limit is widened by
    ``tc`` × |T − 23 °C|."""
    ref = env.REFERENCE_TEMPERATURE_C
    dt = abs(temperature_c - ref.value)
    limit = spec.limit_pct + tc.pct_per_k * dt
    note = (f"limit at {temperature_c:.1f} °C: ±{spec.limit_pct:g} % (reference conditions) + {tc.pct_per_k:g} %/K"
            f" × |{temperature_c:.1f} − {ref.value:g}| K (temperature coefficient limit, {tc.label()}; reference "
            f"temperature {ref.label()}) = ±{limit:.4g} %")
    return DuringLimit(round(limit, 6), f"{spec.limit_table} + temperature coefficient ({tc.table}, row {tc.row})",
                       _weakest(spec.limit_status, tc.status, ref.status), note)


@dataclass(frozen=True)
class DuringSkip:
    """A check during the sequence that is recorded without a verdict, and why."""

    reason: str


_STATUS_LETTER = {"confirmed": "C", "derived": "D", "unconfirmed": "U"}


def _temp(temperature_c: float, fmt: str = "+.1f") -> str:
    """+70.0, −12.5 (typographic minus, as the standards print temperatures)."""
    return format(temperature_c, fmt).replace("-", "−")


def _no_limit(temperature_c: float, outside: str, source: str) -> str:
    return (f"{_temp(temperature_c)} °C is outside {outside} ({source}): the standard gives no limit there; the "
            "check is recorded without a verdict")


def _bands(rating: MeterRating, library: StandardsLibrary) -> list[TemperatureBand]:
    """The ambient temperature bands of the rating's accuracy tables (MID, MI-003 Table 2); empty for tables
    limited at reference conditions (IEC 62053-21/22)."""
    out: list[TemperatureBand] = []
    for t in library.accuracy_tables(rating.standard, rating.edition):
        assert isinstance(t.table, AccuracyTable)
        out.extend(t.table.temperature_bands)
    return out


def band_limit(spec: PointSpec, rating: MeterRating, library: StandardsLibrary, temperature_c: float,
               bands: list[TemperatureBand]) -> DuringLimit | DuringSkip:
    """MID (Directive 2014/32/EU Annex V, MI-003 Table 2, reference/standards.md §3): the maximum permissible
    error is given per ambient temperature band, so a check during a soak is judged against the MPE of the band
    holding the chamber temperature (:func:`hil.standards.limit_for` with ``temperature_c``)."""
    try:
        row = limit_for(rating, spec.current_a, spec.pf, None, temperature_c=temperature_c, library=library)
    except StandardsError as exc:
        if any(b.contains(temperature_c) for b in bands):
            return DuringSkip(f"recorded, not judged: {exc}")
        low = min(lo for b in bands for lo, _ in b.ranges_c)
        high = max(hi for b in bands for _, hi in b.ranges_c)
        span = f"every temperature band of the table, {_temp(low, '+g')}…{_temp(high, '+g')} °C"
        return DuringSkip(_no_limit(temperature_c, span, f"{rating.standard}:{rating.edition}"))
    p = row.provenance
    band = next((b for b in bands if b.id == row.row.temperature_band), None)
    where = f"band {band.note or band.id}" if band is not None else "no temperature band"
    note = (f"limit at {temperature_c:.1f} °C: ±{row.limit_pct:g} % ({p.standard}:{p.edition} {p.table}, row "
            f"{p.row}, {where}; {p.status})")
    return DuringLimit(row.limit_pct, f"{p.table} ({where})", p.status, note)


def judge_during(spec: PointSpec, rating: MeterRating, library: StandardsLibrary, temperature_c: float,
                 environment: str = DEFAULT_ENVIRONMENT) -> DuringLimit | DuringSkip:
    """The limit of a check during the sequence at chamber temperature ``temperature_c``, or why it has none.

    - accuracy table with temperature bands (MID): the band's MPE (:func:`band_limit`);
    - otherwise (IEC 62053-21/22): outside the meter's specified operating range (IEC 62052-11, reference/
      standards.md §7, status U; ``environment`` indoor / outdoor) the limits of variation do not hold and the
      standard gives no limit → :class:`DuringSkip`; inside it the reference limit widened by the temperature
      coefficient (:func:`during_limit`), or a skip where the library has no coefficient for the point.
    """
    bands = _bands(rating, library)
    if bands:
        return band_limit(spec, rating, library, temperature_c, bands)
    specified = operating_ranges(environment).specified
    if not specified.contains(temperature_c):
        status = _STATUS_LETTER.get(specified.status, specified.status)
        return DuringSkip(_no_limit(temperature_c, f"the specified operating range {specified.span()} of an "
                                    f"{environment} meter", f"{specified.standard}, {status}"))
    tc = temperature_coefficient(rating, spec, library)
    if tc is None:
        return DuringSkip("recorded, not judged: no temperature-coefficient limit for this point in the standards "
                          "library, and the reference-condition limit does not apply during a soak")
    return during_limit(spec, tc, temperature_c)


def during_label(k: int, every_h: float) -> str:
    return f"during_{k * every_h:g}h"


def during_count(test: SequenceTest, every_h: float) -> int:
    """Checks at k·every_h of nominal soak time, strictly before the soaks' end (the after check is there)."""
    total = sum(s.duration_s for s in steps_of(test) if isinstance(s, Soak))
    return max(0, math.ceil(total / (every_h * 3600.0) - 1e-9) - 1)


def check_specs(test: SequenceTest, checks: ChecksOptions, rating: MeterRating,
                library: StandardsLibrary) -> list[PointSpec]:
    """The check points with their accuracy limits (standards library, reference conditions, balanced load)."""
    specs = []
    for cp in checks.points:
        try:
            amps = rating.currents(library).evaluate(cp.current)
            pf = PowerFactor.parse(cp.power_factor)
            row = limit_for(rating, amps, pf, None, library=library)
        except (ValueError, StandardsError) as exc:
            raise PlanError(f"test {test.id!r}: check point {cp.current} PF {cp.power_factor}: {exc}") from exc
        prov = row.provenance
        specs.append(PointSpec(CHECK_KIND, f"{cp.current} PF {pf}", rating.un_v, amps, pf.phi_deg, str(pf),
                               frequency_hz=rating.frequency_hz, limit_pct=row.limit_pct,
                               standard=f"{prov.standard}:{prov.edition}", limit_table=prov.table,
                               limit_status=prov.status))
    return specs


def with_checks(test: SequenceTest, seq: Step, plan: Plan, rating: MeterRating,
                library: StandardsLibrary) -> list[Step]:
    """The sequence task alone, or with its checks around it (see the module doc for the order)."""
    checks: ChecksOptions | None = getattr(test, "checks", None)
    if checks is None:
        return [seq]
    rule, conditional = plan.measure.decision_rule, plan.measure.conditional_pass
    repeats = plan.measure.repeats
    specs = check_specs(test, checks, rating, library)
    positions = seq.positions

    def measured(label: str) -> list[Step]:
        out = []
        for spec in specs:
            def _measure(o: PositionOutcome, spec: PointSpec = spec) -> list[Measurement]:
                return [error_measurement(o, spec.limit_pct, rule, conditional)]

            out.append(Step(f"{test.id}.{label}", CHECK_KIND, spec.point, spec, positions, _run_point, _measure,
                            limit_pct=spec.limit_pct, decision_rule=rule, params={"repeats": repeats}))
        return out

    tasks = measured("before") if checks.before else []
    tasks.append(seq)
    if checks.during_every_h is not None:
        n = during_count(test, checks.during_every_h)
        seq.params["during"] = DuringPlan(checks.during_every_h, n, tuple(specs), repeats)
        for k in range(1, n + 1):
            label = during_label(k, checks.during_every_h)
            tasks += [_during_task(test.id, label, spec, positions, rule, seq.key,
                                   DuringJudge(rating, library, checks.operating_range), conditional)
                      for spec in specs]
    if checks.after:
        tasks += measured("after")
    if checks.max_shift_pct is not None:
        tasks += [_shift_task(test.id, spec, positions, checks.max_shift_pct, rule) for spec in specs]
    return tasks


# -- measuring ------------------------------------------------------------------------------------------
def measure_point(session: RunContext, spec: PointSpec, positions: list[int],
                  repeats: int) -> list[PositionOutcome]:
    """One check point on every position, ``repeats`` times (as an accuracy point: mean, uncertainty budget)."""
    runner = runner_of(session)
    runs = [runner.measure(spec, positions) for _ in range(repeats)]
    return [combine_repeats([run[i] for run in runs], session.reference_accuracy_pct()) for i in range(len(positions))]


def _run_point(session: RunContext, task: Step) -> list[PositionOutcome]:
    outs = measure_point(session, task.spec, task.positions, int(task.params.get("repeats", 1)))
    pulse_outputs(session).after(outs, task.kind, task.test_id)
    return outs


@dataclass
class SessionDuringChecks:
    """Checks during a sequence, measured through the session's accuracy runner (:class:`DuringChecks`)."""

    plan: DuringPlan
    session: RunContext
    positions: list[int]

    @property
    def every_s(self) -> float:
        return self.plan.every_h * 3600.0

    @property
    def count(self) -> int:
        return self.plan.count

    def label(self, k: int) -> str:
        return during_label(k, self.plan.every_h)

    def measure(self, k: int, temperature_c: float) -> dict[str, list[dict[str, Any]]]:
        """Outcomes per point as JSON-able dicts (they are kept in the checkpoint), each with the chamber
        temperature the check was taken at (``chamber_c``: its limit depends on it)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for spec in self.plan.specs:
            outcomes = measure_point(self.session, spec, self.positions, self.plan.repeats)
            for o in outcomes:
                o.extra["chamber_c"] = round(temperature_c, 3)
            out[spec.point] = [dataclasses.asdict(o) for o in outcomes]
        return out


def during_checks(session: RunContext, task: Step) -> SessionDuringChecks | None:
    """The checks during the sequence of ``task`` (None when the plan has none)."""
    plan = task.params.get("during")
    if not isinstance(plan, DuringPlan) or plan.count == 0:
        return None
    return SessionDuringChecks(plan, session, task.positions)


@dataclass(frozen=True)
class DuringJudge:
    """What a check during the sequence is judged with, once its chamber temperature is known."""

    rating: MeterRating
    library: StandardsLibrary
    environment: str = DEFAULT_ENVIRONMENT

    def __call__(self, spec: PointSpec, temperature_c: float) -> DuringLimit | DuringSkip:
        return judge_during(spec, self.rating, self.library, temperature_c, self.environment)


def _during_task(test_id: str, label: str, spec: PointSpec, positions: list[int], rule: str, seq_key: str,
                 judge: DuringJudge, conditional: str = "fail") -> Step:
    """A check during the sequence: its outcomes come from the checkpoint; its limit is known only then (it
    depends on the chamber temperature the check was taken at), so ``run`` sets the task's limit before the
    rows are written. A check without a limit keeps its measured values, verdict ``skipped``."""
    def _run(session: RunContext, task: Step) -> list[PositionOutcome]:
        assert session.run_dir is not None
        saved = Checkpoint(session.run_dir).get(seq_key) or {}
        got = saved.get("check_results", {}).get(label, {}).get(task.point_id)
        if got is None:
            raise CheckNotMeasured(f"check {label} was not measured: the sequence stopped before it")
        by_pos = {int(d["position"]): PositionOutcome(**d) for d in got}
        out = [by_pos[p] for p in task.positions]
        temp = finite_or_none(out[0].extra.get("chamber_c")) if out else None
        lim = (DuringSkip("recorded, not judged: the chamber temperature of the check was not recorded, and the "
                          "reference-condition limit does not apply during a soak")
               if temp is None else judge(spec, temp))
        if isinstance(lim, DuringSkip):
            task.spec = dataclasses.replace(spec, limit_table=f"{spec.limit_table} (reference conditions only)")
            for o in out:
                if o.verdict is None:
                    o.verdict, o.reason = "skipped", lim.reason
            return out
        task.limit_pct = lim.limit_pct
        task.spec = dataclasses.replace(spec, limit_pct=lim.limit_pct, limit_table=lim.limit_table,
                                        limit_status=lim.limit_status)
        task.params["limit_note"] = lim.note
        pulse_outputs(session).after(out, task.kind, task.test_id)
        return out

    def _measure(o: PositionOutcome) -> list[Measurement]:
        note = task.params.get("limit_note")
        return [error_measurement(o, task.limit_pct, rule, conditional, "" if note is None else f"; {note}")]

    task = Step(f"{test_id}.{label}", CHECK_KIND, spec.point, spec, positions, _run, _measure,
                limit_pct=spec.limit_pct, decision_rule=rule)
    return task


# -- shift ----------------------------------------------------------------------------------------------
def _shift_task(test_id: str, spec: PointSpec, positions: list[int], limit: float, rule: str) -> Step:
    shift_spec = dataclasses.replace(spec, test=SHIFT_KIND, limit_pct=limit, limit_table=SHIFT_LIMIT_TABLE,
                                     limit_status=SHIFT_LIMIT_STATUS)

    def _run(session: RunContext, task: Step) -> list[PositionOutcome]:
        from hil.results import read_results

        assert session.run_dir is not None
        rows = [{str(k): v for k, v in r.items()} for r in read_results(session.run_dir).to_dict("records")]

        def of(label: str) -> dict[int, dict[str, Any]]:
            return {int(r["position"]): r for r in rows
                    if r.get("test_id") == f"{test_id}.{label}" and r.get("point") == spec.point}

        out = [shift_outcome(p, of("before").get(p), of("after").get(p)) for p in task.positions]
        pulse_outputs(session).after(out, task.kind, task.test_id)
        return out

    def _measure(o: PositionOutcome) -> list[Measurement]:
        x = o.extra
        u = o.extra.get("uncertainty_pct")

        def text(ok: bool) -> str:
            outcome = decide(o.error_pct or 0.0, limit, u, rule).outcome.value  # type: ignore[arg-type]
            return (f"shift {o.error_pct or 0.0:+.4f} % (after {x['error_after_pct']:+.4f} % − before "
                    f"{x['error_before_pct']:+.4f} %) {'within' if ok else 'beyond'} ±{limit:g} % ({outcome}, "
                    f"{rule}); limit: the plan's checks.max_shift_pct (no standard table applies)")

        # the shift's own uncertainty decides under a guard band; the 1/5 rule is for acceptance, not a shift
        return [Measurement.within("shift", o.error_pct, limit, "%", uncertainty=u, rule=rule, text=text,
                                   check_uncertainty=False)]

    return Step(f"{test_id}.shift", SHIFT_KIND, spec.point, shift_spec, positions, _run, _measure, limit_pct=limit,
                decision_rule=rule)



def shift_outcome(position: int, before: dict[str, Any] | None, after: dict[str, Any] | None) -> PositionOutcome:
    """error after − error before of one meter at one point; U = √(U_before² + U_after²). Broken when either
    has no error."""
    serial = str((after or before or {}).get("serial", ""))
    eb = finite_or_none(before.get("error_pct")) if before else None
    ea = finite_or_none(after.get("error_pct")) if after else None
    if eb is None or ea is None:
        missing = " and ".join(w for w, e in (("before", eb), ("after", ea)) if e is None)
        return PositionOutcome(position, serial, 0, 0, None, 0.0, "broken",
                               f"no error {missing} the sequence: the shift cannot be computed")
    assert before is not None and after is not None
    o = PositionOutcome(position, serial, int(before.get("pulses") or 0) + int(after.get("pulses") or 0),
                        min(int(before.get("n_ref") or 0), int(after.get("n_ref") or 0)), round(ea - eb, 6),
                        0.0, None)
    ub, ua = finite_or_none(before.get("uncertainty_pct")), finite_or_none(after.get("uncertainty_pct"))
    o.extra.update(error_before_pct=eb, error_after_pct=ea,
                   uncertainty_pct=None if ub is None or ua is None else round(math.hypot(ub, ua), 6))
    return o


__all__ = ["CHECK_KIND", "SHIFT_KIND", "CheckNotMeasured", "DuringChecks", "DuringJudge", "DuringLimit",
           "DuringPlan", "DuringSkip", "SessionDuringChecks", "TemperatureCoefficient", "band_limit", "check_specs",
           "during_checks", "during_count", "during_limit", "judge_during", "measure_point", "shift_outcome",
           "temperature_coefficient", "with_checks"]
