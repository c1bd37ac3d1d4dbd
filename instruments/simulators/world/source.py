"""Meter-test source: independent voltage and current per phase (phantom power), with settling, its own
small setting error, and programmed voltage dips / short interruptions (:class:`DipProgram`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from instruments.simulators.clock import VirtualClock
from instruments.simulators.world.config import SourceConfig
from instruments.simulators.world.electrical import Harmonic, PhaseSetpoint, wrap_degrees

#: residual of a step at the end of the settling time; τ = settling_time / ln(1/residual)
_SETTLE_RESIDUAL = 1e-4
_DEFAULT_ANGLES = (0.0, -120.0, 120.0)
#: highest level of a dip program: above 100 % it is a swell (ours, U)
MAX_LEVEL_PCT = 200.0

SourceState = tuple[PhaseSetpoint, ...]


@dataclass(frozen=True)
class FlickerProgram:
    """Rectangular voltage fluctuation (IEC 61000-4-15 Table 5 test signals): the voltage of ``phases`` steps between
    (1 + d/2) and (1 − d/2) × the programmed value, ``depth_pct`` = d = ΔV/V peak to peak in %, ``cpm`` changes per
    minute (two per period), from ``start`` (virtual seconds). The RMS over whole periods is √(1 + d²/4) × U — a
    ≤ 0.5 ‰ rise at the 4 % the source allows, which the physics leaves out (energy is integrated on U)."""

    depth_pct: float
    cpm: float
    phases: frozenset[int]
    start: float


#: the fluctuation the source plays: at most 4 % ΔV/V, 0.1 … 4800 changes per minute (ours, U)
FLICKER_MAX_DEPTH_PCT = 4.0
FLICKER_CPM = (0.1, 4800.0)


@dataclass(frozen=True)
class DipProgram:
    """``count`` voltage dips of the ``phases`` to ``level`` × the programmed voltage, each ``duration_s`` long,
    ``delay_s`` from the end of one to the start of the next, the first at ``start`` (virtual seconds). The
    current of a phantom source is not touched. Windows are half-open [s_k, e_k): the world integrates up to
    each edge exactly (:meth:`next_edge`), so the energy of a dip is exact whatever the advance steps."""

    level: float
    duration_s: float
    phases: frozenset[int]
    count: int
    delay_s: float
    start: float

    @property
    def period(self) -> float:
        return self.duration_s + self.delay_s

    @property
    def end(self) -> float:
        return self._edges(self.count - 1)[1]

    def _edges(self, k: int) -> tuple[float, float]:
        s = self.start + k * self.period
        return s, s + self.duration_s

    def _index(self, t: float) -> int:
        """The event whose window starts at or before ``t`` (clamped to 0..count-1)."""
        if t < self.start:
            return 0
        return min(int((t - self.start) // self.period), self.count - 1)

    def active(self, t: float) -> bool:
        if t < self.start or t >= self.end:
            return False
        k = self._index(t)
        for j in (k, k + 1):  # floor division may land one event early at an exact edge
            if j < self.count:
                s, e = self._edges(j)
                if s <= t < e:
                    return True
        return False

    def next_edge(self, t: float) -> float:
        """First window edge strictly after ``t`` (inf when the program is over)."""
        k = self._index(t)
        for j in (k, k + 1):
            if j < self.count:
                for edge in self._edges(j):
                    if edge > t:
                        return edge
        return math.inf

    def events_done(self, t: float) -> int:
        """Dips completed by ``t``."""
        if t < self.start:
            return 0
        done = 0
        for j in (self._index(t), self._index(t) + 1):
            if j < self.count and self._edges(j)[1] <= t:
                done = j + 1
        return done


@dataclass
class _Programmed:
    voltage: float
    current: float
    voltage_angle: float
    current_angle: float
    u_harm: dict[int, tuple[float, float]] = field(default_factory=dict)
    i_harm: dict[int, tuple[float, float]] = field(default_factory=dict)


def _harmonics(d: dict[int, tuple[float, float]]) -> tuple[Harmonic, ...]:
    return tuple(Harmonic(k, d[k][0], d[k][1]) for k in sorted(d))


def _finite(name: str, x: float) -> float:
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {x!r}")
    return float(x)


class Source:
    """Phases are numbered 1..``phases``. Setpoints beyond the rating raise ``ValueError``."""

    def __init__(self, config: SourceConfig, clock: VirtualClock, rng: np.random.Generator) -> None:
        self.config = config
        self.clock = clock
        self.phases = config.phases
        self.nominal_voltage = config.nominal_voltage_v
        self.nominal_frequency = config.nominal_frequency_hz
        self.max_voltage = config.max_voltage_v
        self.max_current = config.max_current_a
        self.min_frequency = config.min_frequency_hz
        self.max_frequency = config.max_frequency_hz
        self.settling_time = config.settling_time_s
        self.max_harmonic_order = config.max_harmonic_order
        self._tau = config.settling_time_s / math.log(1.0 / _SETTLE_RESIDUAL)
        # the unit's own setting errors, fixed for its life (drawn in a fixed order: stable per seed)
        e = config.setting_error_pct / 100.0
        self._gain_u = [1.0 + e * float(rng.uniform(-1, 1)) for _ in range(self.phases)]
        self._gain_i = [1.0 + e * float(rng.uniform(-1, 1)) for _ in range(self.phases)]
        self._angle_err = [config.setting_error_deg * float(rng.uniform(-1, 1)) for _ in range(self.phases)]
        #: bumped on every change; consumers cache derived values per state object
        self.version = 0
        self._state_cache: SourceState | None = None
        self._dip_cache: SourceState | None = None
        self.dips: DipProgram | None = None
        self.flicker: FlickerProgram | None = None
        #: dips completed since power-on (programs that ran to their end or were aborted, counted at the time)
        self.dip_events = 0
        self.reset()

    # -- programming ---------------------------------------------------------------------------
    def reset(self) -> None:
        """*RST / power loss: nominal voltage, no current, default angles, no harmonics, output off."""
        self._prog = [
            _Programmed(self.nominal_voltage, 0.0, _DEFAULT_ANGLES[p], _DEFAULT_ANGLES[p]) for p in range(self.phases)
        ]
        self._frequency = self.nominal_frequency
        self._output = False
        self._from_u = [0.0] * self.phases
        self._from_i = [0.0] * self.phases
        self._change_t = self.clock.now
        self.settle_until = self.clock.now
        self.dips = None
        self.dip_events = 0
        self.flicker = None
        self._changed()

    def _phase(self, phase: int) -> _Programmed:
        if not isinstance(phase, int) or not 1 <= phase <= self.phases:
            raise ValueError(f"phase must be 1..{self.phases}, got {phase!r}")
        return self._prog[phase - 1]

    def _begin_change(self) -> None:
        """Capture the amplitudes delivered right now: the transient to the new setpoint starts from them."""
        if self._output:
            now = self.clock.now
            for p in range(self.phases):
                self._from_u[p], self._from_i[p] = self._amplitudes(p, now)

    def _end_change(self) -> None:
        if self._output:
            self._change_t = self.clock.now
            self.settle_until = self.clock.now + self.settling_time
        self._changed()

    def _changed(self) -> None:
        self.version += 1
        self._state_cache = None
        self._dip_cache = None

    # -- dips and short interruptions --------------------------------------------------------------
    def start_dips(self, level_pct: float, duration_s: float, phases: tuple[int, ...] | None = None,
                   count: int = 1, delay_s: float = 0.0) -> DipProgram:
        """Start ``count`` dips now: the voltage of ``phases`` (None: all) drops to ``level_pct`` % of the
        programmed value for ``duration_s`` each, ``delay_s`` apart (end to start). 0 % is an interruption, above
        100 % a swell (up to :data:`MAX_LEVEL_PCT` and the voltage rating)."""
        level_pct = _finite("dip level", level_pct)
        duration_s = _finite("dip duration", duration_s)
        delay_s = _finite("dip delay", delay_s)
        if not 0 <= level_pct <= MAX_LEVEL_PCT:
            raise ValueError(f"dip / swell level must be 0..{MAX_LEVEL_PCT:g} % of the programmed voltage, got "
                             f"{level_pct:g}")
        if duration_s <= 0:
            raise ValueError(f"dip duration must be > 0 s, got {duration_s:g}")
        if delay_s < 0:
            raise ValueError(f"dip delay must be ≥ 0 s, got {delay_s:g}")
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"dip count must be an integer ≥ 1, got {count!r}")
        chosen = tuple(range(1, self.phases + 1)) if phases is None else tuple(phases)
        if not chosen:
            raise ValueError("a dip needs at least one phase")
        for ph in chosen:
            self._phase(ph)
        if not self._output:
            raise ValueError("the output is off: nothing to dip")
        for ph in chosen:
            u = self._phase(ph).voltage * level_pct / 100.0
            if u > self.max_voltage * (1 + 1e-12):
                raise ValueError(f"phase {ph}: a swell to {u:.6g} V exceeds the rating {self.max_voltage:g} V")
        self.abort_dips()
        self.dips = DipProgram(level_pct / 100.0, duration_s, frozenset(chosen), count, delay_s, self.clock.now)
        self._changed()
        return self.dips

    def start_flicker(self, depth_pct: float, cpm: float, phases: tuple[int, ...] | None = None) -> FlickerProgram:
        """Start a rectangular fluctuation of ``depth_pct`` ΔV/V at ``cpm`` changes per minute now."""
        depth_pct, cpm = _finite("flicker depth", depth_pct), _finite("flicker rate", cpm)
        if not 0 < depth_pct <= FLICKER_MAX_DEPTH_PCT:
            raise ValueError(f"flicker depth must be > 0 and ≤ {FLICKER_MAX_DEPTH_PCT:g} % ΔV/V, got {depth_pct:g}")
        if not FLICKER_CPM[0] <= cpm <= FLICKER_CPM[1]:
            raise ValueError(f"flicker rate must be {FLICKER_CPM[0]:g} … {FLICKER_CPM[1]:g} changes/min, got {cpm:g}")
        chosen = tuple(range(1, self.phases + 1)) if phases is None else tuple(phases)
        for ph in chosen:
            if self._phase(ph).voltage * (1 + depth_pct / 200) > self.max_voltage * (1 + 1e-12):
                raise ValueError(f"phase {ph}: the fluctuation's peak exceeds the rating {self.max_voltage:g} V")
        if not chosen:
            raise ValueError("a fluctuation needs at least one phase")
        self.flicker = FlickerProgram(depth_pct, cpm, frozenset(chosen), self.clock.now)
        self._changed()
        return self.flicker

    def stop_flicker(self) -> None:
        if self.flicker is not None:
            self.flicker = None
            self._changed()

    def abort_dips(self) -> None:
        """Stop a running dip program (the voltage returns to the programmed value now)."""
        if self.dips is not None:
            self.dip_events += self.dips.events_done(self.clock.now)
            self.dips = None
            self._changed()

    @property
    def dips_running(self) -> bool:
        return self.dips is not None and self.clock.now < self.dips.end

    def dip_events_done(self) -> int:
        """Dips completed since power-on / *RST."""
        extra = self.dips.events_done(self.clock.now) if self.dips is not None else 0
        return self.dip_events + extra

    def _dip_factor(self, p: int, t: float) -> float:
        d = self.dips
        if d is None or (p + 1) not in d.phases or not d.active(t):
            return 1.0
        return d.level

    def _dipped(self, t: float) -> bool:
        return self._output and self.dips is not None and self.dips.active(t)

    def _check_rms(
        self,
        phase: int,
        volts: float,
        amps: float,
        u_harm: dict[int, tuple[float, float]],
        i_harm: dict[int, tuple[float, float]],
    ) -> None:
        u = volts * math.sqrt(1 + sum((v[0] / 100) ** 2 for v in u_harm.values()))
        i = amps * math.sqrt(1 + sum((v[0] / 100) ** 2 for v in i_harm.values()))
        if u > self.max_voltage * (1 + 1e-12):
            raise ValueError(f"phase {phase}: {u:.6g} V RMS exceeds the rating {self.max_voltage:g} V")
        if i > self.max_current * (1 + 1e-12):
            raise ValueError(f"phase {phase}: {i:.6g} A RMS exceeds the rating {self.max_current:g} A")

    def set_voltage(self, phase: int, volts: float) -> None:
        prog = self._phase(phase)
        volts = _finite("voltage", volts)
        if volts < 0:
            raise ValueError("voltage must not be negative")
        self._check_rms(phase, volts, prog.current, prog.u_harm, prog.i_harm)
        self._begin_change()
        prog.voltage = volts
        self._end_change()

    def set_current(self, phase: int, amps: float) -> None:
        prog = self._phase(phase)
        amps = _finite("current", amps)
        if amps < 0:
            raise ValueError("current must not be negative")
        self._check_rms(phase, prog.voltage, amps, prog.u_harm, prog.i_harm)
        self._begin_change()
        prog.current = amps
        self._end_change()

    def set_voltage_angle(self, phase: int, degrees: float) -> None:
        prog = self._phase(phase)
        deg = wrap_degrees(_finite("angle", degrees))
        self._begin_change()
        prog.voltage_angle = deg
        self._end_change()

    def set_current_angle(self, phase: int, degrees: float) -> None:
        prog = self._phase(phase)
        deg = wrap_degrees(_finite("angle", degrees))
        self._begin_change()
        prog.current_angle = deg
        self._end_change()

    def set_harmonic(self, phase: int, quantity: Literal["U", "I"], order: int, percent: float, degrees: float) -> None:
        """Harmonic ``order`` of U or I at ``percent`` of the fundamental; 0 % removes it."""
        prog = self._phase(phase)
        if quantity not in ("U", "I"):
            raise ValueError(f"quantity must be 'U' or 'I', got {quantity!r}")
        if not isinstance(order, int) or not 2 <= order <= self.max_harmonic_order:
            raise ValueError(f"harmonic order must be 2..{self.max_harmonic_order}, got {order!r}")
        percent = _finite("harmonic amplitude", percent)
        if not 0 <= percent <= 100:
            raise ValueError(f"harmonic amplitude must be 0..100 % of the fundamental, got {percent}")
        deg = wrap_degrees(_finite("harmonic angle", degrees))
        table = dict(prog.u_harm if quantity == "U" else prog.i_harm)
        if percent == 0:
            table.pop(order, None)
        else:
            table[order] = (percent, deg)
        if quantity == "U":
            self._check_rms(phase, prog.voltage, prog.current, table, prog.i_harm)
        else:
            self._check_rms(phase, prog.voltage, prog.current, prog.u_harm, table)
        self._begin_change()
        if quantity == "U":
            prog.u_harm = table
        else:
            prog.i_harm = table
        self._end_change()

    def clear_harmonics(self, phase: int, quantity: Literal["U", "I"]) -> None:
        prog = self._phase(phase)
        if quantity not in ("U", "I"):
            raise ValueError(f"quantity must be 'U' or 'I', got {quantity!r}")
        self._begin_change()
        if quantity == "U":
            prog.u_harm = {}
        else:
            prog.i_harm = {}
        self._end_change()

    def set_frequency(self, hz: float) -> None:
        hz = _finite("frequency", hz)
        if not self.min_frequency <= hz <= self.max_frequency:
            raise ValueError(f"frequency must be {self.min_frequency:g}..{self.max_frequency:g} Hz, got {hz:g}")
        self._begin_change()
        self._frequency = hz
        self._end_change()

    @property
    def frequency(self) -> float:
        return self._frequency

    @property
    def output(self) -> bool:
        return self._output

    @output.setter
    def output(self, on: bool) -> None:
        self.set_output(on)

    def set_output(self, on: bool) -> None:
        """Switching on starts a transient from zero; switching off is immediate."""
        on = bool(on)
        if on == self._output:
            return
        self._output = on
        now = self.clock.now
        if on:
            self._from_u = [0.0] * self.phases
            self._from_i = [0.0] * self.phases
            self._change_t = now
            self.settle_until = now + self.settling_time
        else:
            self.settle_until = now
            self.abort_dips()
            self.stop_flicker()
        self._changed()

    # -- what is at the terminals --------------------------------------------------------------
    @property
    def settled(self) -> bool:
        return self.clock.now >= self.settle_until

    def setpoint(self, phase: int) -> PhaseSetpoint:
        prog = self._phase(phase)
        return PhaseSetpoint(
            prog.voltage,
            prog.current,
            prog.voltage_angle,
            prog.current_angle,
            self._frequency,
            _harmonics(prog.u_harm),
            _harmonics(prog.i_harm),
        )

    def _targets(self, p: int) -> tuple[float, float]:
        prog = self._prog[p]
        return prog.voltage * self._gain_u[p], prog.current * self._gain_i[p]

    def _amplitudes(self, p: int, t: float) -> tuple[float, float]:
        """Amplitudes at ``t`` without dips (the settling transient only)."""
        if not self._output:
            return 0.0, 0.0
        u, i = self._targets(p)
        if t >= self.settle_until or self._tau <= 0:
            return u, i
        k = math.exp(-(t - self._change_t) / self._tau)
        return u + (self._from_u[p] - u) * k, i + (self._from_i[p] - i) * k

    def _delivered_phase(self, p: int, u: float, i: float) -> PhaseSetpoint:
        prog = self._prog[p]
        return PhaseSetpoint(
            u,
            i,
            prog.voltage_angle,
            wrap_degrees(prog.current_angle + self._angle_err[p]),
            self._frequency,
            _harmonics(prog.u_harm),
            _harmonics(prog.i_harm),
        )

    def delivered(self, phase: int) -> PhaseSetpoint:
        """The truth at the terminals at ``clock.now`` (zero amplitudes when the output is off)."""
        self._phase(phase)
        p, now = phase - 1, self.clock.now
        u, i = self._amplitudes(p, now)
        return self._delivered_phase(p, u * self._dip_factor(p, now), i)

    # -- used by the world's integration -------------------------------------------------------
    def next_boundary(self, t: float) -> float:
        """End of the current piecewise-constant stretch: during settling, steps of one time constant; a dip's
        edges exactly."""
        edge = self.dips.next_edge(t) if self.dips is not None and self._output else math.inf
        if not self._output or t >= self.settle_until:
            return edge
        return min(self.settle_until, t + max(self._tau, 1e-6), edge)

    def state_over(self, t0: float, t1: float) -> SourceState:
        """Delivered values representing [t0, t1] (which never straddles a dip edge, see :meth:`next_boundary`):
        exact when settled, the mean amplitudes while settling; a dip scales the voltage of its phases."""
        mid = 0.5 * (t0 + t1)
        if not self._output or t0 >= self.settle_until:
            if self._dipped(mid):
                if self._dip_cache is None:
                    self._dip_cache = tuple(
                        self._delivered_phase(p, self._targets(p)[0] * self._dip_factor(p, mid), self._targets(p)[1])
                        for p in range(self.phases)
                    )
                return self._dip_cache
            if self._state_cache is None:
                self._state_cache = tuple(
                    self._delivered_phase(p, *self._amplitudes(p, math.inf)) for p in range(self.phases)
                )
            return self._state_cache
        # mean of target + Δ·e^(−(t−tc)/τ) over [t0, t1]
        a, b = t0 - self._change_t, t1 - self._change_t
        mean_k = self._tau * (math.exp(-a / self._tau) - math.exp(-b / self._tau)) / (b - a) if b > a else 1.0
        out = []
        for p in range(self.phases):
            u, i = self._targets(p)
            out.append(self._delivered_phase(p, (u + (self._from_u[p] - u) * mean_k) * self._dip_factor(p, mid),
                                             i + (self._from_i[p] - i) * mean_k))
        return tuple(out)

    def state_now(self) -> SourceState:
        now = self.clock.now
        if not self._output or now >= self.settle_until:
            return self.state_over(now, now)
        return tuple(self._delivered_phase(p, self._amplitudes(p, now)[0] * self._dip_factor(p, now),
                                           self._amplitudes(p, now)[1]) for p in range(self.phases))
