"""The load profile test: the meter's electricity memory against the bench's reference energy, interval by interval.

Procedure (every position at once): the meters' clocks are set to the bench's reference time over DLMS, the load is
applied, the reference integrates energy from one capture instant on and is read at every capture instant of the
bench clock; an optional supply interruption is played by the source. Then each meter's profile is read by range
(selective access by the clock column) and judged:

1. the entries expected at the capture instants are there, none twice (no gap, no duplicate);
2. every timestamp sits on the capture period;
3. the power-down bit is set on exactly the intervals the interruption touched;
4. each interval's energy delta against the reference energy of the same interval, within the class limit at the
   test current (the standards library) plus the register resolution (two truncated readings: one step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hil.core import Measurement, PlanError, PointSpec, PositionOutcome, RunContext, Step
from hil.kinds.dlms.model import LoadProfileTest
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import dlms_port, resolve_load
from hil.standards import MeterRating, StandardsLibrary
from instruments.drivers.errors import BenchFault

#: seconds after the last capture instant before the profiles are read (the meters capture on their own clocks)
_READ_MARGIN_S = 5.0
#: a timestamp more than this off the capture grid is "off grid" (the 1/100 s resolution of a COSEM date-time)
_GRID_TOLERANCE_S = 0.01


@dataclass(frozen=True)
class _Plan:
    """The bench side of one run: capture instants (UTC), reference energy at each, the interruption."""

    instants: list[datetime]
    reference_wh: list[float]
    off: tuple[datetime, datetime] | None


def load_profile_tasks(test: LoadProfileTest, rating: MeterRating, positions: list[int], rule: str,
                       library: StandardsLibrary, conditional_pass: str) -> list[Step]:
    load = resolve_load(test.id, rating, library, test.current, test.power_factor, with_limit=True)
    amps, pf, row = load.amps, load.pf, load.row
    assert row is not None
    point = f"load profile {test.intervals} intervals at {test.current} PF {pf}"
    if test.interruption is not None:
        point += f", {test.interruption.duration_s:g} s interruption"
    spec = PointSpec("load_profile", point, rating.un_v, amps, pf.phi_deg, str(pf), frequency_hz=rating.frequency_hz,
                     limit_pct=row.limit_pct, standard=f"{row.provenance.standard}:{row.provenance.edition}",
                     limit_table=row.provenance.table,
                     limit_status=row.provenance.status)

    def run(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run(session, task, test)

    def measure(o: PositionOutcome) -> list[Measurement]:
        return _measurements(o, test, row.limit_pct, rule, conditional_pass)

    return [Step(test.id, "load_profile", point, spec, positions, run, measure, limit_pct=row.limit_pct,
                 decision_rule=rule, duration_s=(test.intervals + 1) * 900.0, params={"port_only": False})]


def _run(session: RunContext, task: Step, test: LoadProfileTest) -> list[PositionOutcome]:
    bench, clock = session.bench, session.bench.clock
    runner = runner_of(session)
    broken: dict[int, str] = {}
    periods: dict[int, int] = {}
    runner.energise(task.spec)  # the meters are powered (their ports answer) and registering
    for p in task.positions:
        try:
            port = dlms_port(bench, p)
            if test.set_clock:
                port.set_clock(clock.utc())
            periods[p] = int(port.get(7, test.profile, 4).value)
        except BenchFault as exc:
            broken[p] = f"profile not accessible: {exc}"
    period = max(set(periods.values()), key=list(periods.values()).count) if periods else 900
    plan = _play(bench, clock, runner, task, test, period)
    out = []
    lo, hi = plan.instants[0] - timedelta(seconds=period / 2), plan.instants[-1] + timedelta(seconds=period / 2)
    for p in task.positions:
        serial = bench.meter(p).spec.serial
        if p in broken:
            out.append(PositionOutcome(p, serial, 0, 0, None, 0.0, "broken", broken[p]))
            continue
        try:
            rows = dlms_port(bench, p).profile(test.profile, start=lo, end=hi)
        except BenchFault as exc:
            out.append(PositionOutcome(p, serial, 0, 0, None, 0.0, "broken", f"profile not read: {exc}"))
            continue
        o = PositionOutcome(p, serial, 0, 0, None, (plan.instants[-1] - plan.instants[0]).total_seconds(), None)
        o.extra.update(_entries(rows, test, periods.get(p, period), plan, task.limit_pct))
        out.append(o)
    return out


def _play(bench: Any, clock: Any, runner: Any, task: Step, test: LoadProfileTest, period: int) -> _Plan:
    """Reference energy read at each capture instant of the bench clock (during an interruption too: the
    reference keeps integrating, nothing is delivered), the interruption played in time order between them."""
    ref = bench.reference
    now = clock.utc()
    first = datetime.fromtimestamp((math.floor(now.timestamp() / period) + 1) * period, UTC)
    if (first - now).total_seconds() < 2.0:  # room to start the integration before the first instant
        first += timedelta(seconds=period)
    clock.sleep(max((first - clock.utc()).total_seconds() - 1.0, 0.0))
    ref.start_integration()
    events: list[tuple[datetime, int, str]] = [(first + timedelta(seconds=k * period), 1, "read")
                                               for k in range(test.intervals + 1)]
    cut = test.interruption
    if cut is not None:
        start = first + timedelta(seconds=cut.after_intervals * period + cut.offset_s)
        events += [(start, 0, "off"), (start + timedelta(seconds=cut.duration_s), 0, "on")]
    instants, energy = [], []
    t_off: datetime | None = None
    off: tuple[datetime, datetime] | None = None
    for at, _, what in sorted(events):
        clock.sleep(max((at - clock.utc()).total_seconds(), 0.0))
        if what == "read":
            instants.append(at)
            energy.append(float(ref.read([("WH", "SIGMA")])[0]))
        elif what == "off":
            bench.source.output_off()
            t_off = clock.utc()
        else:
            bench.source.output_on()  # the programmed load comes back; the reference measures it as it settles
            assert t_off is not None
            off = (t_off, clock.utc())
    if cut is not None and off is None:
        raise PlanError(f"test {test.id!r}: the interruption ends after the last interval")
    clock.sleep(_READ_MARGIN_S)
    return _Plan(instants, energy, off)


def _entries(rows: Any, test: LoadProfileTest, period: int, plan: _Plan, class_limit_pct: float) -> dict[str, Any]:
    """The profile's rows reduced to what is judged, and the expectations from the bench's side."""
    cols = [str(c[1]) for c in rows.columns]
    try:
        i_time = next(i for i, c in enumerate(rows.columns) if c[0] == 8)
        i_energy, i_status = cols.index(test.energy_column), cols.index(test.status_column)
    except (StopIteration, ValueError):
        raise BenchFault("meter port", f"profile {test.profile} has columns {cols}: no clock, "
                                       f"{test.energy_column} or {test.status_column}") from None
    times = [r[i_time] for r in rows.rows]
    if not all(isinstance(t, datetime) for t in times):
        raise BenchFault("meter port", f"profile {test.profile}: a clock column value is not a date-time")
    stamps = [t.timestamp() for t in times]
    expected = [t.timestamp() for t in plan.instants]
    # an entry belongs to the expected instant nearest to it (the meter's clock may be off by a fraction of a s)
    matched: dict[int, list[int]] = {}
    for i, s in enumerate(stamps):
        j = min(range(len(expected)), key=lambda j: abs(expected[j] - s))
        if abs(expected[j] - s) < period / 2:
            matched.setdefault(j, []).append(i)
    missing = [j for j in range(len(expected)) if j not in matched]
    duplicates = sum(len(v) - 1 for v in matched.values())
    off_grid = sum(1 for s in stamps if abs(s - round(s / period) * period) > _GRID_TOLERANCE_S)
    bit = 1 << test.power_down_bit
    flagged = {j for j, v in matched.items() if any(int(rows.rows[i][i_status]) & bit for i in v)}
    touched: set[int] = set()
    if plan.off is not None:
        t0, t1 = plan.off[0].timestamp(), plan.off[1].timestamp()
        # the interval ending at instant j ran from expected[j-1] to expected[j]: it saw the failure if they overlap
        touched = {j for j in range(1, len(expected)) if expected[j - 1] < t1 and expected[j] > t0}
    # the interval judged is the one nearest its own limit (class + one register step of that interval's energy)
    worst: tuple[float, float, int] | None = None  # (error %, resolution %, instant index)
    intervals: list[dict[str, Any]] = []
    for j in range(1, len(expected)):
        if j not in matched or j - 1 not in matched:
            continue
        meter_wh = float(rows.rows[matched[j][0]][i_energy]) - float(rows.rows[matched[j - 1][0]][i_energy])
        ref_wh = plan.reference_wh[j] - plan.reference_wh[j - 1]
        intervals.append({"end": plan.instants[j].isoformat(), "meter_wh": meter_wh, "reference_wh": round(ref_wh, 4)})
        if ref_wh <= 10 * test.register_resolution_wh:
            continue  # (almost) no energy delivered: no error to compute
        err, res = (meter_wh - ref_wh) / ref_wh * 100.0, 100.0 * test.register_resolution_wh / ref_wh
        if worst is None or abs(err) / (class_limit_pct + res) > abs(worst[0]) / (class_limit_pct + worst[1]):
            worst = (err, res, j)
    return {
        "expected_entries": len(expected), "entries": len(stamps), "missing": len(missing),
        "missing_at": [plan.instants[j].isoformat() for j in missing], "duplicates": duplicates, "off_grid": off_grid,
        "flags_wrong": len(flagged ^ touched), "flags_expected": sorted(plan.instants[j].isoformat() for j in touched),
        "flags_found": sorted(plan.instants[j].isoformat() for j in flagged),
        "worst_interval_error_pct": None if worst is None else round(worst[0], 4),
        "worst_interval_end": None if worst is None else plan.instants[worst[2]].isoformat(),
        "resolution_pct": None if worst is None else round(worst[1], 4),
        "intervals": intervals,
    }


def _measurements(o: PositionOutcome, test: LoadProfileTest, class_limit_pct: float, rule: str,
                  conditional_pass: str) -> list[Measurement]:
    x = o.extra
    gap = f"{x['missing']} of {x['expected_entries']} entries missing ({', '.join(x['missing_at'][:4])}" + \
        ("…" if x["missing"] > 4 else "") + ")"
    flags = f"power-down flag expected at {x['flags_expected'] or 'no interval'}, found at {x['flags_found'] or 'none'}"
    out = [
        Measurement("missing entries", x["missing"], "", upper=0,
                    text=lambda ok: "no gap" if ok else f"gap in the load profile: {gap}"),
        Measurement("duplicate entries", x["duplicates"], "", upper=0,
                    text=lambda ok: "no duplicate" if ok else f"{x['duplicates']} duplicate entries"),
        Measurement("entries off the capture period", x["off_grid"], "", upper=0,
                    text=lambda ok: "timestamps on the capture period" if ok
                    else f"{x['off_grid']} timestamps off the capture period"),
        Measurement("wrong power-down flags", x["flags_wrong"], "", upper=0,
                    text=lambda ok: flags if ok else f"status bits wrong: {flags}"),
    ]
    limit = None if x["resolution_pct"] is None else class_limit_pct + x["resolution_pct"]
    value = x["worst_interval_error_pct"]
    if limit is None or value is None:
        out.append(Measurement("interval energy error", None, "%",
                               text="no interval with energy delivered: nothing to compare"))
    else:
        out.append(Measurement.within(
            "interval energy error", value, limit, rule=rule, conditional_pass=conditional_pass,
            check_uncertainty=False,
            suffix=f" (the interval nearest its limit, ending {x['worst_interval_end']}; limit = class"
                   f" {class_limit_pct:g} % + one register step {x['resolution_pct']:g} %)"))
    return out
