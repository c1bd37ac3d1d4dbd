"""The event log test: events played on the bench, then the meters' event logs judged against the bench clock.

Procedure (every position at once): the source is brought to Un without current (the run's shared programming),
each meter's clock is set to the bench's reference time over DLMS (management client) and the bench notes that
instant; then the plan's events are played one after the other, ``gap_s`` apart, each event's instants taken from
the bench clock as the source acts:

- an interruption: the output off and on again (``via: output``), or a dip to 0 % of every phase for its duration
  (``via: dip``, a :class:`instruments.roles.DipSource`) → power down at its start and power up at its end;
- a voltage loss on one phase (that phase's voltage programmed to 0 V, the others at Un) → missing voltage Lx at its
  start, voltage Lx normal at its end;
- reverse energy flow: the test current at PF 1 forward for ``forward_s`` (the source settled), then its current
  angle turned by 180° for the duration → current reversal at the turn.

Afterwards each meter's logs are read by range (selective access by the clock column) over the test window, from
the meter's clock set to the end, and judged per meter and per expected event: the event's code logged in one of
the logs read, its timestamp within ``tolerance_s`` of the bench's instant; then nothing else in the window (the
clock set's own "clock adjusted" pair and ``allowed_codes`` excepted). Each logged entry is paired with the nearest
expected event of its code, one entry per event and log (power down / power up may be logged in two logs).

The bench's instants are the truth, never the meter's word; the source is left at Un, output on, no current, on
every exit path (the programming the run's accuracy runner knows, so the next test finds what it expects).
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from hil.core import (
    TEST_ID_PATTERN,
    Estimate,
    EstimateContext,
    Measurement,
    PlanError,
    PlanSection,
    PointSpec,
    PositionOutcome,
    RunContext,
    Step,
)

#: the event logs of the simulated meters (docs/dlms-calendar-events.md): standard and power quality / failure
STANDARD_EVENT_LOG = "0.0.99.98.0.255"
POWER_EVENT_LOG = "0.0.99.98.1.255"
#: names of IDIS standard-event-log codes the kind does not play but may find (docs/dlms-calendar-events.md)
_OTHER_NAMES = {3: "daylight saving time change", 9: "TOU activated"}
_KIND = "event_log"


def _obis(value: str) -> str:
    from instruments.dlms.cosem import Obis

    return str(Obis.parse(value))


def _current(value: str) -> str:
    from hil.standards.model import CurrentExpr

    return str(CurrentExpr.parse(value))


class InterruptionEvent(PlanSection):
    """The supply interrupted on every phase for ``duration_s``: the output switched off and on (``output``) or a
    dip to 0 % of every phase (``dip``, the source's dip generator: exact edges, at most its longest dip)."""

    event: Literal["interruption"]
    duration_s: float = Field(gt=0)
    via: Literal["output", "dip"] = "output"


class VoltageLossEvent(PlanSection):
    """The voltage of one phase at 0 V for ``duration_s``, the others at Un (no current)."""

    event: Literal["voltage_loss"]
    phase: int = Field(2, ge=1, le=3)
    duration_s: float = Field(gt=0)


class ReverseFlowEvent(PlanSection):
    """Energy flowing back: ``current`` at PF 1 forward for ``forward_s`` (after the source settled), then its
    current angle turned by 180° (export) for ``duration_s``."""

    event: Literal["reverse_flow"]
    duration_s: float = Field(gt=0)
    current: str = "Iref"
    forward_s: float = Field(5.0, ge=0)

    _c = field_validator("current")(_current)


PlayedEvent = Annotated[InterruptionEvent | VoltageLossEvent | ReverseFlowEvent, Field(discriminator="event")]


class EventCodes(PlanSection):
    """The codes the meter logs (IDIS numbering by default, docs/dlms-calendar-events.md: 1 power down, 2 power
    up, 4 / 5 clock adjusted old / new time, 82–84 missing voltage L1–L3, 85–87 voltage L1–L3 normal, 91 current
    reversal); a meter type that numbers them otherwise gives its own here."""

    power_down: int = Field(1, ge=0, le=0xFFFF)
    power_up: int = Field(2, ge=0, le=0xFFFF)
    missing_voltage: tuple[int, int, int] = (82, 83, 84)
    voltage_normal: tuple[int, int, int] = (85, 86, 87)
    current_reversal: int = Field(91, ge=0, le=0xFFFF)
    clock_adjusted_old: int = Field(4, ge=0, le=0xFFFF)
    clock_adjusted_new: int = Field(5, ge=0, le=0xFFFF)

    def names(self) -> dict[int, str]:
        out = dict(_OTHER_NAMES)
        out.update({self.clock_adjusted_old: "clock adjusted (old time)",
                    self.clock_adjusted_new: "clock adjusted (new time)"})
        for ph in (1, 2, 3):
            out[self.missing_voltage[ph - 1]] = f"missing voltage L{ph}"
            out[self.voltage_normal[ph - 1]] = f"voltage L{ph} normal"
        out.update({self.power_down: "power down", self.power_up: "power up",
                    self.current_reversal: "current reversal"})
        return out


class EventLogTest(PlanSection):
    """Event logs (Profile Generic, IEC 62056-6-2 4.3.6; IDIS standard and power quality event logs): source
    interruptions, the loss of one phase's voltage and reverse energy flow played on the bench → each meter's
    logs hold the right codes, stamped within ``tolerance_s`` of the bench clock, and no other event in the test
    window (fault diagnosis)."""

    id: str = Field(pattern=TEST_ID_PATTERN)
    kind: Literal["event_log"]
    #: the meter's stated hold-up time: every interruption must be longer (a shorter one is a dip the meter rides
    #: through without a power down: the disturbance tests' business)
    holdup_s: float = Field(0.5, ge=0)
    #: the events played, in this order
    events: list[PlayedEvent] = Field(min_length=1)
    #: how far a logged timestamp may be from the bench's instant of the event
    tolerance_s: float = Field(2.0, gt=0)
    #: bench time before the first event, between events and after the last (more than twice the tolerance, so no
    #: entry can be taken for a neighbouring event's)
    gap_s: float = Field(10.0, gt=0)
    #: the meters' clocks set to the bench's reference time first (management client); without it their clocks
    #: must already be right within the tolerance
    set_clock: bool = True
    #: the Profile Generic event logs read (each by range over the test window); an expected event may be in any
    logs: list[str] = Field(default_factory=lambda: [STANDARD_EVENT_LOG, POWER_EVENT_LOG], min_length=1)
    codes: EventCodes = Field(default_factory=EventCodes)
    #: codes that may appear in the window without failing the meter (e.g. 3 when a DST switch falls inside)
    allowed_codes: list[int] = Field(default_factory=list)

    @field_validator("events")
    @classmethod
    def _longer_than_holdup(cls, v: list[Any], info: ValidationInfo) -> list[Any]:
        holdup = info.data.get("holdup_s")
        for i, e in enumerate(v):
            if isinstance(e, InterruptionEvent) and holdup is not None and not e.duration_s > holdup:
                raise ValueError(f"events[{i}]: an interruption of {e.duration_s:g} s is not longer than the meter's"
                                 f" hold-up time holdup_s {holdup:g} s: the meter rides through it, no power down is"
                                 " to be logged")
        return v

    @field_validator("gap_s")
    @classmethod
    def _gap_beyond_tolerance(cls, v: float, info: ValidationInfo) -> float:
        tol = info.data.get("tolerance_s")
        if tol is not None and not v > 2 * tol:
            raise ValueError(f"gap_s {v:g} s must be more than twice tolerance_s ({tol:g} s): an entry within the"
                             " tolerance of one event could otherwise be taken for its neighbour's")
        return v

    @field_validator("logs")
    @classmethod
    def _logs(cls, v: list[str]) -> list[str]:
        out = [_obis(x) for x in v]
        if len(set(out)) != len(out):
            raise ValueError("a log is listed twice")
        return out


# -- the bench side -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expected:
    """One event the meter must log: the played event (1-based, with its words), what, its code, the bench's
    instant."""

    event: int
    label: str
    what: str
    code: int
    at: datetime

    @property
    def name(self) -> str:
        return f"event {self.event} {self.label}: {self.what}"


def _label(e: InterruptionEvent | VoltageLossEvent | ReverseFlowEvent) -> str:
    if isinstance(e, InterruptionEvent):
        return f"interruption {e.duration_s:g} s ({'output off' if e.via == 'output' else 'dip to 0 %'})"
    if isinstance(e, VoltageLossEvent):
        return f"voltage loss L{e.phase} {e.duration_s:g} s"
    return f"reverse flow {e.duration_s:g} s at {e.current}"


def _short(e: InterruptionEvent | VoltageLossEvent | ReverseFlowEvent) -> str:
    if isinstance(e, InterruptionEvent):
        return f"{e.duration_s:g} s interruption" + (" (dip)" if e.via == "dip" else "")
    if isinstance(e, VoltageLossEvent):
        return f"L{e.phase} lost {e.duration_s:g} s"
    return f"reverse flow {e.duration_s:g} s"


def event_log_tasks(test: EventLogTest, rating: Any, positions: list[int], library: Any) -> list[Step]:
    idle = PointSpec(_KIND, "event log: " + ", ".join(_short(e) for e in test.events), rating.un_v, 0.0, 0.0, "1",
                     frequency_hz=rating.frequency_hz, limit_table="plan", limit_status="lab")
    #: per reverse-flow event (its index): the forward and the reverse setting, both checked against the ratings
    flows: dict[int, tuple[PointSpec, PointSpec]] = {}
    for i, e in enumerate(test.events):
        if isinstance(e, VoltageLossEvent) and e.phase > rating.elements:
            raise PlanError(f"test {test.id!r}: events[{i}]: phase {e.phase} — the meters have {rating.elements}"
                            " measuring element(s)")
        if isinstance(e, ReverseFlowEvent):
            try:
                amps = rating.currents(library).evaluate(e.current)
            except ValueError as exc:
                raise PlanError(f"test {test.id!r}: events[{i}]: {exc}") from exc
            forward = PointSpec(_KIND, f"forward flow at {e.current} PF 1", rating.un_v, amps, 0.0, "1",
                                frequency_hz=rating.frequency_hz, limit_table="plan", limit_status="lab")
            flows[i] = (forward, dataclasses.replace(forward, point=f"reverse flow at {e.current} (180°)",
                                                     phase_deg=180.0, pf="-1"))
    setpoints = tuple(s for pair in flows.values() for s in pair)
    played_s = sum(e.duration_s for e in test.events) + test.gap_s * (len(test.events) + 1)

    def estimate(ctx: EstimateContext) -> Estimate:
        flow_s = sum(e.forward_s + 2 * ctx.measure.settle_s for e in test.events if isinstance(e, ReverseFlowEvent))
        return Estimate(round(ctx.measure.settle_s + played_s + flow_s, 1))

    def run(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run(session, task, test, flows)

    def measure(o: PositionOutcome) -> list[Measurement]:
        return _measurements(o, test)

    return [Step(test.id, _KIND, idle.point, idle, positions, run, measure, setpoints=setpoints,
                 duration_s=played_s, estimate=estimate, params={"port_only": False})]


def _run(session: RunContext, task: Step, test: EventLogTest,
         flows: dict[int, tuple[PointSpec, PointSpec]]) -> list[PositionOutcome]:
    from hil.measure.accuracy import runner_of
    from hil.measure.meter_ports import dlms_port
    from instruments.drivers.errors import BenchFault

    bench, clock = session.bench, session.bench.clock
    runner = runner_of(session)
    _check_dips(bench.source, test)  # a source that cannot play a dip: broken before anything is played
    runner.energise(task.spec)  # Un, no current: the meters powered, their ports answer
    broken: dict[int, str] = {}
    set_at: dict[int, datetime] = {}
    for p in task.positions:
        try:
            port = dlms_port(bench, p)
            if test.set_clock:
                now = clock.utc()
                port.set_clock(now)
                set_at[p] = now
        except BenchFault as exc:
            broken[p] = f"clock not set: {exc}" if test.set_clock else str(exc)
    start = clock.utc()
    expected = _play(bench, clock, runner, task.spec, test, flows)
    end = clock.utc()
    out = []
    for p in task.positions:
        serial = bench.meter(p).spec.serial
        if p in broken:
            out.append(PositionOutcome(p, serial, 0, 0, None, 0.0, "broken", broken[p]))
            continue
        lo = set_at.get(p, start)
        try:
            port = dlms_port(bench, p)
            entries = [(log, when, code) for log in test.logs for when, code in _log_entries(port, log, lo, end)]
        except BenchFault as exc:
            out.append(PositionOutcome(p, serial, 0, 0, None, 0.0, "broken", f"event log not read: {exc}"))
            continue
        o = PositionOutcome(p, serial, 0, 0, None, (end - lo).total_seconds(), None)
        o.extra.update(_judged(entries, expected, test, set_at.get(p), lo, end))
        out.append(o)
    return out


def _check_dips(src: Any, test: EventLogTest) -> None:
    from instruments.drivers.errors import BenchFault
    from instruments.roles import DipSource

    dips = [e for e in test.events if isinstance(e, InterruptionEvent) and e.via == "dip"]
    if not dips:
        return
    if not isinstance(src, DipSource):
        raise BenchFault("source", f"{type(src).__name__} cannot generate dips (it does not play DipSource):"
                                   " give the interruptions via: output")
    for e in dips:
        try:
            src.check_dip(0.0, duration_s=e.duration_s)
        except ValueError as exc:
            raise BenchFault("source", f"a {e.duration_s:g} s interruption as a dip refused by the source: {exc}"
                                       " (give it via: output)") from exc


def _play(bench: Any, clock: Any, runner: Any, idle: PointSpec, test: EventLogTest,
          flows: dict[int, tuple[PointSpec, PointSpec]]) -> list[Expected]:
    """Play the events in order, ``gap_s`` apart; the instants are the bench clock's as the source acts. The source
    is brought back to ``idle`` (what the runner has programmed) on every exit path."""
    src = bench.source
    codes = test.codes
    expected: list[Expected] = []
    try:
        clock.sleep(test.gap_s)
        for i, e in enumerate(test.events):
            n, label = i + 1, _label(e)
            if isinstance(e, InterruptionEvent):
                t0, t1 = _interrupt(src, clock, e)
                expected += [Expected(n, label, "power down", codes.power_down, t0),
                             Expected(n, label, "power up", codes.power_up, t1)]
            elif isinstance(e, VoltageLossEvent):
                loads = idle.loads(src.phases)
                loads[e.phase] = dataclasses.replace(loads[e.phase], voltage_v=0.0)
                src.apply(loads)
                t0 = clock.utc()
                clock.sleep(e.duration_s)
                src.apply(idle.loads(src.phases))
                t1 = clock.utc()
                expected += [Expected(n, label, f"missing voltage L{e.phase}", codes.missing_voltage[e.phase - 1], t0),
                             Expected(n, label, f"voltage L{e.phase} normal", codes.voltage_normal[e.phase - 1], t1)]
            else:
                forward, reverse = flows[i]
                runner.energise(forward)  # forward first: a reversal is a change of direction
                clock.sleep(e.forward_s)
                src.apply(reverse.loads(src.phases))  # the angle turns at once (the runner still thinks forward)
                t0 = clock.utc()
                clock.sleep(e.duration_s)
                runner.energise(idle)  # back to what the runner programmed before, and it knows it
                expected.append(Expected(n, label, "current reversal", codes.current_reversal, t0))
            clock.sleep(test.gap_s)
    except BaseException:
        with contextlib.suppress(Exception):  # the fault in flight is the one to report
            _restore(src, runner, idle)
        raise
    runner.energise(idle)  # every event ended on the idle setting: nothing to send, the output is on
    return expected


def _interrupt(src: Any, clock: Any, e: InterruptionEvent) -> tuple[datetime, datetime]:
    from instruments.drivers.errors import BenchFault

    if e.via == "output":
        src.output_off()
        t0 = clock.utc()
        clock.sleep(e.duration_s)
        src.output_on()
        return t0, clock.utc()
    before = src.dips_completed()
    src.program_dip(0.0, duration_s=e.duration_s)  # every phase
    src.trigger_dip()
    t0 = clock.utc()
    clock.sleep(e.duration_s)
    if not clock.wait_until(lambda: not src.dip_running(), timeout_s=5.0, poll_s=0.1):
        raise BenchFault("source", f"the {e.duration_s:g} s dip was still running 5 s after its end")
    done = src.dips_completed()
    src.abort_dips()
    if done != before + 1:  # a dip that did not happen must not be expected in the logs
        raise BenchFault("source", f"the {e.duration_s:g} s interruption: the source reports {done - before} dips"
                                   " completed, not 1")
    return t0, t0 + timedelta(seconds=e.duration_s)


def _restore(src: Any, runner: Any, idle: PointSpec) -> None:
    """After a fault or a stop request in the middle of an event: Un, no current, output on — a dip program
    stopped, the idle loads programmed directly (whatever was applied behind the runner's back), then the runner's
    own programming (which re-sends it if the runner had the forward load, switches the output on and settles)."""
    from instruments.roles import DipSource

    if isinstance(src, DipSource):
        src.abort_dips()
    src.apply(idle.loads(src.phases))
    runner.energise(idle)


def _log_entries(port: Any, log: str, lo: datetime, hi: datetime) -> list[tuple[datetime | None, int]]:
    """A log's entries in [lo, hi] (by the clock column) as (time, code); a time the meter cannot give is None."""
    from instruments.drivers.errors import BenchFault

    rows = port.profile(log, start=lo, end=hi)
    i_time = next((i for i, c in enumerate(rows.columns) if c[0] == 8), None)
    i_code = next((i for i, c in enumerate(rows.columns) if c[0] != 8), None)
    if i_time is None or i_code is None:
        raise BenchFault("meter port", f"event log {log} has columns {[str(c[1]) for c in rows.columns]}: no clock"
                                       " and event code")
    out: list[tuple[datetime | None, int]] = []
    for r in rows.rows:
        when, code = r[i_time], r[i_code]
        if not isinstance(code, int) or isinstance(code, bool):
            raise BenchFault("meter port", f"event log {log}: an event code is {code!r}, not a number")
        out.append((when if isinstance(when, datetime) else None, code))
    return out


def _hms(t: datetime | None) -> str:
    return "no valid time" if t is None else t.isoformat(timespec="milliseconds")


def _judged(entries: list[tuple[str, datetime | None, int]], expected: list[Expected], test: EventLogTest,
            set_at: datetime | None, lo: datetime, hi: datetime) -> dict[str, Any]:
    """Entries paired with the expected events (nearest first, one entry per event and log), what is left over."""
    names = test.codes.names()
    pairs: list[tuple[float, int, int]] = []  # (|offset|, entry, expected)
    for k, (_, when, code) in enumerate(entries):
        if when is None:
            continue
        for j, x in enumerate(expected):
            if x.code == code:
                pairs.append((abs((when - x.at).total_seconds()), k, j))
    taken: set[int] = set()
    paired: set[tuple[str, int]] = set()  # (log, expected)
    best: dict[int, tuple[float, int]] = {}  # expected → (offset, entry)
    for _, k, j in sorted(pairs):
        log, when, _ = entries[k]
        if k in taken or (log, j) in paired:
            continue
        assert when is not None
        taken.add(k)
        paired.add((log, j))
        off = (when - expected[j].at).total_seconds()
        if j not in best or abs(off) < abs(best[j][0]):
            best[j] = (off, k)
    # the test's own clock set: per log one "new time" entry within the tolerance of the set and one "old time"
    # entry (stamped with the meter's clock before the set, wherever that was)
    own: set[int] = set()
    if set_at is not None:
        for log in test.logs:
            for code, near in ((test.codes.clock_adjusted_new, test.tolerance_s),
                               (test.codes.clock_adjusted_old, float("inf"))):
                cands = [k for k, (lg, when, c) in enumerate(entries) if lg == log and c == code and k not in taken
                         and _distance(when, set_at) <= near]
                if cands:
                    k = min(cands, key=lambda k: _distance(entries[k][1], set_at))
                    own.add(k)
                    taken.add(k)
    allowed = set(test.allowed_codes)
    unexpected = [k for k in range(len(entries)) if k not in taken and entries[k][2] not in allowed]
    rows: list[dict[str, Any]] = []
    for j, x in enumerate(expected):
        found = best.get(j)
        rows.append({"event": x.event, "label": x.label, "what": x.what, "code": x.code,
                     "bench_at": x.at.isoformat(timespec="milliseconds"),
                     "logged_at": None if found is None else _hms(entries[found[1]][1]),
                     "log": None if found is None else entries[found[1]][0],
                     "offset_s": None if found is None else round(found[0], 3)})

    def describe(k: int) -> str:
        log, when, code = entries[k]
        return f"{names.get(code, 'event code')} (code {code}) at {_hms(when)} in {log}"

    return {
        "window_start": lo.isoformat(timespec="milliseconds"), "window_end": hi.isoformat(timespec="milliseconds"),
        "tolerance_s": test.tolerance_s, "entries_in_window": len(entries), "clock_set_entries": len(own),
        "expected_events": rows,
        "events_missing": [x.name for j, x in enumerate(expected) if j not in best],
        "events_off_time": [x.name for j, x in enumerate(expected) if j in best and abs(best[j][0]) > test.tolerance_s],
        "unexpected": len(unexpected), "unexpected_events": [describe(k) for k in unexpected],
    }


def _distance(when: datetime | None, at: datetime) -> float:
    return float("inf") if when is None else abs((when - at).total_seconds())


def _measurements(o: PositionOutcome, test: EventLogTest) -> list[Measurement]:
    """One measurement per expected event, in the order played, then the unexpected entries; a failing one names
    the other failures too, so the row's reason says everything that is missing or off time."""
    x = o.extra
    tol = test.tolerance_s
    failures: list[str] = []
    for r in x["expected_events"]:
        if r["offset_s"] is None:
            failures.append(f"event {r['event']} {r['what']} not logged")
        elif abs(r["offset_s"]) > tol:
            failures.append(f"event {r['event']} {r['what']} {r['offset_s']:+.2f} s off")
    if x["unexpected"]:
        failures.append(f"{x['unexpected']} unexpected events")

    def also(short: str) -> str:
        others = [f for f in failures if f != short]
        return f" (also: {'; '.join(others)})" if others else ""

    out: list[Measurement] = []
    for r in x["expected_events"]:
        name = f"event {r['event']} {r['label']}: {r['what']}"
        what = f"{r['what']} (code {r['code']})"
        head = f"event {r['event']} {r['label']}"
        if r["offset_s"] is None:
            out.append(Measurement(name, False, text=f"{head}: no {what} logged, bench instant {r['bench_at']}"
                                   + also(f"event {r['event']} {r['what']} not logged")))
            continue
        off = float(r["offset_s"])

        def text(ok: bool, head: str = head, what: str = what, r: dict[str, Any] = r, off: float = off) -> str:
            where = f"logged at {r['logged_at']} in {r['log']}"
            if ok:
                return f"{head}: {what} {where}, {off:+.2f} s from the bench instant"
            side = "after" if off > 0 else "before"
            return (f"{head}: {what} {where}, {abs(off):.2f} s {side} the bench instant {r['bench_at']}"
                    f" (tolerance ±{tol:g} s)" + also(f"event {r['event']} {r['what']} {off:+.2f} s off"))

        out.append(Measurement.within(name, off, tol, "s", digits=2, check_uncertainty=False, text=text))
    listed = "; ".join(x["unexpected_events"][:6]) + ("…" if x["unexpected"] > 6 else "")
    out.append(Measurement("unexpected events", x["unexpected"], "", upper=0,
                           text=lambda ok: f"every expected event logged in time, no other event in the window"
                           f" ({x['entries_in_window']} entries)" if ok
                           else f"{x['unexpected']} unexpected events in the window: {listed}"
                           + also(f"{x['unexpected']} unexpected events")))
    return out
