"""The voltage unbalance test: per-phase voltage magnitudes and angles played by the source, the three-phase
meter's u2 against the negative-sequence ratio of the programmed fundamental phasors by symmetrical components
(IEC 61000-4-30 5.7.1, :func:`hil.pq.unbalance` — the standard's quantity of the signal, not the meter's word).

The per-phase angles are settings the plan's load points cannot express, so the step programs the source itself
(no current) and leaves the runner to program it afresh afterwards.
"""

from __future__ import annotations

import cmath
import dataclasses
import json
import math

from hil.core import Measurement, PlanError, PositionOutcome, RunContext, Step
from hil.kinds.power_quality.model import PqUnbalanceTest, UnbalanceSignal
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import dlms_port, idle_spec, outcome
from hil.pq import unbalance
from hil.standards import MeterRating
from instruments.drivers.errors import BenchFault
from instruments.roles import PhaseLoad

KIND = "pq_unbalance"


def expected_u2(signal: UnbalanceSignal, un_v: float) -> float:
    """u2 (%) of the programmed phasors (IEC 61000-4-30 5.7.1)."""
    z = [cmath.rect(p.pct / 100 * un_v, math.radians(p.degrees)) for p in signal.phases]
    return unbalance(z[0], z[1], z[2])[0]


def loads(signal: UnbalanceSignal, un_v: float) -> dict[int, PhaseLoad]:
    """The source's setting of ``signal``: voltages only."""
    return {k: PhaseLoad(p.pct / 100 * un_v, 0.0, p.degrees, p.degrees) for k, p in enumerate(signal.phases, 1)}


def pq_unbalance_tasks(test: PqUnbalanceTest, rating: MeterRating, positions: list[int]) -> list[Step]:
    if rating.elements != 3:
        raise PlanError(f"test {test.id!r}: voltage unbalance needs three-phase meters, these have "
                        f"{rating.elements} element(s)")
    steps = []
    for sig in test.signals:
        spec = idle_spec(KIND, f"unbalance {sig.name}", rating)
        want = expected_u2(sig, rating.un_v)

        def run(session: RunContext, task: Step, sig: UnbalanceSignal = sig,
                want: float = want) -> list[PositionOutcome]:
            return _run(session, task, test, rating, sig, want)

        # the highest phase voltage as a setpoint: the core checks it against the bench's and the meters' rating
        top = max(ph.pct for ph in sig.phases)
        peak = idle_spec(KIND, f"unbalance {sig.name}: {top:g} % Un", rating)
        peak = dataclasses.replace(peak, voltage_v=rating.un_v * top / 100)
        steps.append(Step(test.id, KIND, spec.point, spec, positions, run, lambda o: _measurements(o, test),
                          duration_s=test.settle_s, params={"port_only": False}, setpoints=(peak,)))
    return steps


def _run(session: RunContext, task: Step, test: PqUnbalanceTest, rating: MeterRating, sig: UnbalanceSignal,
         want: float) -> list[PositionOutcome]:
    bench, clock = session.bench, session.bench.clock
    runner = runner_of(session)
    src = bench.source
    if src.phases != 3:
        raise BenchFault("source", "a voltage unbalance needs a three-phase source")
    runner.energise(task.spec)
    broken: dict[int, str] = {}
    got: dict[int, float] = {}
    try:
        src.apply(loads(sig, rating.un_v))
        clock.sleep(test.settle_s)
        for p in task.positions:
            try:
                got[p] = float(dlms_port(bench, p).register(test.unbalance_object).value)
            except BenchFault as exc:
                broken[p] = f"unbalance not readable: {exc}"
    finally:
        runner.invalidate()
    return [outcome(bench, p, broken, {"u2_measured": got.get(p), "u2_expected": want,
                                       "voltages": json.dumps([ph.model_dump() for ph in sig.phases])})
            for p in task.positions]


def _measurements(o: PositionOutcome, test: PqUnbalanceTest) -> list[Measurement]:
    got, want = float(o.extra["u2_measured"]), float(o.extra["u2_expected"])
    return [Measurement.within("u2", got - want, test.tolerance_pct, "%", check_uncertainty=False,
                               text=f"u2 {got:.2f} % for {want:.2f} % (tolerance ±{test.tolerance_pct:g} points)")]
