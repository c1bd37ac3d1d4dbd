"""Run one stress sequence on a bench: chamber profile, meters energised, monitoring, checkpoint/resume.

Time: sequence time is bench-clock seconds since the sequence started (``origin``). Monitoring intervals lie on a
fixed grid ``origin + k·interval`` (a soak's end may cut one short), so a resumed run measures the same intervals
as an uninterrupted one. The schedule is absolute: a soak ends ``duration`` after it started whatever happened in
between (on a real bench the chamber keeps running while the PC is down), and the time between the last checkpoint
and the resume is recorded as an interruption (unmonitored).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hil.core.chunks import Checkpoint, MonitoringStore
from hil.kinds.sequences.disturbances import check_disturbances, run_disturbance_step
from hil.kinds.sequences.error_monitor import ErrorMonitor
from hil.kinds.sequences.model import SequenceTest
from hil.kinds.sequences.monitor import MeterState, monitoring_row
from hil.kinds.sequences.profile import ProfileError, Ramp, Soak, Step, check_profile, steps_of
from hil.measure.accuracy import PointSpec, PositionOutcome
from hil.safety import critical_section
from instruments.drivers.errors import BenchFault
from instruments.drivers.iec62056 import number_of

if TYPE_CHECKING:
    from hil.kinds.sequences.checks import DuringChecks

#: humidity alarm band (%RH) during a soak whose profile gives no tolerance
DEFAULT_BAND_RH = 5.0
_EPS = 1e-6
#: instants closer than this fraction of an interval are one (the bench clock's readings are rounded: a soak end or
#: a check that far from a grid point is reached there, not by an interval of 0.1 ms)
_NEAR = 1e-3


@dataclass
class _State:
    origin: float  # bench clock at sequence time 0
    #: wall clock (Unix s) when the sequence first started: orders a run's sequences (the bench clock may restart)
    started_wall: float = 0.0
    step: int = 0
    soak_from: float | None = None  # sequence time the current soak's duration counts from
    step_started: float = 0.0
    seq_time: float = 0.0  # sequence time of the last checkpoint
    parts: list[str] = field(default_factory=list)
    meters: dict[str, dict[str, Any]] = field(default_factory=dict)
    chamber_alarm_intervals: int = 0
    humidity_alarm_intervals: int = 0
    anchor: float | None = None  # sequence time of the cycle grid's origin (Db: start of cycle 1)
    interruptions: list[dict[str, float]] = field(default_factory=list)
    done: bool = False
    errors: dict[str, Any] = field(default_factory=dict)  # error windows per meter (hil.kinds.sequences.error_monitor)
    checks_done: int = 0  # checks during the sequence completed (hil.kinds.sequences.checks)
    check_results: dict[str, Any] = field(default_factory=dict)  # their outcomes, per check and point
    check_pauses: list[dict[str, Any]] = field(default_factory=list)  # monitoring paused for a check
    extras: dict[str, dict[str, Any]] = field(default_factory=dict)  # per meter, from dips / power cycles
    #: [step, windows of it completed]: where a dip or power-cycle step resumes (hil.kinds.sequences.disturbances);
    #: keyed by the step so that a stale position never applies to the next step
    sub: list[int] = field(default_factory=lambda: [0, 0])


def chamber_limits(chamber: Any) -> tuple[float | None, float | None, float | None]:
    """(min °C, max °C, max K/min) from the chamber driver: its options, else the controller's own query."""
    low = high = None
    limits = getattr(chamber, "limits", None)
    if callable(limits):
        low, high = limits(1)
    return low, high, getattr(chamber, "max_gradient_k_per_min", None)


def chamber_humidity_limits(chamber: Any, ranges: bool = True) -> tuple[bool, float | None, float | None]:
    """(has humidity control, min %RH, max %RH) from the chamber driver: its options, else the controller's query
    (SimServ 11007/11009 for variable 2, ESPEC ``humidity_range``); ``ranges`` False: the range is not asked."""
    if not bool(getattr(chamber, "has_humidity", True)):
        return False, None, None
    if not ranges:
        return True, None, None
    limits = getattr(chamber, "limits", None)
    if callable(limits):
        low, high = limits(2)
        return True, low, high
    low, high = getattr(chamber, "humidity_range", (None, None))
    return True, low, high


class SequenceRunner:
    """One sequence task: ``run()`` returns one outcome per position (verdict decided by the caller)."""

    def __init__(self, bench: Any, energise: Any, test: SequenceTest, load: PointSpec | None, positions: list[int],
                 run_dir: Path, key: str, resume: bool = False, during: DuringChecks | None = None) -> None:
        self.bench, self.energise, self.test, self.load = bench, energise, test, load
        self.positions, self.key, self.resume = positions, key, resume
        self.steps: list[Step] = steps_of(test)
        #: the chamber's humidity is read each interval whenever the chamber controls humidity (set in ``run``):
        #: a dry heat after a damp heat must show what the air really holds
        self._reads_rh = False
        #: the chamber driver can switch humidity control off (set in ``run``)
        self._can_switch_rh_off = False
        #: the last soak of the profile: a check during the sequence still due at its end is measured there
        self._last_soak = max((i for i, s in enumerate(self.steps) if isinstance(s, Soak)), default=-1)
        self.mon = test.monitoring
        self.store = MonitoringStore(run_dir, key)
        self.checkpoint = Checkpoint(run_dir)
        self._buffer: list[dict[str, Any]] = []
        self._buffered_intervals = 0
        self._counts: dict[int, int] = {}
        self._meters: dict[int, MeterState] = {}
        self._last_t = 0.0  # sequence time at the end of the last completed interval
        self.during = during
        # nominal soak time before each step: checks during the sequence come every ``during.every_s`` of soak
        self._soak_before = [sum(s.duration_s for s in self.steps[:i] if isinstance(s, Soak))
                             for i in range(len(self.steps))]
        self._errmon = ErrorMonitor({p: float(bench.meter(p).spec.constant_imp_per_kwh) for p in positions},
                                    self.mon.max_error_shift_pct, self.mon.error_resolution_pct)
        self._power = {p: (load.active_power_w(3 if getattr(bench.meter(p).spec, "connection", "3P4W") == "3P4W"
                                               else 1) if load is not None else 0.0) for p in positions}

    # -- entry ------------------------------------------------------------------------------------
    def run(self) -> list[PositionOutcome]:
        clock = self.bench.clock
        if any(isinstance(s, Ramp | Soak) for s in self.steps):  # dips and power cycles alone need no chamber
            chamber = self.bench.chamber
            low, high, grad = chamber_limits(chamber)
            uses_rh = any(getattr(s, "humidity_pct", None) is not None for s in self.steps)
            has_rh, low_rh, high_rh = chamber_humidity_limits(chamber, ranges=uses_rh)
            self._reads_rh = has_rh
            # the driver's capability (SimServ: only with its humidity_output option; ESPEC: always)
            self._can_switch_rh_off = bool(getattr(chamber, "can_switch_humidity_off", False))
            try:
                check_profile(self.test, min_c=low, max_c=high, max_gradient_k_per_min=grad, min_rh=low_rh,
                              max_rh=high_rh, has_humidity=has_rh,
                              can_switch_humidity_off=self._can_switch_rh_off)
            except ProfileError as exc:
                raise BenchFault("chamber", str(exc)) from exc
            # the chamber's own gradient limit (SimServ cannot be asked it): each gradient of the profile is set
            # once now, so one it refuses stops the run before the meters are energised
            for g in sorted({s.gradient_k_per_min for s in self.steps if isinstance(s, Ramp)}):
                chamber.set_gradient(g, g)
        check_disturbances(self.bench, self.steps, self.load)  # dips the source cannot play: refused before the load
        saved = self.checkpoint.get(self.key) if self.resume else None
        if saved is not None:
            st = _State(**saved)
            self._meters = {int(p): MeterState.from_json(m) for p, m in st.meters.items()}
            self._errmon.load(st.errors)
            if st.done:
                return self._outcomes(st)
            self.store.keep_only(st.parts)
        else:
            st = None
        self._apply_load()
        if st is None:
            st = _State(origin=clock.now(), started_wall=time.time())
            self._meters = {p: MeterState(p, float(self.bench.meter(p).spec.constant_imp_per_kwh))
                            for p in self.positions}
            self._setup_step(self.steps[0])
            self._flush(st)  # a checkpoint from the start: a kill in the first step resumes, not restarts
        else:
            now = clock.now()
            if now - st.origin < st.seq_time:  # the bench's clock restarted: sequence time goes on from here
                st.origin = now - st.seq_time
            if st.step < len(self.steps):
                self._setup_step(self.steps[st.step])
            # count again from the next grid point: the partial interval is part of the interruption
            grid_next = self._grid_next(st, now - st.origin)
            clock.sleep(st.origin + grid_next - clock.now())
            st.interruptions.append({"from_s": st.seq_time, "to_s": grid_next})
            for m in self._meters.values():  # energy of the gap is in the registers, not in the counted pulses
                m.reg_kwh, m.reg_pulses = None, 0
                m.unmonitored(st.seq_time, grid_next)
            self._last_t = grid_next
        self._start_counting()
        try:
            while st.step < len(self.steps):
                if st.anchor is None and getattr(self.steps[st.step], "anchor", False):
                    st.anchor = st.step_started  # cycle 1 starts here: the grid of absolute phase ends
                self._run_step(st, self.steps[st.step])
                st.step += 1
                st.soak_from = None
                st.step_started = self._last_t
                self._flush(st)
                if st.step < len(self.steps):
                    self._setup_step(self.steps[st.step])
        except BaseException:
            # completed intervals are kept (SIGTERM arrives as KeyboardInterrupt; a bench fault too)
            self._flush(st)
            raise
        self._errmon.finish(self._meters)
        st.done = True
        self._flush(st)
        self.bench.error_calculator.abort(self.positions)
        return self._outcomes(st)

    # -- bench ------------------------------------------------------------------------------------
    def _apply_load(self) -> None:
        if self.load is not None:
            self.energise(self.load)
            return
        # not energised: whatever an earlier test or a check left on goes off (the meters rest unpowered)
        source = self.bench.source
        source.output_off()
        if source.is_on():
            raise BenchFault("source", "outputs still on after OUTP OFF: the sequence needs the meters unpowered")

    def _setup_step(self, step: Step) -> None:
        if not isinstance(step, Ramp | Soak):
            return  # dips and power cycles leave the chamber as it is
        ch = self.bench.chamber
        if isinstance(step, Ramp):
            ch.set_gradient(step.gradient_k_per_min, step.gradient_k_per_min)
        if isinstance(step, Ramp | Soak):
            if step.humidity_pct is not None:
                ch.set_humidity(step.humidity_pct)
            elif step.humidity_off and self._reads_rh and self._can_switch_rh_off:
                # no humidity setpoint: control off, not the last one kept (a chamber that cannot was refused
                # for dry heat / cold in run(); elsewhere its humidity is recorded)
                ch.humidity_off()
        ch.set_temperature(step.target_c)
        if not ch.is_running():
            ch.start()

    def _start_counting(self) -> None:
        ecal = self.bench.error_calculator
        consts = {p: self.bench.meter(p).spec.constant_imp_per_kwh for p in self.positions}
        ecal.abort(self.positions)  # after a kill the channels may still be counting (settings locked)
        ecal.configure(self.positions, consts, 1, mode="COUNT")
        ecal.start(self.positions)
        self._counts = {p: 0 for p in self.positions}
        # read once per (re)start, not per interval: the monitored error's reference constant
        self._errmon.restart(float(ecal.channel(self.positions[0]).ref_constant))

    # -- steps ------------------------------------------------------------------------------------
    def _grid_next(self, st: _State, t: float) -> float:
        i = self.mon.interval_s
        return (math.floor(t / i + _EPS) + 1) * i

    def _run_step(self, st: _State, step: Step) -> None:
        if not isinstance(step, Ramp | Soak):
            run_disturbance_step(self, st, step)  # monitored per dip / power cycle there
            return
        clock = self.bench.clock
        if isinstance(step, Ramp):
            timeout = st.step_started + step.timeout_s(self.bench.chamber.temperature())
            while True:
                t, temp = self._interval(st, step, math.inf)
                if abs(temp - step.target_c) <= step.band_k:
                    return
                if t >= timeout:
                    raise BenchFault("chamber", f"{step.name}: still {temp:.1f} °C after "
                                                f"{(t - st.step_started) / 3600:.2f} h")
        assert isinstance(step, Soak)
        if st.soak_from is None:
            st.soak_from = clock.now() - st.origin
            if step.guaranteed:
                temp = self.bench.chamber.temperature()
                while abs(temp - step.target_c) > step.band_k:
                    t, temp = self._interval(st, step, math.inf)
                    st.soak_from = t
        # a soak on the cycle grid ends at its absolute time, however long the ramp before it took
        end = st.soak_from + step.duration_s if step.until_s is None else (st.anchor or 0.0) + step.until_s
        while clock.now() - st.origin < end - _NEAR * self.mon.interval_s:
            self._interval(st, step, end)
        # checks are scheduled on nominal soak time; soaks on the cycle grid can be shorter than nominal, so a
        # check still due when the last soak ends is measured there (before the end ramp), not lost
        if st.step == self._last_soak:
            while self.during is not None and st.checks_done < self.during.count:
                self._run_check(st, end)

    def _interval(self, st: _State, step: Ramp | Soak, end: float) -> tuple[float, float]:
        """One monitoring interval up to the next grid point (or ``end``): returns (sequence time, °C)."""
        bench, clock = self.bench, self.bench.clock
        mark = self._next_check(st, step, end)  # a check during the sequence ends this interval early
        # the bench clock's readings are not exact: a check this close to a grid point is due there
        near = _NEAR * self.mon.interval_s
        if mark is not None and clock.now() - st.origin >= mark - near:  # overdue: stopped while it ran
            self._run_check(st, end)
            mark = self._next_check(st, step, end)
            if clock.now() - st.origin >= end - near:
                return self._last_t, float(bench.chamber.temperature())
        start = clock.now() - st.origin
        stop = min(self._grid_next(st, start), end, math.inf if mark is None else mark)
        clock.sleep(stop - start)
        t = clock.now() - st.origin
        results = bench.error_calculator.results()
        temp = float(bench.chamber.temperature())
        setpoint = step.target_c
        alarm = isinstance(step, Soak) and abs(temp - setpoint) > self.mon.chamber_band_k
        st.chamber_alarm_intervals += int(alarm)
        rh, rh_alarm = self._humidity(st, step, t)
        st.humidity_alarm_intervals += int(rh_alarm)
        k = round(t / self.mon.interval_s)
        # an unpowered meter's port is dead too: without a load there is nothing to read (survival is judged
        # by the checks after the sequence)
        port_now = self.load is not None and k % self.mon.port_every == 0
        dt = t - start
        just_stopped = []
        got: dict[int, int] = {}
        for p in self.positions:
            m = self._meters[p]
            n = int(results[p].mut_pulses)  # COUNT mode: cumulative since start
            got[p], self._counts[p] = n - self._counts[p], n
            if m.failed:
                continue
            expected = m.expected_pulses(self._power[p], dt)
            if m.pulses_in(start, t, got[p], expected):
                just_stopped.append(p)
        regs: dict[int, float | None] = {}
        for p in self.positions:
            m = self._meters[p]
            if m.failed:
                continue
            if port_now or p in just_stopped:
                regs[p] = self._read_register(p)
            if p in just_stopped:
                m.stopped(port_alive=regs[p] is not None)
            elif p in regs:
                m.register(t, regs[p], self.mon.register_resolution_kwh, self.mon.register_tolerance_pct)
        errors = self._errmon.update(start, t, results, self._meters)  # same counts: no extra I/O
        for p in self.positions:
            m = self._meters[p]
            self._buffer.append(monitoring_row(
                test_id=self.test.id, step=st.step, step_name=step.name, t_start_s=start, t_end_s=t,
                clock_s=st.origin + t, meter=m, pulses=got[p], register_kwh=regs.get(p), chamber_c=temp,
                setpoint_c=setpoint, humidity_pct=rh, setpoint_rh=getattr(step, "humidity_pct", None),
                humidity_alarm=rh_alarm, chamber_alarm=alarm, error_pct=errors[p]))
        self._buffered_intervals += 1
        self._last_t = t
        if self._buffered_intervals >= self.mon.chunk_intervals:
            self._flush(st)
        if mark is not None and t >= mark - near:
            self._run_check(st, end)
        return t, temp

    # -- checks during the sequence (hil.kinds.sequences.checks) ---------------------------------------------
    def _next_check(self, st: _State, step: Step, end: float) -> float | None:
        """Sequence time of the next check during the sequence, if it falls in this soak (once it counts)."""
        d = self.during
        if d is None or st.checks_done >= d.count or not isinstance(step, Soak) or not math.isfinite(end) \
                or st.soak_from is None:
            return None
        offset = (st.checks_done + 1) * d.every_s - self._soak_before[st.step]
        if offset > end - st.soak_from + _EPS:
            return None  # in a later soak
        return st.soak_from + max(offset, 0.0)

    def _run_check(self, st: _State, end: float) -> None:
        """Pause monitoring, measure the check's points (outcomes kept in the checkpoint until their items
        write them), put the load back and count again from the next grid point (like a resume)."""
        assert self.during is not None
        clock, k = self.bench.clock, st.checks_done + 1
        self._flush(st)  # the monitoring up to here is on disk before the load changes
        self.bench.error_calculator.abort(self.positions)
        paused = clock.now() - st.origin
        label = self.during.label(k)
        # the check's limit depends on the chamber temperature it is taken at (hil.kinds.sequences.checks.during_limit)
        st.check_results[label] = self.during.measure(k, float(self.bench.chamber.temperature()))
        st.checks_done = k
        self._apply_load()
        now = clock.now() - st.origin
        resume_at = max(now, min(self._grid_next(st, now), end))
        clock.sleep(resume_at - now)
        st.check_pauses.append({"check": label, "from_s": paused, "to_s": resume_at})
        for m in self._meters.values():  # the check's energy is in the registers, not in the counted pulses
            m.reg_kwh, m.reg_pulses = None, 0
        self._last_t = resume_at
        self._start_counting()
        self._flush(st)

    def _humidity(self, st: _State, step: Step, t: float) -> tuple[float | None, bool]:
        """(humidity now, alarm): the humidity of a soak, or of a ramp marked ``rh_judged`` (Db rise and fall),
        further than its band from the setpoint is an alarm, except in its first ``rh_allowance_s`` (the
        standard's wider band at a phase start). Read whenever the chamber controls humidity, judged only where
        the step sets it."""
        if not self._reads_rh:
            return None, False
        sets_rh = isinstance(step, Ramp | Soak) and step.humidity_pct is not None
        try:
            raw = self.bench.chamber.humidity()
        except (BenchFault, ValueError):
            if sets_rh:
                raise
            # only informational here (humidity not controlled, e.g. below 0 °C): a refused read is no reading
            return None, False
        rh = None if raw is None else float(raw)
        if rh is None or not isinstance(step, Ramp | Soak) or step.humidity_pct is None:
            return rh, False
        judged_ramp = isinstance(step, Ramp) and step.rh_judged
        since = st.soak_from if isinstance(step, Soak) else st.step_started if judged_ramp else None
        if since is None or t - since <= step.rh_allowance_s + _EPS:
            return rh, False
        band = self.mon.chamber_band_rh or step.band_rh or DEFAULT_BAND_RH
        return rh, abs(rh - step.humidity_pct) > band + _EPS

    def _read_register(self, position: int) -> float | None:
        port = self.bench.meter(position).port
        if port is None:
            return None
        try:
            return number_of(port.read(self.mon.register_address))
        except (BenchFault, ValueError, OSError):
            return None

    # -- persistence ------------------------------------------------------------------------------
    def _flush(self, st: _State) -> None:
        """Write the buffered intervals as one part, then the checkpoint (both held against SIGTERM)."""
        with critical_section():
            if self._buffer:
                st.parts.append(self.store.write(self._buffer, len(st.parts)))
                self._buffer, self._buffered_intervals = [], 0
            st.seq_time = self._last_t  # no instrument I/O here: it also runs while stopping
            st.meters = {str(p): m.to_json() for p, m in self._meters.items()}
            st.errors = self._errmon.to_json()
            self.checkpoint.put(self.key, dict(st.__dict__))

    def _outcomes(self, st: _State) -> list[PositionOutcome]:
        out = []
        for p in self.positions:
            m = self._meters[p]
            o = PositionOutcome(p, self.bench.meter(p).spec.serial, m.pulses_total, 0, None, st.seq_time, None)
            ft = m.failure_time
            o.extra.update(
                failure_mode=m.mode, failure_reason=m.reason,
                failure_time_h=None if ft is None else round(ft / 3600, 6),
                failed_after_h=None if m.failed_after is None else round(m.failed_after / 3600, 6),
                failed_before_h=None if m.failed_before is None else round(m.failed_before / 3600, 6),
                failure_clock_s=None if ft is None else round(st.origin + ft, 3),
                pulse_output_seen=m.pulsed, chamber_alarm_intervals=st.chamber_alarm_intervals,
                humidity_alarm_intervals=st.humidity_alarm_intervals,
                # the baseline of the monitored error (its later values are in the monitoring rows)
                monitor_error_first_pct=_round(self._errmon.windows[p].first_pct),
                sequence_h=round(st.seq_time / 3600, 6),
            )
            o.extra.update(st.extras.get(str(p), {}))
            out.append(o)
        return out


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 6)
