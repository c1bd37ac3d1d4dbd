"""The fault diagnosis test: phase loss, reversed phase sequence and reversed current played by the source under
load, each judged by the meter's diagnostic status word against what is played (the bench's truth): the right flag
and no other within ``max_detect_s``, cleared within ``max_detect_s`` of the fault going, none before.

The fault conditions are per-phase settings the plan's load points cannot express, so the step programs the source
itself (within the load's own voltages and currents) and leaves the runner to program it afresh afterwards.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hil.core import Measurement, PointSpec, PositionOutcome, RunContext, Step
from hil.kinds.power_quality.model import DiagnosedFault, PqDiagnosisTest
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import dlms_port, outcome, resolve_load
from hil.standards import MeterRating, StandardsLibrary
from instruments.drivers.errors import BenchFault
from instruments.roles import PhaseLoad

KIND = "pq_diagnosis"


def pq_diagnosis_tasks(test: PqDiagnosisTest, rating: MeterRating, positions: list[int],
                       library: StandardsLibrary) -> list[Step]:
    load = resolve_load(test.id, rating, library, test.current, "1")
    spec = PointSpec(KIND, f"fault diagnosis at {test.current}", rating.un_v, load.amps, 0.0, "1",
                     frequency_hz=rating.frequency_hz, limit_table="plan", limit_status="lab")

    def run(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run(session, task, test)

    return [Step(test.id, KIND, spec.point, spec, positions, run, lambda o: _measurements(o, test),
                 duration_s=(2 * len(test.faults) + 1) * test.max_detect_s, params={"port_only": False})]


def faulted(loads: dict[int, PhaseLoad], f: DiagnosedFault) -> dict[int, PhaseLoad]:
    """The load with the fault condition played."""
    out = dict(loads)
    if f.fault == "phase_loss":
        out[f.phase] = dataclasses.replace(loads[f.phase], voltage_v=0.0)
    elif f.fault == "reversed_current":
        p = loads[f.phase]
        out[f.phase] = dataclasses.replace(p, current_angle_deg=(p.current_angle_deg + 360.0) % 360.0 - 180.0)  # +180°
    else:  # L2 and L3 swap their voltage and current angles: the sequence L1-L3-L2
        out[2] = dataclasses.replace(loads[2], voltage_angle_deg=loads[3].voltage_angle_deg,
                                     current_angle_deg=loads[3].current_angle_deg)
        out[3] = dataclasses.replace(loads[3], voltage_angle_deg=loads[2].voltage_angle_deg,
                                     current_angle_deg=loads[2].current_angle_deg)
    return out


def _status(bench: Any, positions: list[int], test: PqDiagnosisTest, broken: dict[int, str]) -> dict[int, int]:
    out = {}
    for p in positions:
        if p in broken:
            continue
        try:
            out[p] = int(dlms_port(bench, p).get(1, test.status_object, 2).value)
        except BenchFault as exc:
            broken[p] = f"diagnostic status not readable: {exc}"
    return out


def _run(session: RunContext, task: Step, test: PqDiagnosisTest) -> list[PositionOutcome]:
    bench, clock = session.bench, session.bench.clock
    runner = runner_of(session)
    src = bench.source
    if src.phases != 3 and any(f.fault == "reversed_sequence" for f in test.faults):
        raise BenchFault("source", "a reversed phase sequence needs a three-phase source")
    runner.energise(task.spec)
    normal = task.spec.loads(src.phases)
    broken: dict[int, str] = {}
    clock.sleep(test.max_detect_s)
    seen: dict[int, dict[str, Any]] = {p: {"before": None, "faults": []} for p in task.positions}
    for p, s in _status(bench, task.positions, test, broken).items():
        seen[p]["before"] = s
    try:
        for f in test.faults:
            src.apply(faulted(normal, f))
            clock.sleep(test.max_detect_s)
            on = _status(bench, task.positions, test, broken)
            src.apply(normal)
            clock.sleep(test.max_detect_s)
            off = _status(bench, task.positions, test, broken)
            for p in task.positions:
                seen[p]["faults"].append({"fault": f.fault, "phase": f.phase, "on": on.get(p), "off": off.get(p)})
    finally:
        src.apply(normal)
        runner.invalidate()
    return [outcome(bench, p, broken, {"status_before": seen[p]["before"], "diagnosed": json.dumps(seen[p]["faults"])})
            for p in task.positions]


def _bit(test: PqDiagnosisTest, fault: str, phase: int) -> int:
    bits = test.bits[fault]
    return bits[phase - 1] if len(bits) > 1 else bits[0]


def _measurements(o: PositionOutcome, test: PqDiagnosisTest) -> list[Measurement]:
    x = o.extra
    before = int(x["status_before"])
    out = [Measurement("no flag before the faults", before == 0,
                       text=f"diagnostic status {before:#06x} before any fault")]
    for d in json.loads(x["diagnosed"]):
        bit = _bit(test, d["fault"], d["phase"])
        name = d["fault"].replace("_", " ") + (f" L{d['phase']}" if d["fault"] != "reversed_sequence" else "")
        on, off = int(d["on"]), int(d["off"])
        out.append(Measurement(f"{name} flagged", on == 1 << bit, text=(
            f"{name}: status {on:#06x} within {test.max_detect_s:g} s (bit {bit} "
            + ("set, no other)" if on == 1 << bit else "expected alone)"))))
        out.append(Measurement(f"{name} cleared", off == 0, text=(
            f"{name}: status {off:#06x} within {test.max_detect_s:g} s of the fault going")))
    return out
