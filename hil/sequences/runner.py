"""Run one stress sequence on a bench: chamber profile, meters energised, monitoring, checkpoint/resume.

Time: sequence time is bench-clock seconds since the sequence started (``origin``). Monitoring intervals lie on a
fixed grid ``origin + k·interval`` (a soak's end may cut one short), so a resumed run measures the same intervals
as an uninterrupted one. The schedule is absolute: a soak ends ``duration`` after it started whatever happened in
between (on a real bench the chamber keeps running while the PC is down), and the time between the last checkpoint
and the resume is recorded as an interruption (unmonitored).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hil.measure.accuracy import PointSpec, PositionOutcome
from hil.safety import critical_section
from hil.sequences.model import SequenceTest
from hil.sequences.monitor import MeterState
from hil.sequences.profile import ProfileError, Ramp, Soak, Step, check_profile, steps_of
from hil.sequences.store import Checkpoint, MonitoringStore
from instruments.drivers.errors import BenchFault

_WS_PER_KWH = 3.6e6
_EPS = 1e-6


@dataclass
class _State:
    origin: float  # bench clock at sequence time 0
    step: int = 0
    soak_from: float | None = None  # sequence time the current soak's duration counts from
    step_started: float = 0.0
    seq_time: float = 0.0  # sequence time of the last checkpoint
    parts: list[str] = field(default_factory=list)
    meters: dict[str, dict[str, Any]] = field(default_factory=dict)
    chamber_alarm_intervals: int = 0
    interruptions: list[dict[str, float]] = field(default_factory=list)
    done: bool = False


def chamber_limits(chamber: Any) -> tuple[float | None, float | None, float | None]:
    """(min °C, max °C, max K/min) from the chamber driver: its options, else the controller's own query."""
    low = high = None
    limits = getattr(chamber, "limits", None)
    if callable(limits):
        low, high = limits(1)
    return low, high, getattr(chamber, "max_gradient_k_per_min", None)


class SequenceRunner:
    """One sequence task: ``run()`` returns one outcome per position (verdict decided by the caller)."""

    def __init__(self, bench: Any, energise: Any, test: SequenceTest, load: PointSpec | None, positions: list[int],
                 run_dir: Path, key: str, resume: bool = False) -> None:
        self.bench, self.energise, self.test, self.load = bench, energise, test, load
        self.positions, self.key, self.resume = positions, key, resume
        self.steps: list[Step] = steps_of(test)
        self.mon = test.monitoring
        self.store = MonitoringStore(run_dir)
        self.checkpoint = Checkpoint(run_dir)
        self._buffer: list[dict[str, Any]] = []
        self._buffered_intervals = 0
        self._counts: dict[int, int] = {}
        self._meters: dict[int, MeterState] = {}
        self._last_t = 0.0  # sequence time at the end of the last completed interval
        self._power = {p: (load.active_power_w(3 if getattr(bench.meter(p).spec, "connection", "3P4W") == "3P4W"
                                               else 1) if load is not None else 0.0) for p in positions}

    # -- entry ------------------------------------------------------------------------------------
    def run(self) -> list[PositionOutcome]:
        chamber, clock = self.bench.chamber, self.bench.clock
        low, high, grad = chamber_limits(chamber)
        try:
            check_profile(self.test, min_c=low, max_c=high, max_gradient_k_per_min=grad)
        except ProfileError as exc:
            raise BenchFault("chamber", str(exc)) from exc
        saved = self.checkpoint.get(self.key) if self.resume else None
        if saved is not None:
            st = _State(**saved)
            self._meters = {int(p): MeterState.from_json(m) for p, m in st.meters.items()}
            if st.done:
                return self._outcomes(st)
            self.store.keep_only(st.parts)
        else:
            st = None
        self._apply_load()
        if st is None:
            st = _State(origin=clock.now())
            self._meters = {p: MeterState(p, float(self.bench.meter(p).spec.constant_imp_per_kwh))
                            for p in self.positions}
            self._setup_step(self.steps[0])
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
            self._last_t = grid_next
        self._start_counting()
        try:
            while st.step < len(self.steps):
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
        st.done = True
        self._flush(st)
        self.bench.error_calculator.abort(self.positions)
        return self._outcomes(st)

    # -- bench ------------------------------------------------------------------------------------
    def _apply_load(self) -> None:
        if self.load is not None:
            self.energise(self.load)

    def _setup_step(self, step: Step) -> None:
        ch = self.bench.chamber
        if isinstance(step, Ramp):
            ch.set_gradient(step.gradient_k_per_min, step.gradient_k_per_min)
            if step.humidity_pct is not None:
                ch.set_humidity(step.humidity_pct)
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

    # -- steps ------------------------------------------------------------------------------------
    def _grid_next(self, st: _State, t: float) -> float:
        i = self.mon.interval_s
        return (math.floor(t / i + _EPS) + 1) * i

    def _run_step(self, st: _State, step: Step) -> None:
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
        end = st.soak_from + step.duration_s
        while clock.now() - st.origin < end - _EPS:
            self._interval(st, step, end)

    def _interval(self, st: _State, step: Step, end: float) -> tuple[float, float]:
        """One monitoring interval up to the next grid point (or ``end``): returns (sequence time, °C)."""
        bench, clock = self.bench, self.bench.clock
        start = clock.now() - st.origin
        stop = min(self._grid_next(st, start), end)
        clock.sleep(stop - start)
        t = clock.now() - st.origin
        results = bench.error_calculator.results()
        temp = float(bench.chamber.temperature())
        setpoint = step.target_c
        alarm = isinstance(step, Soak) and abs(temp - setpoint) > self.mon.chamber_band_k
        st.chamber_alarm_intervals += int(alarm)
        k = round(t / self.mon.interval_s)
        port_now = k % self.mon.port_every == 0
        dt = t - start
        just_stopped = []
        got: dict[int, int] = {}
        for p in self.positions:
            m = self._meters[p]
            n = int(results[p].mut_pulses)  # COUNT mode: cumulative since start
            got[p], self._counts[p] = n - self._counts[p], n
            if m.failed:
                continue
            expected = self._power[p] * dt / _WS_PER_KWH * m.constant
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
        for p in self.positions:
            m = self._meters[p]
            self._buffer.append({
                "test_id": self.test.id, "step": st.step, "step_name": step.name, "t_start_s": start, "t_end_s": t,
                "clock_s": st.origin + t, "position": p, "pulses": got[p], "register_kwh": _nan(regs.get(p)),
                "chamber_c": temp, "setpoint_c": setpoint,
                "chamber_alarm": alarm, "alive": not m.failed, "failure_mode": m.mode or "",
            })
        self._buffered_intervals += 1
        self._last_t = t
        if self._buffered_intervals >= self.mon.chunk_intervals:
            self._flush(st)
        return t, temp

    def _read_register(self, position: int) -> float | None:
        port = self.bench.meter(position).port
        if port is None:
            return None
        try:
            return float(str(port.read(self.mon.register_address)).split("*")[0])
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
                sequence_h=round(st.seq_time / 3600, 6),
            )
            out.append(o)
        return out


def _nan(v: float | None) -> float:
    """Missing readings as NaN: every part file keeps one schema (a column of only None would be typed null)."""
    return math.nan if v is None else v
