"""The harmonics test: voltage harmonics and THD measured by the meter against the values of the signal the source
plays (IEC 61000-4-7 groups and THDG, computed by :mod:`hil.pq` on the programmed waveform — the expected value is
the standard's quantity of the signal, not the meter's word).

For each signal: the source adds its harmonics to the voltage of every phase (Un, no current); after ``settle_s``
each meter's THD (1.0.C.7.124.255) and harmonic voltages (1.0.C.7.h.255, % of the fundamental) of every element
are read. Tolerances: THD within ``thd_tolerance_pct`` (points of %), each harmonic within
``harmonic_tolerance_pct_of_reading`` % of its value or ``harmonic_tolerance_floor_pct`` of U_1, whichever is
larger; the source's uncertainty is the measurement's uncertainty (the decision rule of the plan applies).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from hil.core import Measurement, PositionOutcome, RunContext, Step
from hil.kinds.power_quality.model import HarmonicSignal, PqHarmonicsTest
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import dlms_port, idle_spec, outcome
from hil.pq import harmonic_groups, thd
from hil.standards import MeterRating
from instruments.drivers.errors import BenchFault

KIND = "pq_harmonics"
_VOLTAGE_C = (32, 52, 72)
#: sampling of the synthesised signal for the expected values: 256 samples a cycle, one second
_SAMPLES_PER_CYCLE = 256


def expected(signal: HarmonicSignal, un_v: float, f_nominal: float) -> tuple[float, dict[int, float]]:
    """THD (%) and the harmonic groups in % of the fundamental group, by IEC 61000-4-7 on the waveform the source
    is programmed to play."""
    fs = _SAMPLES_PER_CYCLE * f_nominal
    t = np.arange(int(fs)) / fs
    w = 2 * math.pi * f_nominal
    u = math.sqrt(2) * un_v * np.sin(w * t)
    for h in signal.harmonics:
        u += math.sqrt(2) * un_v * h.percent / 100 * np.sin(h.order * w * t + math.radians(h.degrees))
    groups = harmonic_groups(u, fs, f_nominal)
    return thd(u, fs, f_nominal), {n: float(groups[n] / groups[1] * 100) for n in range(2, len(groups))}


def pq_harmonics_tasks(test: PqHarmonicsTest, rating: MeterRating, positions: list[int]) -> list[Step]:
    steps = []
    for sig in test.signals:
        harm = tuple(("U", h.order, h.percent, h.degrees) for h in sig.harmonics)
        spec = idle_spec(KIND, f"harmonics {sig.name}", rating, harmonics=harm)
        want = expected(sig, rating.un_v, rating.frequency_hz)

        def run(session: RunContext, task: Step, want: tuple[float, dict[int, float]] = want,
                sig: HarmonicSignal = sig) -> list[PositionOutcome]:
            return _run(session, task, test, rating, sig, want)

        steps.append(Step(test.id, KIND, spec.point, spec, positions, run, lambda o: _measurements(o, test),
                          duration_s=test.settle_s, params={"port_only": False}))
    return steps


def _run(session: RunContext, task: Step, test: PqHarmonicsTest, rating: MeterRating, sig: HarmonicSignal,
         want: tuple[float, dict[int, float]]) -> list[PositionOutcome]:
    from instruments.dlms.cosem import Obis

    bench, clock = session.bench, session.bench.clock
    runner_of(session).energise(task.spec)
    clock.sleep(test.settle_s)
    orders = test.orders or [h.order for h in sig.harmonics]
    broken: dict[int, str] = {}
    read: dict[int, dict[str, Any]] = {}
    for p in task.positions:
        try:
            port = dlms_port(bench, p)
            got = [{"thd": port.register(Obis(1, 0, c, 7, 124, 255)).value,
                    "harmonics": {str(n): port.register(Obis(1, 0, c, 7, n, 255)).value for n in orders}}
                   for c in _VOLTAGE_C[:rating.elements]]
        except BenchFault as exc:
            broken[p] = f"PQ registers not readable: {exc}"
            continue
        read[p] = {"signal": sig.name, "measured": json.dumps(got), "expected_thd_pct": want[0],
                   "expected_harmonics": json.dumps({str(n): want[1][n] for n in orders})}
    return [outcome(bench, p, broken, read.get(p), test.settle_s) for p in task.positions]


def _measurements(o: PositionOutcome, test: PqHarmonicsTest) -> list[Measurement]:
    x = o.extra
    got, want = json.loads(x["measured"]), json.loads(x["expected_harmonics"])
    u = test.source_uncertainty_pct
    out = []
    for k, el in enumerate(got, 1):
        err = el["thd"] - x["expected_thd_pct"]
        # the 1/5-of-the-limit rule is for accuracy acceptance (IEC 62058-21), not for PQ measurements
        out.append(Measurement.within(f"THD L{k}", err, test.thd_tolerance_pct, "%", uncertainty=u,
                                      check_uncertainty=False, text=(
            f"L{k} THD {el['thd']:.2f} % for {x['expected_thd_pct']:.2f} % ({err:+.2f} points)")))
        for n, w in want.items():
            tol = max(test.harmonic_tolerance_pct_of_reading / 100 * w, test.harmonic_tolerance_floor_pct)
            e = el["harmonics"][n] - w
            out.append(Measurement.within(f"U{n} L{k}", e, tol, "%", uncertainty=u, check_uncertainty=False, text=(
                f"L{k} U{n} {el['harmonics'][n]:.2f} % of U1 for {w:.2f} %")))
    return out
