"""The PQ event test: dips, swells and interruptions played by the source, found in each meter's power-quality event
log (IEC 61000-4-30 5.4 / 5.5) and counted by its counters, against what was played — the bench's own truth.

The meters' clocks are set to the bench clock first; each event is programmed and triggered on the source
(:class:`instruments.roles.DipSource`; a level above 100 % is a swell), the bench instant noted, then ``gap_s``
with the voltage back. Matching: the played events in order against the logged ones of the same kind whose start
is within ``start_tolerance_s`` of the bench instant; a logged event no played event claims is "invented".
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hil.core import Measurement, PointSpec, PositionOutcome, RunContext, Step
from hil.kinds.power_quality.model import PqEventsTest
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import dlms_port, idle_spec, outcome
from hil.standards import MeterRating
from instruments.drivers.errors import BenchFault

KIND = "pq_events"


def pq_events_tasks(test: PqEventsTest, rating: MeterRating, positions: list[int]) -> list[Step]:
    spec = idle_spec(KIND, f"{len(test.events)} dips, swells and interruptions", rating)
    played_s = sum(e.duration_s + test.gap_s for e in test.events)

    def run(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run(session, task, test, rating)

    # a swell's voltage within the bench's and the meters' ratings: checked at plan load, before anything is played
    swells = tuple(PointSpec(KIND, f"swell to {e.level_pct:g} %", rating.un_v * e.level_pct / 100, 0.0, 0.0, "1",
                             frequency_hz=rating.frequency_hz) for e in test.events if e.kind == "swell")
    return [Step(test.id, KIND, spec.point, spec, positions, run, lambda o: _measurements(o, test),
                 duration_s=played_s + test.gap_s, params={"port_only": False}, setpoints=swells)]


def _counters(port: Any, test: PqEventsTest) -> dict[str, int]:
    return {k: int(port.get(1, ln, 2).value) for k, ln in (("dip", test.dip_counter), ("swell", test.swell_counter),
                                                           ("interruption", test.interruption_counter))}


def _log(port: Any, test: PqEventsTest, lo: dt.datetime, hi: dt.datetime) -> list[dict[str, Any]]:
    """The log's entries in [lo, hi]: start (UTC), code, duration (s), voltage (V), by the capture objects'
    scalers."""
    from instruments.dlms.cosem import ScalerUnit

    rows = port.profile(test.event_log, start=lo, end=hi)
    cols = rows.columns
    if len(cols) < 4:
        raise BenchFault("meter port", f"{test.event_log} has {len(cols)} columns; the test reads {{clock, code, "
                                       "duration, voltage}}")
    scale = [ScalerUnit.from_data(port.get(3, c[1], 3)).apply(1.0) if c[0] in (3, 4) else 1.0 for c in cols[2:4]]
    out = []
    for r in rows.rows:
        when = r[0]
        out.append({"start": when.astimezone(dt.UTC).isoformat() if isinstance(when, dt.datetime) else None,
                    "code": int(r[1]), "duration_s": float(r[2]) * scale[0], "voltage_v": float(r[3]) * scale[1]})
    return out


def _run(session: RunContext, task: Step, test: PqEventsTest, rating: MeterRating) -> list[PositionOutcome]:
    from instruments.roles import DipSource

    bench, clock = session.bench, session.bench.clock
    runner = runner_of(session)
    src = bench.source
    if not isinstance(src, DipSource):
        raise BenchFault("source", f"{type(src).__name__} cannot play dips, swells or interruptions")
    for e in test.events:  # every event within the source's range before anything is played
        src.check_dip(e.level_pct, duration_s=e.duration_s, phases=e.phases)
    runner.energise(task.spec)
    broken: dict[int, str] = {}
    before: dict[int, dict[str, int]] = {}
    for p in task.positions:
        try:
            port = dlms_port(bench, p)
            port.set_clock(clock.utc())
            before[p] = _counters(port, test)
        except BenchFault as exc:
            broken[p] = f"PQ objects not readable: {exc}"
    start = clock.utc()
    played = []
    clock.sleep(test.gap_s)
    try:
        for e in test.events:
            src.program_dip(e.level_pct, duration_s=e.duration_s, phases=e.phases)
            at = clock.utc()
            src.trigger_dip()
            played.append({"kind": e.kind, "start": at.isoformat(), "duration_s": e.duration_s,
                           "voltage_v": rating.un_v * e.level_pct / 100.0})
            clock.sleep(e.duration_s + test.gap_s)
    finally:
        src.abort_dips()
    end = clock.utc()
    read: dict[int, dict[str, Any]] = {}
    for p in task.positions:
        if p in broken:
            continue
        try:
            port = dlms_port(bench, p)
            after = _counters(port, test)
            logged = _log(port, test, start - dt.timedelta(seconds=1), end)
            read[p] = {"played": json.dumps(played), "logged": json.dumps(logged), "un_v": rating.un_v,
                       "counted": json.dumps({k: after[k] - before[p][k] for k in after})}
        except BenchFault as exc:
            broken[p] = f"PQ objects not readable: {exc}"
    return [outcome(bench, p, broken, read.get(p), (end - start).total_seconds()) for p in task.positions]


def _measurements(o: PositionOutcome, test: PqEventsTest) -> list[Measurement]:
    played, logged = json.loads(o.extra["played"]), json.loads(o.extra["logged"])
    counted: dict[str, int] = json.loads(o.extra["counted"])
    un = o.extra["un_v"]
    names = {v: k for k, v in test.codes.items()}
    free = list(range(len(logged)))
    out = []
    for i, ev in enumerate(played, 1):
        at = dt.datetime.fromisoformat(ev["start"])
        match = next((j for j in free if names.get(logged[j]["code"]) == ev["kind"] and logged[j]["start"]
                      and abs((dt.datetime.fromisoformat(logged[j]["start"]) - at).total_seconds())
                      <= test.start_tolerance_s), None)
        what = f"{ev['kind']} {i} ({ev['voltage_v']:.1f} V for {ev['duration_s']:g} s)"
        if match is None:
            out.append(Measurement(f"event {i} logged", False,
                                   text=f"{what}: no {ev['kind']} in the event log near {at.time().isoformat()}"))
            continue
        free.remove(match)
        got = logged[match]
        out.append(Measurement.within(f"event {i} duration", got["duration_s"] - ev["duration_s"],
                                      test.duration_tolerance_s, "s",
                                      text=f"{what}: logged {got['duration_s']:g} s"))
        tol_v = test.voltage_tolerance_pct / 100.0 * un
        out.append(Measurement.within(f"event {i} voltage", got["voltage_v"] - ev["voltage_v"], tol_v, "V",
                                      text=f"{what}: logged {got['voltage_v']:.1f} V"))
    for kind in ("dip", "swell", "interruption"):
        want = sum(1 for e in played if e["kind"] == kind)
        got_n = counted.get(kind, 0)
        out.append(Measurement(f"{kind} counter", got_n - want, "", 0, 0,
                               text=f"{kind} counter advanced by {got_n} for {want} played"))
    extra = [logged[j] for j in free]
    out.append(Measurement("events invented", len(extra), "", upper=0, text=(
        "no event logged that was not played" if not extra else
        "logged but not played: " + ", ".join(f"{names.get(x['code'], x['code'])} at {x['start']}" for x in extra))))
    return out
