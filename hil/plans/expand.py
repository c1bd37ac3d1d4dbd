"""A plan's tests → tasks: one load point each, measured on every position at once.

Load points, limits, test voltages and durations come from the standards library (``hil.standards``), with
their provenance; this module only decides the order, builds the source setting and runs the measurement kind.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from hil.benchfile import DEFAULT_UMAX_FACTOR, BenchFile, MeterSpec
from hil.functional.model import ClockTest, TariffTest
from hil.measure.accuracy import PointSpec, PositionOutcome
from hil.plans.model import AccuracyTest, InfluenceTest, MeterConstantTest, NoLoadTest, Plan, StartingTest
from hil.sequences.model import SequenceTest
from hil.standards import (
    LoadPoint,
    MeterRating,
    Outcome,
    PowerFactor,
    StandardsLibrary,
    decide,
    influence_points,
    meter_constant_deviation_pct,
    meter_constant_test,
    no_load_test,
    starting_test,
    uncertainty_adequate,
    uncertainty_budget,
)

#: acceptance inspection: U ≤ 1/5 of the limit (IEC 62058-21 §4.3, standards.md §6)
UNCERTAINTY_FRACTION = 0.2

if TYPE_CHECKING:
    from hil.plans.session import RunSession


class PlanError(ValueError):
    """The plan cannot run on this bench (before anything is energised)."""


@dataclass
class Task:
    test_id: str
    test_kind: str
    point_id: str
    spec: PointSpec
    positions: list[int]
    limit_pct: float
    decision_rule: str
    run: Callable[[RunSession, Task], list[PositionOutcome]]
    decide: Callable[[PositionOutcome], tuple[str, str]]
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.test_id}::{self.point_id}"


def rating_of(meter: MeterSpec, plan: Plan, library: StandardsLibrary) -> MeterRating:
    """The meter's nameplate as the standards library sees it, for the plan's standard and edition."""
    return meter_rating(meter, plan.standard, plan.edition, plan.meter_class, library)


def meter_rating(meter: MeterSpec, standard: str, edition: str, meter_class: str | None,
                 library: StandardsLibrary) -> MeterRating:
    try:
        return MeterRating.model_validate(
            {
                "standard": standard, "edition": edition,
                "class_index": meter_class or meter.meter_class, "connection": meter.current_input,
                "elements": 3 if meter.connection == "3P4W" else 1, "un_v": meter.un_v,
                "constant_imp_per_kwh": meter.constant_imp_per_kwh, "ist_a": meter.ist_a, "imin_a": meter.imin_a,
                "itr_a": meter.itr_a, "iref_a": meter.iref_a, "ib_a": meter.ib_a, "in_a": meter.in_a,
                "ta_a": meter.ta_a, "imax_a": meter.imax_a,
            },
            context={"library": library},
        )
    except ValidationError as exc:  # the rating's own message, not pydantic's dump of the input
        label = f"{standard}:{edition} class {meter_class or meter.meter_class}"
        msgs = "; ".join(str(e["msg"]).removeprefix("Value error, ").removeprefix(f"{label}: ") for e in exc.errors())
        raise PlanError(f"meter {meter.serial} ({label}): {msgs}") from exc
    except ValueError as exc:
        raise PlanError(f"meter {meter.serial}: {exc}") from exc


def _check_same_type(bench: BenchFile, plan: Plan, library: StandardsLibrary) -> tuple[MeterRating, list[int]]:
    if not bench.positions:
        raise PlanError(f"bench {bench.name!r} has no meter positions")
    first = bench.positions[0]
    rating = rating_of(first.meter, plan, library)
    for pos in bench.positions[1:]:
        other = rating_of(pos.meter, plan, library)
        if (other.currents(library).amps() != rating.currents(library).amps() or other.un_v != rating.un_v
                or other.class_index != rating.class_index or other.elements != rating.elements
                or other.connection != rating.connection):
            raise PlanError(
                f"positions {first.position} ({first.meter.serial}) and {pos.position} ({pos.meter.serial}) have "
                "different ratings: the positions of one run share one load, so a plan runs one meter type at a time"
            )
    return rating, [p.position for p in bench.positions]


def accuracy_decision(o: PositionOutcome, limit_pct: float, rule: str,
                      conditional_pass: str = "fail") -> tuple[str, str]:
    """Verdict and reason of a measured accuracy point (the one place the framework decides it): the plan's
    decision rule, and whether the uncertainty is small enough for acceptance (U ≤ limit/5).

    Under ``guard_band`` (ILAC-G8:09/2019, w = U) the reason names the outcome as it is: a conditional pass is
    within the limit but its uncertainty interval reaches beyond it, and counts as ``conditional_pass``
    ("fail": binary guard-banded acceptance, the default; "pass"); a conditional fail is outside the limit and
    always fails. The outcome is kept in ``o.extra["decision_outcome"]``."""
    assert o.error_pct is not None
    u = o.extra.get("uncertainty_pct")
    d = decide(o.error_pct, limit_pct, u, rule)  # type: ignore[arg-type]
    o.extra["decision_outcome"] = d.outcome.value
    err, lim = f"error {o.error_pct:+.4f} %", f"±{limit_pct:g} %"
    if d.rule != "guard_band":
        verdict = "pass" if d.passed else "fail"
        why = f"{err} {'within' if d.passed else 'outside'} {lim} ({d.outcome.value}, {d.rule})"
    else:
        assert u is not None
        uu = f"U {u:.3g} %"
        if d.outcome is Outcome.PASS:
            verdict, why = "pass", f"{err} within {lim} with {uu} inside the limit: pass (guard band, ILAC-G8)"
        elif d.outcome is Outcome.CONDITIONAL_PASS:
            verdict = "pass" if conditional_pass == "pass" else "fail"
            why = (f"{err} within {lim} but {uu} reaches the limit: conditional pass, "
                   + ("accepted as the plan allows (measure.conditional_pass: pass; ILAC-G8)" if verdict == "pass"
                      else "rejected under guard-banded acceptance (ILAC-G8)"))
        elif d.outcome is Outcome.CONDITIONAL_FAIL:
            verdict, why = "fail", f"{err} outside {lim} but within {uu} of the limit: conditional fail (ILAC-G8)"
        else:
            verdict, why = "fail", f"{err} outside {lim} by more than {uu}: fail (guard band, ILAC-G8)"
    if u is not None:
        check = uncertainty_adequate(u, limit_pct, fraction=UNCERTAINTY_FRACTION)
        o.extra["uncertainty_adequate"] = check.ok
        if not check.ok:
            why += f"; uncertainty {u:.3g} % exceeds 1/5 of the limit (IEC 62058-21 §4.3)"
    return verdict, why


def _accuracy_tasks(test: AccuracyTest, plan: Plan, rating: MeterRating, positions: list[int],
                    library: StandardsLibrary, phases: int) -> list[Task]:
    from hil.standards import generate_load_points

    balanced = test.load == "balanced"
    matrix = generate_load_points(
        rating, balanced=balanced, single_element=not balanced,
        currents=test.currents if balanced else None, pfs=test.power_factors if balanced else None,
        single_element_currents=None if balanced else test.currents,
        single_element_pfs=None if balanced else test.power_factors,
        voltage_v=rating.un_v * test.voltage_pct / 100.0,
        frequency_hz=rating.frequency_hz * test.frequency_pct / 100.0, library=library,
    )
    points: list[LoadPoint] = list(matrix.points)
    if not balanced and test.elements is not None:
        points = [p for p in points if p.element in test.elements]
    # fewest source changes: one element at a time, one PF at a time, rising current
    points.sort(key=lambda p: (p.element or 0, str(p.pf), p.current_a))
    tasks = []
    rule = plan.measure.decision_rule
    for lp in points:
        spec = PointSpec(
            test="accuracy", point=lp.name, voltage_v=lp.voltage_v, current_a=lp.current_a, phase_deg=lp.phi_deg,
            pf=str(lp.pf), element="all" if lp.element is None else str(lp.element), frequency_hz=lp.frequency_hz,
            limit_pct=lp.limit_pct, standard=f"{lp.limit.standard}:{lp.limit.edition}", limit_table=lp.limit.table,
            limit_status=lp.limit.status,
        )

        def _decide(o: PositionOutcome, spec: PointSpec = spec) -> tuple[str, str]:
            return accuracy_decision(o, spec.limit_pct, rule, plan.measure.conditional_pass)

        tasks.append(Task(test.id, "accuracy", lp.name, spec, positions, lp.limit_pct, rule, _run_accuracy, _decide,
                          {"repeats": plan.measure.repeats}))
    return tasks


def _run_accuracy(session: RunSession, task: Task) -> list[PositionOutcome]:
    """Measure the point ``repeats`` times (the source is programmed once): mean error, spread, and the
    repeatability in the uncertainty budget (GUM: s/√n)."""
    runner = session.runner()
    runs = [runner.measure(task.spec, task.positions) for _ in range(int(task.params.get("repeats", 1)))]
    return [combine_repeats([run[i] for run in runs], session.reference_accuracy_pct())
            for i in range(len(task.positions))]


def combine_repeats(per: list[PositionOutcome], reference_accuracy_pct: float | None) -> PositionOutcome:
    """One outcome from repeated measurements of a position: any missing result makes it broken."""
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


def _count_task(test_id: str, kind: str, point: str, spec: PointSpec, positions: list[int], duration_s: float,
                check: Callable[[int], tuple[bool, str]], params: dict[str, Any], pulse_check: PointSpec) -> Task:
    def _decide(o: PositionOutcome) -> tuple[str, str]:
        ok, why = check(o.mut_pulses)
        return ("pass" if ok else "fail"), why

    def _run(session: RunSession, task: Task) -> list[PositionOutcome]:
        outs = session.runner().count(task.spec, task.positions, duration_s)
        return check_pulse_outputs(session, task, outs, pulse_check)

    return Task(test_id, kind, point, spec, positions, 0.0, "pulse count", _run, _decide,
                {"duration_s": duration_s, "pulse_check": pulse_check, **params})


def pulse_check_spec(kind: str, rating: MeterRating, library: StandardsLibrary, frequency_hz: float) -> PointSpec:
    """The load of a count test's pulse-output check: Iref, PF 1, balanced, at Un (within every rating)."""
    iref = rating.currents(library).evaluate("Iref")
    return PointSpec(kind, f"pulse-output check Iref {iref:g} A PF 1", rating.un_v, iref, 0.0, "1",
                     frequency_hz=frequency_hz)


_KIND_NAMES = {"no_load": "no-load", "starting": "starting-current"}


def check_pulse_outputs(session: RunSession, task: Task, outs: list[PositionOutcome],
                        check: PointSpec) -> list[PositionOutcome]:
    """0 pulses in a count test mean something only from an output that can pulse: a position silent in the
    count whose output has not pulsed earlier in this run gets a short count at ``check`` (a few pulse periods
    at Iref, seconds of bench time). Silent there too → broken (the test cannot be judged); pulses there → the
    count's own verdict stands. What was done goes into the row (``pulse_output_check``)."""
    from instruments.drivers.errors import BenchFault

    todo = []
    for o in outs:
        state = "works" if o.mut_pulses > 0 else session.pulse_output_state(o.position)
        if state == "works":
            o.extra["pulse_output_check"] = ("not needed: pulses in this test" if o.mut_pulses > 0
                                             else "not needed: the output pulsed earlier in this run")
        elif state == "dead":
            o.extra["pulse_output_check"] = "not needed: the output gave no pulses earlier in this run"
        else:
            todo.append(o)
    if not todo:
        return outs
    name = _KIND_NAMES.get(task.test_kind, task.test_kind)
    try:
        checked = {c.position: c for c in session.runner().pulse_output_check(check, [o.position for o in todo])}
    except BenchFault as exc:  # the count itself stands for the others; these cannot be judged
        for o in todo:
            o.extra["pulse_output_check"] = f"not possible: {exc}"
            o.verdict, o.reason = "broken", f"0 pulses and the pulse-output check failed ({exc}): {name} not judged"
        return outs
    for o in todo:
        c = checked[o.position]
        what = (f"{c.mut_pulses} pulse(s) in {c.extra['check_s']:.0f} s at {check.voltage_v:g} V, {check.current_a:g} A"
                f" PF 1, one expected every {c.extra['tau_s']:.3g} s")
        o.extra["pulse_output_ok"] = c.mut_pulses > 0
        o.extra["pulse_output_check"] = f"{what}: the output {'works' if c.mut_pulses > 0 else 'is dead'}"
        if c.mut_pulses == 0:
            o.verdict = "broken"
            o.reason = f"the pulse output gives no pulses at Iref ({what}): the {name} test cannot be judged"
    return outs


def _starting_task(test: StartingTest, rating: MeterRating, positions: list[int], library: StandardsLibrary,
                   frequency_hz: float) -> Task:
    st = starting_test(rating, time_multiple=test.time_factor, library=library)
    need = max(test.min_pulses, st.min_pulses)
    time_limit_s = st.time_limit_s / st.min_pulses * need  # multiple × τ(Ist) per required pulse
    prov = next(iter(st.provenance.values()), None)
    spec = PointSpec("starting", f"Ist {st.current_a:g} A", st.voltage_v, st.current_a, 0.0, "1",
                     frequency_hz=frequency_hz, standard=f"{rating.standard}:{rating.edition}",
                     limit_table=prov.table if prov else "", limit_status=prov.status if prov else "")

    def check(pulses: int) -> tuple[bool, str]:
        return (pulses >= need,
                f"{pulses} pulse(s) at Ist = {st.current_a:g} A within {time_limit_s:.0f} s (need ≥ {need};"
                f" pulse period {st.pulse_period_s:.0f} s)")

    return _count_task(test.id, "starting", spec.point, spec, positions, time_limit_s, check,
                       {"min_pulses": need}, pulse_check_spec("starting", rating, library, frequency_hz))


def _no_load_task(test: NoLoadTest, rating: MeterRating, positions: list[int], library: StandardsLibrary,
                  frequency_hz: float) -> Task:
    nl = no_load_test(rating, factor=test.duration_factor, library=library)
    voltage = rating.un_v * test.voltage_pct / 100.0 if test.voltage_pct is not None else nl.voltage_v
    allowed = min(test.max_pulses, nl.max_pulses)
    prov = nl.provenance.get("duration") or next(iter(nl.provenance.values()), None)
    spec = PointSpec("no_load", f"no load {voltage:g} V", voltage, 0.0, 0.0, "1", frequency_hz=frequency_hz,
                     standard=f"{rating.standard}:{rating.edition}", limit_table=prov.table if prov else "",
                     limit_status=prov.status if prov else "")

    def check(pulses: int) -> tuple[bool, str]:
        return (pulses <= allowed,
                f"{pulses} pulse(s) in {nl.duration_s / 60:.1f} min at {voltage:g} V, no current"
                f" (allowed ≤ {allowed}; {nl.formula})")

    return _count_task(test.id, "no_load", spec.point, spec, positions, nl.duration_s, check,
                       {"max_pulses": allowed}, pulse_check_spec("no_load", rating, library, frequency_hz))


def _meter_constant_task(test: MeterConstantTest, rating: MeterRating, positions: list[int],
                         library: StandardsLibrary) -> Task:
    amps = rating.currents(library).evaluate(test.current)
    pf = PowerFactor.parse(test.power_factor)
    power = rating.elements * rating.un_v * amps * pf.value
    mc = meter_constant_test(constant_imp_per_kwh=rating.constant_imp_per_kwh,
                             register_resolution_kwh=test.register_resolution_kwh, power_w=power,
                             max_resolution_pct=test.max_resolution_pct)
    # the comparison resolves one register step and ±1 pulse of the test output
    tolerance = mc.register_resolution_pct + 100.0 / mc.pulses
    spec = PointSpec("meter_constant", f"{test.current} PF {pf} {mc.energy_kwh:g} kWh", rating.un_v, amps,
                     pf.phi_deg, str(pf), frequency_hz=rating.frequency_hz, limit_pct=tolerance,
                     standard=f"{rating.standard}:{rating.edition}", limit_table="meter constant: pulses vs register",
                     limit_status="unconfirmed")

    def _run(session: RunSession, task: Task) -> list[PositionOutcome]:
        outs = session.runner().meter_constant(task.spec, task.positions, mc.duration_s, test.register_address)
        for o in outs:
            adv = o.extra.get("register_advance_kwh")
            if o.verdict is None and adv:
                o.error_pct = round(meter_constant_deviation_pct(o.mut_pulses, adv, rating.constant_imp_per_kwh), 6)
        return outs

    def _decide(o: PositionOutcome) -> tuple[str, str]:
        adv = o.extra.get("register_advance_kwh", 0.0)
        if o.error_pct is None:
            return "fail", f"register {test.register_address} advanced {adv:g} kWh with {o.mut_pulses} pulses"
        ok = abs(o.error_pct) <= tolerance
        return ("pass" if ok else "fail"), (
            f"{o.mut_pulses} pulses for {adv:g} kWh on {test.register_address}: {o.error_pct:+.3f} % from"
            f" {rating.constant_imp_per_kwh:g} imp/kWh (allowed ±{tolerance:.3g} %)")

    return Task(test.id, "meter_constant", spec.point, spec, positions, tolerance, "simple", _run, _decide,
                {"duration_s": mc.duration_s, "energy_kwh": mc.energy_kwh})


def _influence_tasks(test: InfluenceTest, plan: Plan, rating: MeterRating, positions: list[int],
                     library: StandardsLibrary) -> list[Task]:
    """Each deviation point: the error at reference conditions and at the deviated value, measured back to back;
    the variation is judged against the table's limit of the additional error."""
    try:
        points = influence_points(rating, test.quantity, currents=test.currents, library=library)
    except ValueError as exc:
        raise PlanError(f"test {test.id!r}: {exc}") from exc
    if test.power_factors is not None:
        wanted = {str(PowerFactor.parse(p)) for p in test.power_factors}
        points = [p for p in points if str(p.pf) in wanted]
    tasks = []
    for ip in points:
        common = dict(phase_deg=ip.pf.phi_deg, pf=str(ip.pf), limit_pct=ip.limit,
                      standard=f"{ip.provenance.standard}:{ip.provenance.edition}", limit_table=ip.provenance.table,
                      limit_status=ip.provenance.status)
        ref = PointSpec("influence", ip.name + " (reference)", ip.reference_voltage_v, ip.current_a,
                        frequency_hz=ip.reference_frequency_hz, **common)  # type: ignore[arg-type]
        dev = PointSpec("influence", ip.name, ip.voltage_v, ip.current_a, frequency_hz=ip.frequency_hz,
                        **common)  # type: ignore[arg-type]

        def _run(session: RunSession, task: Task, ref: PointSpec = ref, dev: PointSpec = dev) -> list[PositionOutcome]:
            runner = session.runner()
            at_ref = runner.measure(ref, task.positions)
            at_dev = runner.measure(dev, task.positions)
            out = []
            for a, b in zip(at_ref, at_dev, strict=True):
                if a.error_pct is None or b.error_pct is None:
                    out.append(a if a.error_pct is None else b)
                    continue
                ua = uncertainty_budget(reference_class_pct=session.reference_accuracy_pct(), ref_pulses=a.n_ref)
                ub = uncertainty_budget(reference_class_pct=session.reference_accuracy_pct(), ref_pulses=b.n_ref)
                o = PositionOutcome(b.position, b.serial, a.mut_pulses + b.mut_pulses, min(a.n_ref, b.n_ref),
                                    b.error_pct - a.error_pct, a.duration_s + b.duration_s, None)
                o.extra.update(error_reference_pct=a.error_pct, error_deviated_pct=b.error_pct,
                               uncertainty_pct=round(math.hypot(ua.expanded_pct, ub.expanded_pct), 6))
                out.append(o)
            return out

        def _decide(o: PositionOutcome, limit: float = ip.limit) -> tuple[str, str]:
            assert o.error_pct is not None
            ok = abs(o.error_pct) <= limit
            return ("pass" if ok else "fail"), (
                f"variation {o.error_pct:+.4f} % (error {o.extra['error_deviated_pct']:+.4f} % vs"
                f" {o.extra['error_reference_pct']:+.4f} % at reference) {'within' if ok else 'beyond'} ±{limit:g} %")

        tasks.append(Task(test.id, "influence", ip.name, dev, positions, ip.limit, "simple", _run, _decide))
    return tasks


def _sequence_task(test: SequenceTest, rating: MeterRating, bench: BenchFile,
                   positions: list[int], library: StandardsLibrary) -> Task:
    """A stress sequence: one task; its load point (if energised) is checked against the ratings like any."""
    from hil.sequences.disturbances import PowerCyclingTest, check_dips_against_bench
    from hil.sequences.profile import ProfileError
    from hil.sequences.task import check_against_bench, sequence_task

    chamber = bench.roles.get("chamber")
    try:
        check_against_bench(test, dict(chamber.options) if chamber is not None else None,
                            chamber.driver if chamber is not None else None)
        if isinstance(test, PowerCyclingTest):
            check_dips_against_bench(test, bench.limits.phases)  # dipped phases the bench has
    except ProfileError as exc:
        raise PlanError(str(exc)) from exc
    load = None
    if test.load is not None:
        try:
            amps = rating.currents(library).evaluate(test.load.current)
            pf = PowerFactor.parse(test.load.power_factor)
        except ValueError as exc:
            raise PlanError(f"test {test.id!r}: load {test.load.current} PF {test.load.power_factor}: {exc}") from exc
        load = PointSpec(test.kind, f"{test.load.current} PF {pf}", rating.un_v * test.load.voltage_pct / 100.0,
                         amps, pf.phi_deg, str(pf), frequency_hz=rating.frequency_hz)
    return sequence_task(test, load, positions, f"{rating.standard}:{rating.edition}")


def expand_plan(plan: Plan, bench: BenchFile, library: StandardsLibrary) -> list[Task]:
    """Every task of ``plan`` on ``bench``, in run order. Raises :class:`PlanError` for a plan that does not fit
    the bench (ratings, limits); a point beyond the bench's or the meters' ratings is refused here too."""
    rating, positions = _check_same_type(bench, plan, library)
    phases = bench.limits.phases
    tasks: list[Task] = []
    for test in plan.tests:
        if isinstance(test, AccuracyTest):
            _check_requested_currents(test, rating, bench, library)
            tasks += _accuracy_tasks(test, plan, rating, positions, library, phases)
        elif isinstance(test, StartingTest):
            tasks.append(_starting_task(test, rating, positions, library, rating.frequency_hz))
        elif isinstance(test, NoLoadTest):
            tasks.append(_no_load_task(test, rating, positions, library, rating.frequency_hz))
        elif isinstance(test, MeterConstantTest):
            tasks.append(_meter_constant_task(test, rating, positions, library))
        elif isinstance(test, InfluenceTest):
            tasks += _influence_tasks(test, plan, rating, positions, library)
        elif isinstance(test, ClockTest | TariffTest):  # functional checks over the meter's port
            from hil.functional.tasks import functional_tasks

            tasks += functional_tasks(test, rating, positions, plan.measure.decision_rule, library,
                                      plan.measure.conditional_pass)
        elif isinstance(test, SequenceTest):  # every kind of hil.sequences.model
            from hil.sequences.checks import with_checks  # checks before / during / after, shift rows

            tasks += with_checks(test, _sequence_task(test, rating, bench, positions, library), plan, rating, library)
    _check_ratings(tasks, bench)
    return tasks


def _max_ratings(bench: BenchFile) -> tuple[float, float]:
    """Highest current and voltage allowed: the bench's limits and every mounted meter's (series currents)."""
    lim = bench.limits
    imax = min([lim.max_current_a] + [p.meter.imax_a for p in bench.positions])
    umax = min([lim.max_voltage_v] + [p.meter.umax_v or DEFAULT_UMAX_FACTOR * p.meter.un_v for p in bench.positions])
    return imax, umax


def _check_requested_currents(test: AccuracyTest, rating: MeterRating, bench: BenchFile,
                              library: StandardsLibrary) -> None:
    """A current the plan asks for explicitly must be within the ratings (the generator would just omit it)."""
    imax, _ = _max_ratings(bench)
    rated = rating.currents(library)
    for c in test.currents or []:
        try:
            amps = rated.evaluate(c)
        except ValueError as exc:
            raise PlanError(f"test {test.id!r}: current {c!r}: {exc}") from exc
        if amps > imax * (1 + 1e-9):
            raise PlanError(f"test {test.id!r}: current {c} = {amps:g} A is beyond the bench's or the meters' rating"
                            f" ({imax:g} A)")


def _check_ratings(tasks: list[Task], bench: BenchFile) -> None:
    imax, umax = _max_ratings(bench)
    for t in tasks:
        check = t.params.get("pulse_check")  # a count test's pulse-output check load is a setpoint too
        for spec in [t.spec] + ([check] if isinstance(check, PointSpec) else []):
            what = f"test {t.test_id!r} point {spec.point if spec is check else t.point_id}"
            if spec.current_a > imax * (1 + 1e-9):
                raise PlanError(f"{what}: {spec.current_a:g} A is beyond the bench's or the meters' rating"
                                f" ({imax:g} A)")
            if spec.voltage_v > umax * (1 + 1e-9):
                raise PlanError(f"{what}: {spec.voltage_v:g} V is beyond the bench's or the meters' rating"
                                f" ({umax:g} V)")

