"""The flicker test: rectangular voltage fluctuations played for whole 10-min intervals, the meter's Pst against
the Pst of the programmed signal by the IEC 61000-4-15 flickermeter (:func:`hil.pq.pst` on a synthesised record of
the interval — the standard's quantity of the signal, not the meter's word)."""

from __future__ import annotations

import json
import math

import numpy as np

from hil.core import Measurement, PositionOutcome, RunContext, Step
from hil.kinds.power_quality.model import FlickerSignal, PqFlickerTest
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import dlms_port, idle_spec, outcome
from hil.pq import pst
from hil.standards import MeterRating
from instruments.drivers.errors import BenchFault

KIND = "pq_flicker"
INTERVAL_S = 600.0
#: sampling of the synthesised record: 1600 S/s suffices for the flickermeter's filters (tests/pq)
_FS = 1600.0


def expected_pst(signal: FlickerSignal, un_v: float, f_nominal: float) -> float:
    """Pst of 10 minutes of the fluctuation: amplitude √2·U·(1 ± d/2), two changes per modulation period."""
    t = np.arange(int(INTERVAL_S * _FS)) / _FS
    f_mod = signal.cpm / 120.0
    square = np.where(np.floor(2 * f_mod * t) % 2 == 0, 1.0, -1.0)
    u = math.sqrt(2) * un_v * (1 + signal.depth_pct / 200.0 * square) * np.sin(2 * math.pi * f_nominal * t)
    return float(pst(u, _FS, f_nominal))


def pq_flicker_tasks(test: PqFlickerTest, rating: MeterRating, positions: list[int]) -> list[Step]:
    spec = idle_spec(KIND, f"flicker, {len(test.signals)} fluctuations", rating)

    def run(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run(session, task, test, rating)

    return [Step(test.id, KIND, spec.point, spec, positions, run, lambda o: _measurements(o, test),
                 duration_s=(len(test.signals) + 1) * INTERVAL_S, params={"port_only": False})]


def _run(session: RunContext, task: Step, test: PqFlickerTest, rating: MeterRating) -> list[PositionOutcome]:
    from instruments.roles import FlickerSource

    bench, clock = session.bench, session.bench.clock
    src = bench.source
    if not isinstance(src, FlickerSource):
        raise BenchFault("source", f"{type(src).__name__} cannot play a voltage fluctuation")
    runner_of(session).energise(task.spec)
    broken: dict[int, str] = {}
    for p in task.positions:
        try:
            dlms_port(bench, p).set_clock(clock.utc())
        except BenchFault as exc:
            broken[p] = f"clock not set: {exc}"
    got: dict[int, list[list[float]]] = {p: [] for p in task.positions}
    want = []
    try:
        for sig in test.signals:
            now = clock.utc().timestamp()
            clock.sleep(math.floor(now / INTERVAL_S) * INTERVAL_S + INTERVAL_S - now)  # the next 10-min tick
            src.start_flicker(sig.depth_pct, sig.cpm)
            clock.sleep(INTERVAL_S + 2.0)  # the interval complete, the meters' Pst of it ready
            src.flicker_stop()
            for p in task.positions:
                if p in broken:
                    continue
                try:
                    port = dlms_port(bench, p)
                    got[p].append([port.register(ln).value for ln in test.pst_objects[:rating.elements]])
                except BenchFault as exc:
                    broken[p] = f"Pst not readable: {exc}"
            want.append(expected_pst(sig, rating.un_v, rating.frequency_hz))
    finally:
        src.flicker_stop()
    return [outcome(bench, p, broken, {"pst_measured": json.dumps(got[p]), "pst_expected": json.dumps(want)},
                    len(test.signals) * INTERVAL_S) for p in task.positions]


def _measurements(o: PositionOutcome, test: PqFlickerTest) -> list[Measurement]:
    got, want = json.loads(o.extra["pst_measured"]), json.loads(o.extra["pst_expected"])
    out = []
    for sig, values, w in zip(test.signals, got, want, strict=True):
        tol = max(test.tolerance_pct / 100 * w, test.floor)
        for k, v in enumerate(values, 1):
            out.append(Measurement.within(f"Pst L{k} {sig.cpm:g} cpm", v - w, tol, "", check_uncertainty=False, text=(
                f"L{k} Pst {v:.3f} for {w:.3f} ({sig.depth_pct:g} % at {sig.cpm:g} changes/min)")))
    return out
