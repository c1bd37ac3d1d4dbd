"""The clock and DST test: time zone and DST rule written over DLMS, the clock set against the bench clock, and each
DST switch of the chosen year run across on the virtual clock.

Procedure (every position at once, Un and no current):

1. **Clock set**: time_zone and the DST rule written (Clock IC 8 attributes 3, 5–8) and read back; the clock set to
   the bench's reference time (``bench.clock.utc()``, written as the local time with the deviation the rule gives)
   and read back at once: the offset against the bench clock, and the deviation and DST status the rule gives now.
2. **DST begin / DST end** of ``year`` (the bench works the instants out from the plan's rule: the begin pattern
   read in normal time, the end pattern in DST): each meter's clock is set ``lead_s`` before the instant; the bench
   clock runs across it while the clock is read every ``poll_s`` from just outside ``max_switch_error_s`` before to
   just outside it after (reads half a poll off the instant, so a switch on it is found at it), then ``after_s``
   after it. The meters' clocks are set back to the reference time at the end, on every exit path.

Judged per meter and switch, in this order: before the switch the deviation and status of the time before it
(−60 and the DST bit clear before the CET begin); after it those of the time after (−120, bit 0x80 set); the local
time after the switch is the bench's instant in the rule's local time; the meter's UTC (local time + deviation)
advanced with the bench clock across the switch (only its local representation jumps); the switch instant — the
middle of the two reads it fell between, against the bench time the meter's clock reached the rule's instant (the
clock set + ``lead_s``) — within ``max_switch_error_s``. A meter that did not switch at the rule's instant is asked
when it does: its clock set to instants around it (bisection, to 0.05 s, within ``search_days``) and its DST state
read — the meter's word, used only to name when it switched, never to judge.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from hil.core import Measurement, PlanError, PlanSection, PointSpec, PositionOutcome, RunContext, Step
from hil.kinds.dlms.timekeeping import (
    ClockValue,
    DstRule,
    Zone,
    read_clock,
    set_clock_local,
    utc_text,
    write_zone,
    zone_differences,
)
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import dlms_port, set_clocks_back
from hil.standards import MeterRating
from instruments.drivers.errors import BenchFault

#: the bisection that names when a meter switched stops at this width (the clock's hundredths, with a margin)
_FIND_RESOLUTION_S = 0.05
_BOTH: tuple[Literal["begin", "end"], ...] = ("begin", "end")


class ClockDstTest(PlanSection):
    """Clock with time zone and DST (Clock IC 8, IEC 62056-6-2 4.5.1): the rule written and read back, the clock set
    against the bench clock, and at each DST switch of ``year`` the deviation, the DST status bit and the local time
    as the rule says, the switch at the rule's instant within ``max_switch_error_s``, the meter's UTC continuous."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["clock_dst"]
    #: UTC − local normal time, minutes (−60 for CET)
    time_zone_min: int = Field(-60, ge=-720, le=720)
    #: the DST rule written (the EU rule for CET by default: last Sunday of March 02:00 → last Sunday of October
    #: 03:00, deviation 60)
    dst: DstRule = Field(default_factory=DstRule)
    #: the year whose switches are run across (None: the year of the bench's reference time)
    year: int | None = Field(None, ge=2000, le=2099)
    switches: list[Literal["begin", "end"]] = Field(default_factory=lambda: list(_BOTH), min_length=1)
    #: the clock is set this long before the switch; the state after it is read this long after
    lead_s: float = Field(30.0, ge=5)
    after_s: float = Field(30.0, ge=2)
    #: the switch may be this far from the rule's instant (the lab's figure)
    max_switch_error_s: float = Field(1.0, gt=0)
    #: the clock is read this often around the switch
    poll_s: float = Field(0.25, gt=0, le=10)
    #: after setting the clock and after the switch, the clock may be this far from the bench's (the lab's figure)
    max_set_offset_s: float = Field(1.0, gt=0)
    #: the meter's UTC may step this much across the switch (a clock that jumps by the deviation fails)
    max_utc_step_s: float = Field(1.0, gt=0)
    #: how far around the rule's instant to look for a switch that did not come at it (0: do not look)
    search_days: float = Field(35.0, ge=0, le=366)

    @property
    def zone(self) -> Zone:
        return Zone(self.time_zone_min, self.dst)

    @property
    def polls(self) -> list[float]:
        """The read offsets from the rule's instant: half a poll off it, from just outside the tolerance before to
        just outside it after."""
        n = math.ceil(self.max_switch_error_s / self.poll_s)
        return [(k + 0.5) * self.poll_s for k in range(-n - 1, n + 1)]

    @model_validator(mode="after")
    def _consistent(self) -> ClockDstTest:
        if not self.dst.enabled:
            raise ValueError("dst.enabled is false: there is no DST switch to test (enable it)")
        if self.dst.deviation_min == 0:
            raise ValueError("dst.deviation_min 0: a switch would change nothing")
        if len(set(self.switches)) != len(self.switches):
            raise ValueError("switches: each of begin / end once")
        reach = -self.polls[0]
        if self.lead_s <= reach + 1:
            raise ValueError(f"lead_s {self.lead_s:g} s must be more than {reach + 1:g} s: the first read comes"
                             f" {reach:g} s before the switch")
        if self.after_s <= reach:
            raise ValueError(f"after_s {self.after_s:g} s must be more than {reach:g} s (the last poll's)")
        return self


def clock_dst_tasks(test: ClockDstTest, rating: MeterRating, positions: list[int], rule: str,
                    conditional_pass: str) -> list[Step]:
    def spec(point: str) -> PointSpec:
        return PointSpec("clock_dst", point, rating.un_v, 0.0, 0.0, "1", frequency_hz=rating.frequency_hz,
                         limit_table="plan", limit_status="lab")

    set_spec = spec("clock set")

    def run_set(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run_set(session, task, test)

    def measure_set(o: PositionOutcome) -> list[Measurement]:
        return _set_measurements(o, test, rule, conditional_pass)

    steps = [Step(test.id, "clock_dst", "clock set", set_spec, positions, run_set, measure_set, decision_rule=rule,
                  duration_s=2.0 * len(positions), params={"port_only": True})]
    for which in test.switches:
        point = f"DST {which}" + (f" {test.year}" if test.year is not None else "")

        def run(session: RunContext, task: Step, which: str = which) -> list[PositionOutcome]:
            return _run_switch(session, task, test, which)

        def measure(o: PositionOutcome, which: str = which) -> list[Measurement]:
            return _switch_measurements(o, test, which, rule, conditional_pass)

        steps.append(Step(test.id, "clock_dst", point, spec(point), positions, run, measure, decision_rule=rule,
                          duration_s=test.lead_s + test.after_s, params={"port_only": True}))
    return steps


# -- configuration (once per run and test) ---------------------------------------------------------------------
@dataclass
class _Configured:
    refused: str = ""
    broken: str = ""
    differences: tuple[str, ...] = ()


class _ClockDstRun:
    def __init__(self, _run: Any) -> None:
        self.done: dict[str, dict[int, _Configured]] = {}


def _refusal(exc: BenchFault) -> bool:
    from instruments.dlms.client import DataAccessError

    return isinstance(getattr(exc, "cause", None), DataAccessError)


def _configured(session: RunContext, test: ClockDstTest, positions: list[int]) -> dict[int, _Configured]:
    state = session.service(_ClockDstRun).done.setdefault(test.id, {})
    for p in positions:
        if p in state:
            continue
        c = _Configured()
        try:
            port = dlms_port(session.bench, p)
            write_zone(port, test.zone)
            c.differences = tuple(zone_differences(port, test.zone))
        except BenchFault as exc:
            if _refusal(exc):
                c.refused = str(exc)
            else:
                c.broken = f"clock settings not written: {exc}"
        state[p] = c
    return state


@dataclass(frozen=True)
class _Timed:
    """A clock reading at a bench time (the middle of its request–reply, ± half) and the bench's UTC then."""

    t: float
    half: float
    value: ClockValue
    bench_utc: dt.datetime


def _read_timed(port: Any, clock: Any) -> _Timed:
    t0 = clock.now()
    value = read_clock(port)
    t1 = clock.now()
    mid = (t0 + t1) / 2
    return _Timed(mid, (t1 - t0) / 2, value, clock.utc() - dt.timedelta(seconds=clock.now() - mid))


def _run_set(session: RunContext, task: Step, test: ClockDstTest) -> list[PositionOutcome]:
    bench, clock = session.bench, session.bench.clock
    zone = test.zone
    runner_of(session).energise(task.spec)  # powered, no current
    state = _configured(session, test, task.positions)
    out = []
    for p in task.positions:
        serial = bench.meter(p).spec.serial
        c = state[p]
        if c.broken:
            out.append(PositionOutcome(p, serial, 0, 0, None, 0.0, "broken", c.broken))
            continue
        o = PositionOutcome(p, serial, 0, 0, None, 0.0, None)
        o.extra.update(refused=c.refused, differences=list(c.differences), offset_s=None, offset_uncertainty_s=None,
                       deviation_ok=False, clock_read="", expected_deviation=None)
        if not c.refused:
            try:
                port = dlms_port(bench, p)
                set_clock_local(port, zone, clock.utc())
                r = _read_timed(port, clock)
            except (BenchFault, ValueError) as exc:
                o.verdict, o.reason = "broken", f"clock not set or not read: {exc}"
                out.append(o)
                continue
            dev, on = zone.deviation(r.bench_utc), zone.in_dst(r.bench_utc)
            o.extra.update(offset_s=round((r.value.utc - r.bench_utc).total_seconds(), 3),
                           offset_uncertainty_s=round(2 * r.half / math.sqrt(3), 3), clock_read=r.value.text(),
                           deviation_ok=r.value.deviation == dev and r.value.dst_flag == on, expected_deviation=dev,
                           expected_dst=on, reference_time=utc_text(r.bench_utc))
        out.append(o)
    return out


def _set_measurements(o: PositionOutcome, test: ClockDstTest, rule: str, conditional_pass: str) -> list[Measurement]:
    x = o.extra
    diffs = "; ".join(x["differences"])
    bit = "set" if x.get("expected_dst") else "clear"
    expected = f"deviation {x['expected_deviation']} min with the DST bit {bit} at {x.get('reference_time')}"
    return [
        Measurement("clock settings accepted", not x["refused"],
                    text=lambda ok: "time zone and DST rule accepted" if ok
                    else f"the meter refused its time zone or DST rule: {x['refused']}"),
        Measurement("clock settings read back", not x["differences"],
                    text=lambda ok: "time zone and DST rule read back as written" if ok
                    else f"read back unlike the plan: {diffs}"),
        Measurement("deviation now", x["deviation_ok"],
                    text=lambda ok: f"{expected}, as the rule says" if ok
                    else f"the clock reads {x['clock_read']}, the rule gives {expected}"),
        Measurement.within("offset after setting", x["offset_s"], test.max_set_offset_s, "s",
                           uncertainty=x["offset_uncertainty_s"], rule=rule, conditional_pass=conditional_pass,
                           check_uncertainty=False, suffix=f" (clock {x['clock_read']})"),
    ]


# -- one switch ---------------------------------------------------------------------------------------------------
def _state(v: ClockValue, deviation: int, dst: bool) -> bool:
    return v.deviation == deviation and v.dst_flag == dst


def _find(port: Any, zone: Zone, lo: dt.datetime, hi: dt.datetime, new_dev: int, new_dst: bool) -> dt.datetime | None:
    """The instant the meter's DST state becomes the new one, between ``lo`` (must be the old one) and ``hi`` (the new
    one), by setting its clock and reading it; None when ``lo`` is not in the old state or ``hi`` not in the new."""
    def is_new(t: dt.datetime) -> bool:
        set_clock_local(port, zone, t)
        return _state(read_clock(port), new_dev, new_dst)

    if is_new(lo) or not is_new(hi):
        return None
    while (hi - lo).total_seconds() > _FIND_RESOLUTION_S:
        mid = lo + (hi - lo) / 2
        if is_new(mid):
            hi = mid
        else:
            lo = mid
    return (hi + dt.timedelta(microseconds=500_000)).replace(microsecond=0)


def _ago(seconds: float) -> str:
    s = abs(round(seconds))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    parts = [f"{d} d" if d else "", f"{h} h" if h else "", f"{m} min" if m else "", f"{sec} s" if sec else ""]
    text = " ".join(p for p in parts if p) or "0 s"
    return f"{text} {'before' if seconds < 0 else 'after'}"


def _run_switch(session: RunContext, task: Step, test: ClockDstTest, which: str) -> list[PositionOutcome]:
    bench, clock = session.bench, session.bench.clock
    zone = test.zone
    runner_of(session).energise(task.spec)
    state = _configured(session, test, task.positions)
    year = test.year if test.year is not None else clock.utc().year
    begin, end = zone.begin_end(year)
    instant = begin if which == "begin" else end
    if instant is None:
        raise PlanError(f"test {test.id!r}: the DST rule gives no {which} in {year}")
    new_dst = which == "begin"
    old_dev, new_dev = ((zone.normal_deviation, zone.dst_deviation) if new_dst
                        else (zone.dst_deviation, zone.normal_deviation))
    broken = {p: f"clock settings not written: {state[p].refused or state[p].broken}" for p in task.positions
              if state[p].refused or state[p].broken}
    set_at: dict[int, tuple[float, float]] = {}
    reads: dict[int, list[_Timed]] = {}
    found: dict[int, str] = {}

    def set_back() -> dict[int, str]:
        return set_clocks_back(bench, set_at, lambda port, utc: set_clock_local(port, zone, utc))

    def read_all() -> None:
        for p in set_at:
            if p not in broken:
                try:
                    reads.setdefault(p, []).append(_read_timed(dlms_port(bench, p), clock))
                except (BenchFault, ValueError) as exc:
                    broken[p] = f"clock not read: {exc}"

    try:
        for p in task.positions:
            if p in broken:
                continue
            try:
                port = dlms_port(bench, p)
                t0 = clock.now()
                set_clock_local(port, zone, instant - dt.timedelta(seconds=test.lead_s))
                t1 = clock.now()
                set_at[p] = ((t0 + t1) / 2, (t1 - t0) / 2)
            except BenchFault as exc:
                broken[p] = f"clock not set before the switch: {exc}"
        if set_at:
            base = sum(t for t, _ in set_at.values()) / len(set_at) + test.lead_s  # the switch on the bench clock
            for offset in [*test.polls, test.after_s]:
                clock.sleep(max(base + offset - clock.now(), 0.0))
                read_all()
            for p, rs in reads.items():  # no switch at the rule's instant: when did it come, by the meter's word?
                if p in broken or test.search_days <= 0 or len(rs) < 2:
                    continue
                early, late = not _state(rs[0].value, old_dev, not new_dst), not _state(rs[-1].value, new_dev, new_dst)
                if not (early or late):
                    continue
                span = dt.timedelta(days=test.search_days)
                near = dt.timedelta(seconds=-test.polls[0])
                lo, hi = (instant - span, instant - near) if early else (instant + near, instant + span)
                try:
                    at = _find(dlms_port(bench, p), zone, lo, hi, new_dev, new_dst)
                except (BenchFault, ValueError) as exc:
                    found[p] = f"its switch could not be looked for: {exc}"
                    continue
                if at is None:
                    found[p] = (f"no {which} of DST within {test.search_days:g} days"
                                f" {'before' if early else 'after'} the rule's instant (its clock set and read)")
                else:
                    found[p] = (f"its DST {'began' if new_dst else 'ended'} at {utc_text(at)},"
                                f" {_ago((at - instant).total_seconds())} the rule's instant (found by setting its"
                                " clock and reading it)")
    except Exception:
        with contextlib.suppress(Exception):  # a meter must not leave the bench with its clock months off
            set_back()
        raise
    for p, why in set_back().items():
        broken.setdefault(p, why)
    out = []
    for p in task.positions:
        serial = bench.meter(p).spec.serial
        rs = reads.get(p, [])
        if p in broken or len(rs) != len(test.polls) + 1:
            out.append(PositionOutcome(p, serial, 0, 0, None, 0.0, "broken", broken.get(p, "clock not read")))
            continue
        o = PositionOutcome(p, serial, 0, 0, None, rs[-1].t - rs[0].t, None)
        o.extra.update(_judged(test, which, instant, rs, set_at[p], old_dev, new_dev, new_dst))
        o.extra["found"] = found.get(p, "")
        out.append(o)
    return out


def _judged(test: ClockDstTest, which: str, instant: dt.datetime, rs: list[_Timed], set_at: tuple[float, float],
            old_dev: int, new_dev: int, new_dst: bool) -> dict[str, Any]:
    expected = set_at[0] + test.lead_s  # bench time the meter's clock reaches the rule's instant

    def meter_utc_expected(r: _Timed) -> dt.datetime:
        return instant + dt.timedelta(seconds=r.t - expected)

    first, after = rs[0], rs[-1]
    x: dict[str, Any] = {
        "switch": which, "rule_instant": utc_text(instant),
        "rule_local": f"{(instant - dt.timedelta(minutes=old_dev)).replace(tzinfo=None):%Y-%m-%d %H:%M:%S}",
        "deviation_before": old_dev, "deviation_after": new_dev, "dst_after": new_dst,
        "read_before": first.value.text(), "read_before_s": round(first.t - expected, 3),
        "read_after": after.value.text(), "read_after_s": round(after.t - expected, 3),
        "before_ok": _state(first.value, old_dev, not new_dst), "after_ok": _state(after.value, new_dev, new_dst),
        "switch_error_s": None, "switch_uncertainty_s": None,
    }
    want_local = (meter_utc_expected(after) - dt.timedelta(minutes=new_dev)).replace(tzinfo=None)
    x["local_after_error_s"] = round((after.value.local - want_local).total_seconds(), 3)
    x["local_after_expected"] = f"{want_local:%Y-%m-%d %H:%M:%S.%f}"[:-4]
    steps: list[float] = [(b.value.utc - a.value.utc).total_seconds() - (b.t - a.t) for a, b in itertools.pairwise(rs)]
    worst: float = max(steps, key=abs) if steps else 0.0
    x["utc_step_s"] = round(worst, 3)
    for a, b in itertools.pairwise(rs):
        if _state(a.value, old_dev, not new_dst) and _state(b.value, new_dev, new_dst):
            mid, half = (a.t + b.t) / 2, (b.t - a.t) / 2 + a.half + b.half
            u = math.sqrt((half ** 2 + set_at[1] ** 2) / 3)
            x.update(switch_error_s=round(mid - expected, 3), switch_uncertainty_s=round(2 * u, 3),
                     switch_between_s=[round(a.t - expected, 3), round(b.t - expected, 3)])
            break
    return x


def _switch_measurements(o: PositionOutcome, test: ClockDstTest, which: str, rule: str,
                         conditional_pass: str) -> list[Measurement]:
    x = o.extra
    found = f"; {x['found']}" if x["found"] else ""
    at = f"the rule's DST {which} {x['rule_instant']} ({x['rule_local']} local)"
    old = f"deviation {x['deviation_before']} min, DST bit {'clear' if x['dst_after'] else 'set'}"
    new = f"deviation {x['deviation_after']} min, DST bit {'set' if x['dst_after'] else 'clear'}"
    b_s, a_s = -x["read_before_s"], x["read_after_s"]
    out = [
        Measurement("state before the switch", x["before_ok"],
                    text=lambda ok: f"{old} {b_s:g} s before {at}" if ok
                    else f"no switch at {at}: {b_s:g} s before it the meter already read {x['read_before']}, expected"
                         f" {old}{found}"),
        Measurement("state after the switch", x["after_ok"],
                    text=lambda ok: f"{new} {a_s:g} s after {at}" if ok
                    else f"no switch at {at}: {a_s:g} s after it the meter still read {x['read_after']}, expected"
                         f" {new}{found}"),
        Measurement.within("local time after the switch", x["local_after_error_s"], test.max_set_offset_s, "s",
                           check_uncertainty=False,
                           suffix=f" (read {x['read_after']}, the rule gives {x['local_after_expected']})"),
        Measurement.within("UTC step across the switch", x["utc_step_s"], test.max_utc_step_s, "s",
                           check_uncertainty=False,
                           suffix=" (the meter's local time + deviation against the bench clock between reads)"),
    ]
    if x["switch_error_s"] is None:  # both states right, but never one read after the other: an unsteady clock
        out.append(Measurement(f"DST {which} instant", False,
                               text=f"no switch from {old} to {new} between two reads around {at}{found}"))
    else:
        out.append(Measurement.within(f"DST {which} instant", x["switch_error_s"], test.max_switch_error_s, "s",
                                      uncertainty=x["switch_uncertainty_s"], rule=rule,
                                      conditional_pass=conditional_pass, remedy="poll faster (poll_s)",
                                      suffix=f" against {at}"))
    return out


__all__ = ["ClockDstTest", "clock_dst_tasks"]
