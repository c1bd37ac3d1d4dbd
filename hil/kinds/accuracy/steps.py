"""The accuracy family's tests → steps: one load point each, measured on every position at once.

Load points, limits, test voltages and durations come from the standards library (``hil.standards``), with their
provenance; this module decides the order, builds the source setting, runs the measurement and declares what was
measured (the core decides the verdict).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hil.core import (
    Estimate,
    EstimateContext,
    Measurement,
    PlanContext,
    PlanError,
    PointSpec,
    PositionOutcome,
    RunContext,
    Step,
)
from hil.core.steps import in_setting_order
from hil.kinds.accuracy.model import AccuracyTest, InfluenceTest, MeterConstantTest, NoLoadTest, StartingTest
from hil.measure.accuracy import runner_of
from hil.measure.decision import combine_repeats, error_measurement
from hil.measure.pulse_outputs import pulse_outputs
from hil.standards import (
    LoadPoint,
    MeterRating,
    PowerFactor,
    StandardsLibrary,
    influence_points,
    meter_constant_deviation_pct,
    meter_constant_test,
    no_load_test,
    pulses_for_point,
    starting_test,
    uncertainty_budget,
)


def pulse_estimate(spec: PointSpec, limit_pct: float, times: int = 1) -> Callable[[EstimateContext], Estimate]:
    """Expected pulses and bench time of a pulse-gated point (``times`` measurements of it): settling, then the
    pulses of the resolution rule plus the edge that opens the gate (hil.standards.pulses_for_point)."""

    def estimate(ctx: EstimateContext) -> Estimate:
        m = ctx.measure
        power = spec.active_power_w(ctx.phases)
        if power <= 0:
            return Estimate(round(m.settle_s, 1))
        pp = pulses_for_point(limit_pct=limit_pct, mut_constant=ctx.meter_constant_imp_per_kwh,
                              ref_constant=ctx.ref_constant_imp_per_kwh, power_w=power,
                              resolution_fraction=m.resolution_fraction, min_duration_s=m.min_duration_s,
                              min_pulses=m.min_pulses)
        return Estimate(round(times * (m.settle_s + (pp.pulses + 1) * pp.pulse_period_s), 1), pp.pulses,
                        {"ref_constant_imp_per_kwh": ctx.ref_constant_imp_per_kwh,
                         "ref_constant_source": ctx.ref_constant_source})

    return estimate


# -- accuracy ---------------------------------------------------------------------------------------------
def accuracy_steps(test: AccuracyTest, ctx: PlanContext) -> list[Step]:
    from hil.standards import generate_load_points

    _check_requested_currents(test, ctx)
    plan, rating, library = ctx.plan, ctx.rating, ctx.library
    balanced = test.load == "balanced"
    if not balanced and rating.elements == 1:  # IEC 62053-21 single-element loads: polyphase meters only
        raise PlanError(f"test {test.id!r}: load: single_element needs polyphase meters; the bench's meters have "
                        "one element (1P2W): use load: balanced (the single-phase rows)")
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
    steps = []
    rule, conditional = plan.measure.decision_rule, plan.measure.conditional_pass
    for lp in points:
        spec = PointSpec(
            test="accuracy", point=lp.name, voltage_v=lp.voltage_v, current_a=lp.current_a, phase_deg=lp.phi_deg,
            pf=str(lp.pf), element="all" if lp.element is None else str(lp.element), frequency_hz=lp.frequency_hz,
            limit_pct=lp.limit_pct, standard=f"{lp.limit.standard}:{lp.limit.edition}", limit_table=lp.limit.table,
            limit_status=lp.limit.status,
        )

        def _measure(o: PositionOutcome, limit: float = lp.limit_pct) -> list[Measurement]:
            return [error_measurement(o, limit, rule, conditional)]

        steps.append(Step(test.id, "accuracy", lp.name, spec, ctx.positions, _run_accuracy, _measure,
                          limit_pct=lp.limit_pct, decision_rule=rule, params={"repeats": plan.measure.repeats},
                          estimate=pulse_estimate(spec, lp.limit_pct)))
    return in_setting_order(steps)  # the core's order of fewest source changes


def _run_accuracy(run: RunContext, step: Step) -> list[PositionOutcome]:
    """Measure the point ``repeats`` times (the source is programmed once): mean error, spread, and the
    repeatability in the uncertainty budget (GUM: s/√n)."""
    runner = runner_of(run)
    runs = [runner.measure(step.spec, step.positions) for _ in range(int(step.params.get("repeats", 1)))]
    outs = [combine_repeats([r[i] for r in runs], run.reference_accuracy_pct()) for i in range(len(step.positions))]
    pulse_outputs(run).after(outs, "accuracy", step.test_id, judged_from_pulses=False)  # "no pulses" is its own
    return outs


def _check_requested_currents(test: AccuracyTest, ctx: PlanContext) -> None:
    """A current the plan asks for explicitly must be within the ratings (the generator would just omit it)."""
    imax, _ = ctx.max_ratings()
    rated = ctx.rating.currents(ctx.library)
    for c in test.currents or []:
        try:
            amps = rated.evaluate(c)
        except ValueError as exc:
            raise PlanError(f"test {test.id!r}: current {c!r}: {exc}") from exc
        if amps > imax * (1 + 1e-9):
            raise PlanError(f"test {test.id!r}: current {c} = {amps:g} A is beyond the bench's or the meters' rating"
                            f" ({imax:g} A)")


# -- pulse counts: starting, no-load ----------------------------------------------------------------------
_KIND_NAMES = {"no_load": "no-load", "starting": "starting-current"}


def _count_step(test_id: str, kind: str, spec: PointSpec, positions: list[int], duration_s: float,
                measure: Callable[[int], Measurement], params: dict[str, Any], pulse_check: PointSpec) -> Step:
    def _measure(o: PositionOutcome) -> list[Measurement]:
        return [measure(o.mut_pulses)]

    def _run(run: RunContext, step: Step) -> list[PositionOutcome]:
        outs = runner_of(run).count(step.spec, step.positions, duration_s)
        check_pulse_outputs(run, step, outs, pulse_check)
        pulse_outputs(run).after(outs, step.kind, step.test_id)
        return outs

    return Step(test_id, kind, spec.point, spec, positions, _run, _measure, decision_rule="pulse count",
                duration_s=duration_s, params={"pulse_check": pulse_check, **params},
                setpoints=(pulse_check,))


def pulse_check_spec(kind: str, rating: MeterRating, library: StandardsLibrary, frequency_hz: float) -> PointSpec:
    """The load of a count test's pulse-output check: Iref, PF 1, balanced, at Un (within every rating)."""
    iref = rating.currents(library).evaluate("Iref")
    return PointSpec(kind, f"pulse-output check Iref {iref:g} A PF 1", rating.un_v, iref, 0.0, "1",
                     frequency_hz=frequency_hz)


def check_pulse_outputs(run: RunContext, step: Step, outs: list[PositionOutcome],
                        check: PointSpec) -> list[PositionOutcome]:
    """0 pulses in a count test mean something only from an output that can pulse: a position silent in the
    count whose output has not pulsed earlier in this run gets a short count at ``check`` (a few pulse periods
    at Iref, seconds of bench time). Silent there too → broken (the test cannot be judged); pulses there → the
    count's own verdict stands. What was done goes into the row (``pulse_output_check``)."""
    from instruments.drivers.errors import BenchFault

    tracker = pulse_outputs(run)
    todo = []
    for o in outs:
        state = "works" if o.mut_pulses > 0 else tracker.state(o.position)
        if state == "works":
            o.extra["pulse_output_check"] = ("not needed: pulses in this test" if o.mut_pulses > 0
                                             else "not needed: the output pulsed earlier in this run")
        elif state == "dead":
            o.extra["pulse_output_check"] = "not needed: the output gave no pulses earlier in this run"
        else:
            todo.append(o)
    if not todo:
        return outs
    name = _KIND_NAMES.get(step.kind, step.kind)
    try:
        checked = {c.position: c for c in runner_of(run).pulse_output_check(check, [o.position for o in todo])}
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


def starting_steps(test: StartingTest, ctx: PlanContext) -> list[Step]:
    rating, library = ctx.rating, ctx.library
    frequency_hz = rating.frequency_hz
    st = starting_test(rating, time_multiple=test.time_factor, library=library)
    need = max(test.min_pulses, st.min_pulses)
    time_limit_s = st.time_limit_s / st.min_pulses * need  # multiple × τ(Ist) per required pulse
    prov = next(iter(st.provenance.values()), None)
    spec = PointSpec("starting", f"Ist {st.current_a:g} A", st.voltage_v, st.current_a, 0.0, "1",
                     frequency_hz=frequency_hz, standard=f"{rating.standard}:{rating.edition}",
                     limit_table=prov.table if prov else "", limit_status=prov.status if prov else "")

    def measure(pulses: int) -> Measurement:
        return Measurement("pulses", pulses, "", lower=need, text=(
            f"{pulses} pulse(s) at Ist = {st.current_a:g} A within {time_limit_s:.0f} s (need ≥ {need};"
            f" pulse period {st.pulse_period_s:.0f} s)"))

    return [_count_step(test.id, "starting", spec, ctx.positions, time_limit_s, measure, {"min_pulses": need},
                        pulse_check_spec("starting", rating, library, frequency_hz))]


def no_load_steps(test: NoLoadTest, ctx: PlanContext) -> list[Step]:
    rating, library = ctx.rating, ctx.library
    frequency_hz = rating.frequency_hz
    nl = no_load_test(rating, factor=test.duration_factor, library=library)
    voltage = rating.un_v * test.voltage_pct / 100.0 if test.voltage_pct is not None else nl.voltage_v
    allowed = min(test.max_pulses, nl.max_pulses)
    prov = nl.provenance.get("duration") or next(iter(nl.provenance.values()), None)
    spec = PointSpec("no_load", f"no load {voltage:g} V", voltage, 0.0, 0.0, "1", frequency_hz=frequency_hz,
                     standard=f"{rating.standard}:{rating.edition}", limit_table=prov.table if prov else "",
                     limit_status=prov.status if prov else "")

    def measure(pulses: int) -> Measurement:
        return Measurement("pulses", pulses, "", upper=allowed, text=(
            f"{pulses} pulse(s) in {nl.duration_s / 60:.1f} min at {voltage:g} V, no current"
            f" (allowed ≤ {allowed}; {nl.formula})"))

    return [_count_step(test.id, "no_load", spec, ctx.positions, nl.duration_s, measure, {"max_pulses": allowed},
                        pulse_check_spec("no_load", rating, library, frequency_hz))]


# -- meter constant ---------------------------------------------------------------------------------------
def meter_constant_steps(test: MeterConstantTest, ctx: PlanContext) -> list[Step]:
    rating, library = ctx.rating, ctx.library
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

    def _run(run: RunContext, step: Step) -> list[PositionOutcome]:
        outs = runner_of(run).meter_constant(step.spec, step.positions, mc.duration_s, test.register_address)
        for o in outs:
            adv = o.extra.get("register_advance_kwh")
            if o.verdict is None and adv:
                o.error_pct = round(meter_constant_deviation_pct(o.mut_pulses, adv, rating.constant_imp_per_kwh), 6)
        pulse_outputs(run).after(outs, step.kind, step.test_id)
        return outs

    def _measure(o: PositionOutcome) -> list[Measurement]:
        adv = o.extra.get("register_advance_kwh", 0.0)
        advanced = Measurement("register advance", o.error_pct is not None, text=(
            f"register {test.register_address} advanced {adv:g} kWh with {o.mut_pulses} pulses"))
        deviation = Measurement.within("meter constant deviation", o.error_pct, tolerance, "%", text=(
            f"{o.mut_pulses} pulses for {adv:g} kWh on {test.register_address}: {o.error_pct or 0.0:+.3f} % from"
            f" {rating.constant_imp_per_kwh:g} imp/kWh (allowed ±{tolerance:.3g} %)"))
        return [advanced, deviation]

    return [Step(test.id, "meter_constant", spec.point, spec, ctx.positions, _run, _measure, limit_pct=tolerance,
                 duration_s=mc.duration_s, params={"energy_kwh": mc.energy_kwh})]


# -- influence --------------------------------------------------------------------------------------------
def influence_steps(test: InfluenceTest, ctx: PlanContext) -> list[Step]:
    """Each deviation point: the error at reference conditions and at the deviated value, measured back to back;
    the variation is judged against the table's limit of the additional error."""
    rating, library = ctx.rating, ctx.library
    try:
        points = influence_points(rating, test.quantity, currents=test.currents, library=library)
    except ValueError as exc:
        raise PlanError(f"test {test.id!r}: {exc}") from exc
    if test.power_factors is not None:
        wanted = {str(PowerFactor.parse(p)) for p in test.power_factors}
        points = [p for p in points if str(p.pf) in wanted]
    steps = []
    for ip in points:
        common = dict(phase_deg=ip.pf.phi_deg, pf=str(ip.pf), limit_pct=ip.limit,
                      standard=f"{ip.provenance.standard}:{ip.provenance.edition}", limit_table=ip.provenance.table,
                      limit_status=ip.provenance.status)
        ref = PointSpec("influence", ip.name + " (reference)", ip.reference_voltage_v, ip.current_a,
                        frequency_hz=ip.reference_frequency_hz, **common)  # type: ignore[arg-type]
        dev = PointSpec("influence", ip.name, ip.voltage_v, ip.current_a, frequency_hz=ip.frequency_hz,
                        harmonics=tuple((h.circuit, h.order, h.percent, h.degrees) for h in ip.harmonics),
                        **common)  # type: ignore[arg-type]

        def _run(run: RunContext, step: Step, ref: PointSpec = ref, dev: PointSpec = dev) -> list[PositionOutcome]:
            runner = runner_of(run)
            at_ref = runner.measure(ref, step.positions)
            at_dev = runner.measure(dev, step.positions)
            out = []
            for a, b in zip(at_ref, at_dev, strict=True):
                if a.error_pct is None or b.error_pct is None:
                    out.append(a if a.error_pct is None else b)
                    continue
                ua = uncertainty_budget(reference_class_pct=run.reference_accuracy_pct(), ref_pulses=a.n_ref)
                ub = uncertainty_budget(reference_class_pct=run.reference_accuracy_pct(), ref_pulses=b.n_ref)
                o = PositionOutcome(b.position, b.serial, a.mut_pulses + b.mut_pulses, min(a.n_ref, b.n_ref),
                                    b.error_pct - a.error_pct, a.duration_s + b.duration_s, None)
                o.extra.update(error_reference_pct=a.error_pct, error_deviated_pct=b.error_pct,
                               uncertainty_pct=round(math.hypot(ua.expanded_pct, ub.expanded_pct), 6))
                out.append(o)
            pulse_outputs(run).after(out, step.kind, step.test_id)
            return out

        def _measure(o: PositionOutcome, limit: float = ip.limit) -> list[Measurement]:
            x = o.extra
            return [Measurement.within("variation", o.error_pct, limit, "%", text=lambda ok: (
                f"variation {o.error_pct or 0.0:+.4f} % (error {x['error_deviated_pct']:+.4f} % vs"
                f" {x['error_reference_pct']:+.4f} % at reference) {'within' if ok else 'beyond'} ±{limit:g} %"))]

        steps.append(Step(test.id, "influence", ip.name, dev, ctx.positions, _run, _measure, limit_pct=ip.limit,
                          setpoints=(ref,), estimate=pulse_estimate(dev, ip.limit, times=2)))
    return steps
