"""Functional checks as plan tasks: every position at once, judged per meter like any load point.

Rows carry the measured quantity in its own unit (``value``, ``unit``, ``limit``, ``value_uncertainty``: expanded,
k = 2); ``error_pct`` stays empty and ``limit_pct`` 0 (no percentage limit), as for the pulse-count tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hil.core import Measurement, PlanError, PointSpec, PositionOutcome, RunContext, Step
from hil.core.measurement import UNCERTAINTY_FRACTION
from hil.kinds.functional.clock import (
    ClockReading,
    drift_s_per_day,
    port_session,
    read_at_tick,
    reference_at,
    set_to_reference,
    utc,
)
from hil.kinds.functional.model import ClockTest, FunctionalTest, TariffSwitch, TariffTest
from hil.measure.accuracy import runner_of
from hil.standards import MeterRating, PowerFactor, StandardsLibrary, decide, uncertainty_adequate
from hil.standards.timekeeping import TIMEKEEPING_ACCURACY
from instruments.drivers.errors import BenchFault
from instruments.drivers.iec62056 import number_of

#: limits a plan sets itself (the lab's figures): how the rows mark them, as the sequences' shift limit
PLAN_TABLE, PLAN_STATUS = "plan", "lab"


def functional_tasks(test: FunctionalTest, rating: MeterRating, positions: list[int], rule: str,
                     library: StandardsLibrary, conditional_pass: str = "fail") -> list[Step]:
    """``rule`` and ``conditional_pass``: the plan's decision rule and what a conditional pass counts as."""
    if isinstance(test, ClockTest):
        return _clock_tasks(test, rating, positions, rule, conditional_pass)
    return _tariff_tasks(test, rating, positions, rule, library, conditional_pass)


def _idle(kind: str, point: str, rating: MeterRating, standard: str, limit_table: str,
          limit_status: str) -> PointSpec:
    """Un on every phase, no current: the meter is powered and registers nothing."""
    return PointSpec(kind, point, rating.un_v, 0.0, 0.0, "1", frequency_hz=rating.frequency_hz, standard=standard,
                     limit_table=limit_table, limit_status=limit_status)


def _broken(position: int, serial: str, why: str) -> PositionOutcome:
    return PositionOutcome(position, serial, 0, 0, None, 0.0, "broken", why)


def _value(o: PositionOutcome, name: str, limit: float, unit: str, rule: str, remedy: str,
           conditional_pass: str, suffix: str = "") -> Measurement:
    """A value in its own unit (``extra["value"]``, expanded uncertainty ``extra["value_uncertainty"]``) held to
    ±``limit`` under the plan's decision rule (the core decides), worded with its uncertainty and outcome, and the
    1/5-of-the-limit uncertainty check with what to do about it."""
    value, u = o.extra.get("value"), o.extra.get("value_uncertainty")

    def text(passed: bool) -> str:
        assert value is not None and u is not None
        d = decide(float(value), limit, float(u), rule)  # type: ignore[arg-type]
        where = "within" if abs(float(value)) <= limit else "outside"
        why = (f"{name} {float(value):+.3f} {unit} {where} ±{limit:g} {unit} (U = {float(u):.2g} {unit}, "
               f"{d.outcome.value}, {d.rule})")
        if not uncertainty_adequate(float(u), limit, fraction=UNCERTAINTY_FRACTION).ok:
            why += f"; uncertainty {float(u):.2g} {unit} exceeds 1/5 of the limit: {remedy}"
        return why

    return Measurement.within(name, value, limit, unit, uncertainty=u, rule=rule, conditional_pass=conditional_pass,
                              text=text, suffix=suffix, check_uncertainty=False)


# -- clock ----------------------------------------------------------------------------------------------------
def _clock_tasks(test: ClockTest, rating: MeterRating, positions: list[int], rule: str,
                 conditional_pass: str) -> list[Step]:
    zone = ZoneInfo(test.meter_timezone)
    tasks = []
    if test.set_clock:
        spec = _idle("clock", "clock set", rating, "", PLAN_TABLE, PLAN_STATUS)

        def run_set(session: RunContext, task: Step) -> list[PositionOutcome]:
            bench = session.bench
            runner_of(session).energise(task.spec)
            out = []
            for p in task.positions:
                serial = bench.meter(p).spec.serial
                try:
                    port = _port(bench, p)
                    set_to = set_to_reference(port, bench.clock, zone, time_register=test.time_register,
                                              date_register=test.date_register)
                    reading = read_at_tick(port, bench.clock, zone, poll_s=test.poll_s,
                                           time_register=test.time_register, date_register=test.date_register)
                except BenchFault as exc:
                    out.append(_broken(p, serial, f"clock not set: {exc}"))
                    continue
                o = _reading_outcome(p, serial, reading, 0.0)
                o.extra.update(value=round(reading.offset_s, 4), unit="s", limit=test.max_set_offset_s,
                               value_uncertainty=round(2 * reading.standard_uncertainty_s, 4), set_to=utc(set_to))
                out.append(o)
            return out

        def measure_set(o: PositionOutcome) -> list[Measurement]:
            return [_value(o, "offset after setting", test.max_set_offset_s, "s", rule, "poll faster",
                           conditional_pass)]

        tasks.append(Step(test.id, "clock", "clock set", spec, positions, run_set, measure_set, decision_rule=rule,
                          duration_s=2.0 * len(positions), params={"port_only": True}))

    src = TIMEKEEPING_ACCURACY
    limit = test.max_drift_s_per_day if test.max_drift_s_per_day is not None else src.value
    point = f"clock drift {test.duration_h:g} h"
    spec = (_idle("clock", point, rating, src.standard, src.clause, src.status) if test.max_drift_s_per_day is None
            else _idle("clock", point, rating, "", PLAN_TABLE, PLAN_STATUS))
    duration_s = test.duration_h * 3600.0

    def run_drift(session: RunContext, task: Step) -> list[PositionOutcome]:
        bench = session.bench
        runner_of(session).energise(task.spec)
        first = _read_all(session, task.positions, test, zone)
        t0 = bench.clock.now()
        bench.clock.sleep(duration_s)
        second = _read_all(session, task.positions, test, zone)
        out = []
        for p in task.positions:
            a, b = first[p], second[p]
            serial = bench.meter(p).spec.serial
            if isinstance(a, str) or isinstance(b, str):
                out.append(_broken(p, serial, a if isinstance(a, str) else str(b)))
                continue
            drift, u = drift_s_per_day(a, b)
            o = _reading_outcome(p, serial, b, bench.clock.now() - t0)
            o.extra.update(value=round(drift, 4), unit="s/day", limit=limit, value_uncertainty=round(u, 4),
                           offset_start_s=round(a.offset_s, 4))
            out.append(o)
        return out

    def measure_drift(o: PositionOutcome) -> list[Measurement]:
        return [_value(o, "drift", limit, "s/day", rule, "poll faster or measure longer", conditional_pass,
                       f" over {test.duration_h:g} h (offset {o.extra['offset_start_s']:+.3f} s → "
                       f"{o.extra['offset_s']:+.3f} s)")]

    tasks.append(Step(test.id, "clock", point, spec, positions, run_drift, measure_drift, decision_rule=rule,
                      duration_s=duration_s, params={"port_only": True}))
    return tasks


def _read_all(session: RunContext, positions: list[int], test: ClockTest,
              zone: ZoneInfo) -> dict[int, ClockReading | str]:
    """Each position's clock at its tick, or why it could not be read."""
    bench = session.bench
    out: dict[int, ClockReading | str] = {}
    for p in positions:
        try:
            out[p] = read_at_tick(_port(bench, p), bench.clock, zone, poll_s=test.poll_s,
                                  time_register=test.time_register, date_register=test.date_register)
        except BenchFault as exc:
            out[p] = f"clock unreadable: {exc}"
    return out


def _reading_outcome(position: int, serial: str, r: ClockReading, duration_s: float) -> PositionOutcome:
    o = PositionOutcome(position, serial, 0, 0, None, duration_s, None)
    o.extra.update(offset_s=round(r.offset_s, 4), meter_time=r.meter_time.isoformat(),
                   reference_time=utc(r.reference_time))
    return o


# -- tariffs --------------------------------------------------------------------------------------------------
def _tariff_tasks(test: TariffTest, rating: MeterRating, positions: list[int], rule: str,
                  library: StandardsLibrary, conditional_pass: str) -> list[Step]:
    try:
        amps = rating.currents(library).evaluate(test.current)
        pf = PowerFactor.parse(test.power_factor)
    except ValueError as exc:
        raise PlanError(f"test {test.id!r}: {exc}") from exc
    zone = ZoneInfo(test.meter_timezone)
    tasks = []
    for switch, before in test.switches():
        point = f"tariff {before}→{switch.tariff} at {switch.at}"
        load = PointSpec("tariff", point, rating.un_v, amps, pf.phi_deg, str(pf), frequency_hz=rating.frequency_hz,
                         limit_table=PLAN_TABLE, limit_status=PLAN_STATUS)

        def run(session: RunContext, task: Step, switch: TariffSwitch = switch, before: int = before) -> \
                list[PositionOutcome]:
            return _run_switch(session, task, test, switch, before, zone)

        def measure(o: PositionOutcome, before: int = before, after: int = switch.tariff) -> list[Measurement]:
            return _switch_measurements(o, test, before, after, rule, conditional_pass)

        tasks.append(Step(test.id, "tariff", point, load, positions, run, measure, decision_rule=rule,
                          duration_s=test.lead_s + test.after_s, params={"port_only": True}))
    return tasks


def _run_switch(session: RunContext, task: Step, test: TariffTest, switch: TariffSwitch, before: int,
                zone: ZoneInfo) -> list[PositionOutcome]:
    """Where the meter switches tariff, against where its clock says it should.

    With no current: the registers read (for the sum check) and each meter's clock set ``lead_s`` before the
    switch. With the current steady (after settling, so no source transient is in the window): the old tariff's
    register read before the switch and the new one's after it, each read timed; the energy between them splits
    at the switch in proportion to time. With no current again: the registers read, the clock set back."""
    bench, clock = session.bench, session.bench.clock
    runner = runner_of(session)
    old, new, total = test.registers[before], test.registers[switch.tariff], test.total_register
    idle = dataclasses.replace(task.spec, current_a=0.0)
    runner.energise(idle)
    start: dict[int, dict[str, float]] = {}
    switch_at: dict[int, tuple[float, float]] = {}  # bench time of the switch by the meter's clock, ± half width
    broken: dict[int, str] = {}
    h, m = (int(x) for x in switch.at.split(":"))
    ref = reference_at(clock)
    for p in task.positions:
        try:
            with port_session(_port(bench, p)) as s:
                start[p] = {r: number_of(s.read(r)) for r in (old, new, total)}
                day = ref(clock.now()).astimezone(zone).date()
                when = datetime(day.year, day.month, day.day, h, m, tzinfo=zone) - timedelta(seconds=test.lead_s)
                t0 = clock.now()
                s.write(test.time_register, when.strftime("%H:%M:%S"))
                t1 = clock.now()
            switch_at[p] = ((t0 + t1) / 2 + test.lead_s, (t1 - t0) / 2)
        except BenchFault as exc:
            broken[p] = f"registers or clock not accessible: {exc}"
    def set_back() -> dict[int, str]:
        """Every clock that was set, back to the reference time (best effort: why one could not be)."""
        failed = {}
        for p in switch_at:
            try:
                set_to_reference(_port(bench, p), clock, zone, time_register=test.time_register,
                                 date_register=test.date_register)
            except BenchFault as exc:
                failed[p] = f"clock not set back to the reference time: {exc}"
        return failed

    end: dict[int, dict[str, float]] = {}
    try:
        runner.energise(task.spec)
        at_a = _timed_reads(bench, clock, switch_at, old, new, broken)
        late = [p for p, r in at_a.items() if r.t >= switch_at[p][0]]
        if late:
            raise BenchFault("meter port", f"position(s) {late}: the registers were read after the switch time"
                             f" ({test.lead_s:g} s lead): raise lead_s")
        clock.sleep(max(max((t for t, _ in switch_at.values()), default=clock.now()) + test.after_s - clock.now(),
                        0.0))
        at_b = _timed_reads(bench, clock, switch_at, new, old, broken)
        runner.energise(idle)
        for p in task.positions:
            if p not in broken:
                try:
                    with port_session(_port(bench, p)) as s:
                        end[p] = {r: number_of(s.read(r)) for r in (old, new, total)}
                except BenchFault as exc:
                    broken[p] = f"registers not accessible after the switch: {exc}"
    except Exception:
        # a meter must not leave the bench with its clock minutes off; a Ctrl-C or SIGTERM skips this (the
        # source goes off first, and a dead port would only delay it)
        with contextlib.suppress(Exception):
            runner.energise(idle)
            set_back()
        raise
    for p, why in set_back().items():
        broken.setdefault(p, why)
    out = []
    for p in task.positions:
        serial = bench.meter(p).spec.serial
        if p in broken or p not in at_b or p not in end:
            out.append(_broken(p, serial, broken.get(p, "")))
            continue
        a, b, (t_sw, h_sw) = at_a[p], at_b[p], switch_at[p]
        ta, tb = a.t, b.t
        d_old, d_new = b.other - a.value, b.value - a.other  # old: read timed before, new: read timed after
        o = PositionOutcome(p, serial, 0, 0, None, tb - ta, None)
        o.extra.update(register_old=old, register_new=new, old_advance_kwh=round(d_old, 6),
                       new_advance_kwh=round(d_new, 6),
                       total_advance_kwh=round(end[p][total] - start[p][total], 6),
                       sum_advance_kwh=round(end[p][old] - start[p][old] + end[p][new] - start[p][new], 6),
                       switch_expected_s=round(t_sw - ta, 3), unit="s", limit=test.max_switch_error_s)
        if d_old > 0 and d_new > 0:  # a switch inside the window (else the judgement says which side is empty)
            rate = (d_old + d_new) / (tb - ta)  # kWh/s, steady: the meter's own rate, its error cancels
            measured = d_old / rate
            # rectangular bounds: a register step on the split, the read and clock-set instants
            u = math.sqrt(((test.register_resolution_kwh / rate) ** 2 + a.half ** 2 + b.half ** 2 + h_sw ** 2) / 3)
            o.extra.update(switch_measured_s=round(measured, 3), value=round(measured - (t_sw - ta), 3),
                           value_uncertainty=round(2 * u, 3))
        out.append(o)
    return out


@dataclass(frozen=True)
class _Timed:
    """A register read at a known bench time (the middle of its request–reply, ± half), and a second register
    that is not advancing then (its read time does not matter)."""

    t: float
    half: float
    value: float
    other: float


def _timed_reads(bench: Any, clock: Any, positions: dict[int, Any], timed: str, other: str,
                 broken: dict[int, str]) -> dict[int, _Timed]:
    out = {}
    for p in positions:
        if p in broken:
            continue
        try:
            with port_session(_port(bench, p)) as s:
                t0 = clock.now()
                value = number_of(s.read(timed))
                t1 = clock.now()
                still = number_of(s.read(other))
            out[p] = _Timed((t0 + t1) / 2, (t1 - t0) / 2, value, still)
        except BenchFault as exc:
            broken[p] = f"register {timed} unreadable: {exc}"
    return out


def _port(bench: Any, position: int) -> Any:
    port = bench.meter(position).port
    if port is None:
        raise BenchFault("meter port", "the bench file gives no port for this position")
    return port


def _switch_measurements(o: PositionOutcome, test: TariffTest, before: int, after: int, rule: str,
                         conditional_pass: str) -> list[Measurement]:
    """In the order they are judged: the total register advanced by the sum of the tariff registers (read with no
    current, each truncating to its last digit: 2 steps), energy in the tariff registers, the new tariff after
    the switch, the old one before it, then the switch time against the meter's clock."""
    x = o.extra
    d_old, d_new = x["old_advance_kwh"], x["new_advance_kwh"]
    at = test.at_of(after, before)
    split = (f"{x['register_old']} +{d_old:g} kWh, {x['register_new']} +{d_new:g} kWh across the switch;"
             f" {test.total_register} +{x['total_advance_kwh']:g} kWh, tariff registers +{x['sum_advance_kwh']:g}"
             " kWh in all")
    sum_ok = abs(x["total_advance_kwh"] - x["sum_advance_kwh"]) <= 2 * test.register_resolution_kwh + 1e-9
    return [
        Measurement("total = sum of tariffs", sum_ok,
                    text=f"{test.total_register} did not advance by the sum of the tariff registers: {split}"),
        Measurement("tariff energy", d_old + d_new > 0, text=f"no energy in the tariff registers: {split}"),
        Measurement("new tariff registers", d_new > 0,
                    text=f"no switch to tariff {after} within {test.after_s:g} s after {at}: {split}"),
        Measurement("old tariff registers", d_old > 0, text=f"tariff {before} registered nothing before {at}: {split}"),
        _value(o, f"switch {before}→{after}", test.max_switch_error_s, "s", rule,
               "test at a higher current (a register step is less time)", conditional_pass, f": {split}"),
    ]
