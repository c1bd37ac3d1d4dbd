"""Climatic chamber: a program value ramping at the set gradient, followed by the air with a first-order lag.

Within a segment the program value w is linear (slope g) and the air value y obeys τ·dy/dt = w − y, whose
closed form is y(t) = w(t) − g·τ + (y0 − w0 + g·τ)·e^(−t/τ). The world keeps segments short enough that y
changes by at most ``step`` per segment, so meters see a nearly constant temperature in each.
"""

from __future__ import annotations

import math
from typing import Any

from instruments.simulators.clock import VirtualClock
from instruments.simulators.world.config import ChamberConfig

#: largest change of the air value within one segment (K, %RH)
TEMPERATURE_STEP_K = 0.25
HUMIDITY_STEP_PCT = 1.0
#: below this distance between program and air value with a still program, the air counts as constant
_SETTLED = 1e-3


class LagChannel:
    """One controlled variable (temperature or humidity)."""

    def __init__(self, value: float, tau_s: float, drift_tau_s: float, step: float) -> None:
        self.value = value  # actual air value
        self.program = value  # ramped program value
        self.setpoint = value
        self.rate_up = math.inf  # per second; inf = step
        self.rate_down = math.inf
        self.tau = tau_s
        self.drift_tau = drift_tau_s
        self.step = step

    def _target(self, running: bool, ambient: float) -> tuple[float, float, float]:
        """(program value now, slope per s, time constant) of the present stretch."""
        if not running:
            return ambient, 0.0, self.drift_tau
        if self.program < self.setpoint:
            return self.program, self.rate_up, self.tau
        if self.program > self.setpoint:
            return self.program, -self.rate_down, self.tau
        return self.program, 0.0, self.tau

    def ramp_end(self, running: bool) -> float:
        """Seconds until the program value reaches the setpoint (inf when not ramping)."""
        if not running or self.program == self.setpoint:
            return math.inf
        rate = self.rate_up if self.program < self.setpoint else self.rate_down
        return abs(self.setpoint - self.program) / rate if math.isfinite(rate) else 0.0

    def max_segment(self, running: bool, ambient: float) -> float:
        """Longest segment keeping |Δy| ≤ step: |dy/dt| ≤ max(|w − y|/τ, |g|) along a ramp-and-lag stretch."""
        w, g, tau = self._target(running, ambient)
        if not math.isfinite(g):
            return 0.0
        rate = max(abs(w - self.value) / tau, abs(g))
        if rate == 0.0 or (g == 0.0 and abs(w - self.value) < _SETTLED):
            return math.inf
        return self.step / rate

    def at(self, dt: float, running: bool, ambient: float) -> tuple[float, float]:
        """(program, air) values ``dt`` seconds into the present stretch (closed form)."""
        w0, g, tau = self._target(running, ambient)
        if not math.isfinite(g):  # stepped program value: plain exponential approach
            w0, g = self.setpoint, 0.0
        w = w0 + g * dt
        y = w - g * tau + (self.value - w0 + g * tau) * math.exp(-dt / tau)
        return w, y

    def advance(self, dt: float, running: bool, ambient: float, ramp_done: bool) -> None:
        w, y = self.at(dt, running, ambient)
        self.value = y
        if running:
            self.program = self.setpoint if ramp_done else w
        else:
            self.program = y  # a restart ramps from where the air is

    def restart(self) -> None:
        self.program = self.value


class Chamber:
    """Variable 1 = temperature (°C), variable 2 = humidity (%RH). Manual mode: ``start()`` / ``stop()``;
    when stopped the air drifts back to ambient. An alarm stops the chamber, as a real controller does.
    Humidity control can be switched off on its own (dry heat, cold): the humidity then drifts back to the
    ambient value like a stopped chamber's (our simplification: no dew point physics)."""

    def __init__(self, config: ChamberConfig, clock: VirtualClock, ambient_c: float, ambient_rh: float) -> None:
        self.config = config
        self._clock = clock
        self.ambient_temperature = ambient_c
        self.ambient_humidity = ambient_rh
        self.temperature_range = config.temperature_range_c
        self.humidity_range = config.humidity_range_pct
        self.max_gradient_up = config.max_gradient_up_k_per_min
        self.max_gradient_down = config.max_gradient_down_k_per_min
        self.running = False
        self.alarms: list[int] = []
        self._t = LagChannel(
            ambient_c, config.temperature_time_constant_s, config.drift_time_constant_s, TEMPERATURE_STEP_K
        )
        self._h = LagChannel(
            ambient_rh, config.humidity_time_constant_s, config.drift_time_constant_s, HUMIDITY_STEP_PCT
        )
        self._gradient_up = 0.0
        self._gradient_down = 0.0
        self.set_gradient(True, config.gradient_up_k_per_min)
        self.set_gradient(False, config.gradient_down_k_per_min)
        rh_rate = config.humidity_gradient_pct_per_min / 60.0
        self._h.rate_up = self._h.rate_down = rh_rate if rh_rate > 0 else math.inf
        #: the controller's timed program step: (end time, gradients to restore at its end)
        self._step: tuple[float, tuple[float, float]] | None = None
        self._humidity_control = self.humidity_range is not None

    # -- readings ------------------------------------------------------------------------------
    @property
    def temperature(self) -> float:
        return self._t.value

    @property
    def humidity(self) -> float | None:
        return None if self.humidity_range is None else self._h.value

    @property
    def temperature_setpoint(self) -> float:
        return self._t.setpoint

    @property
    def humidity_setpoint(self) -> float | None:
        return None if self.humidity_range is None else self._h.setpoint

    @property
    def temperature_program(self) -> float:
        """The ramped program value the air is chasing."""
        return self._t.program

    @property
    def gradient_up(self) -> float:
        return self._gradient_up

    @property
    def gradient_down(self) -> float:
        return self._gradient_down

    @property
    def humidity_controlled(self) -> bool:
        """Whether the humidity is held at its setpoint (False without humidity control, or switched off)."""
        return self._humidity_control

    def set_humidity_control(self, on: bool) -> None:
        """Switch humidity control on or off (the setpoint is kept); refused without humidity control."""
        if self.humidity_range is None:
            raise ValueError("the chamber has no humidity control")
        if on and not self._humidity_control:
            self._h.restart()  # control resumes from the humidity the air has now
        self._humidity_control = bool(on)

    @property
    def air_humidity(self) -> float:
        """Humidity the meters feel: the controlled value, or ambient without humidity control."""
        return self.ambient_humidity if self.humidity_range is None else self._h.value

    # -- control -------------------------------------------------------------------------------
    def set_setpoint(self, variable: int, value: float) -> None:
        if variable == 1:
            lo, hi = self.temperature_range
            channel = self._t
        elif variable == 2 and self.humidity_range is not None:
            lo, hi = self.humidity_range
            channel = self._h
        else:
            raise ValueError(f"no controlled variable {variable!r}")
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"setpoint {value!r} outside {lo:g}..{hi:g}")
        channel.setpoint = float(value)

    def set_gradient(self, up: bool, k_per_min: float) -> None:
        """Temperature gradient of the program value in K/min; 0 = no limit (the program value steps)."""
        limit = self.max_gradient_up if up else self.max_gradient_down
        if not (math.isfinite(k_per_min) and 0 <= k_per_min <= limit):
            raise ValueError(f"gradient {k_per_min!r} K/min outside 0..{limit:g}")
        rate = k_per_min / 60.0 if k_per_min > 0 else math.inf
        if up:
            self._gradient_up = float(k_per_min)
            self._t.rate_up = rate
        else:
            self._gradient_down = float(k_per_min)
            self._t.rate_down = rate

    def start(self) -> None:
        if not self.running:
            self.running = True
            self._t.restart()
            self._h.restart()

    def stop(self) -> None:
        """Operation stops; a running program step ends with it."""
        self.running = False
        self.end_step()

    # -- timed program step (ESPEC ``RUN PRGM``) --------------------------------------------------
    @property
    def step_end(self) -> float | None:
        """Virtual time at which the running program step ends; None when no step runs."""
        return None if self._step is None else self._step[0]

    def begin_step(self, duration_s: float) -> None:
        """A timed program step of the controller starts now. The gradients in force are saved and restored
        when it ends: at ``now + duration_s`` as an event of the world's integration (so the outcome never
        depends on when a client polls), or earlier through :meth:`end_step` or :meth:`stop`."""
        if not (math.isfinite(duration_s) and duration_s > 0):
            raise ValueError(f"step duration must be > 0 s, got {duration_s!r}")
        self.end_step()
        self._step = (self._clock.now + duration_s, (self._gradient_up, self._gradient_down))

    def end_step(self) -> None:
        """End the running program step now (no-op without one): the saved gradients are back."""
        step, self._step = self._step, None
        if step is not None:
            up, down = step[1]
            self.set_gradient(True, up)
            self.set_gradient(False, down)

    def raise_alarm(self, code: int) -> None:
        self.alarms.append(int(code))
        self.stop()

    def clear_alarms(self) -> None:
        self.alarms.clear()

    # -- used by the world's integration -------------------------------------------------------
    def _channels(self) -> list[tuple[LagChannel, float, bool]]:
        """(channel, ambient value, controlled now) of every variable the chamber has."""
        out = [(self._t, self.ambient_temperature, self.running)]
        if self.humidity_range is not None:
            out.append((self._h, self.ambient_humidity, self.running and self._humidity_control))
        return out

    def next_boundary(self, t: float) -> float:
        """End of the present stretch: a ramp end or the |Δy| ≤ step bound."""
        dt = math.inf
        for ch, amb, on in self._channels():
            dt = min(dt, ch.ramp_end(on), ch.max_segment(on, amb))
        if dt <= 0.0:  # stepped setpoint: take the step now, the lag bound applies from the next segment
            self._apply_steps()
            dt = min(ch.max_segment(on, amb) for ch, amb, on in self._channels())
        if self._step is not None and self._step[0] > t:
            dt = min(dt, self._step[0] - t)
        return t + max(dt, 1e-6)

    def events_at(self, t: float) -> None:
        """Called by the world at the end of every segment (virtual time ``t``): a program step due ends."""
        if self._step is not None and t >= self._step[0]:
            self.end_step()

    def _apply_steps(self) -> None:
        for ch, _, on in self._channels():
            if on and ch.ramp_end(True) == 0.0:
                ch.program = ch.setpoint

    def conditions_over(self, dt: float) -> tuple[float, float]:
        """(temperature, humidity) the meters feel over the next ``dt`` s: the air values at the midpoint."""
        temp = self._t.at(dt / 2, self.running, self.ambient_temperature)[1]
        if self.humidity_range is None:
            return temp, self.ambient_humidity
        return temp, self._h.at(dt / 2, self.running and self._humidity_control, self.ambient_humidity)[1]

    def advance(self, dt: float) -> None:
        for ch, amb, on in self._channels():
            end = ch.ramp_end(on)
            ch.advance(dt, on, amb, ramp_done=dt >= end - 1e-6)

    def truth(self) -> dict[str, Any]:
        return {
            "temperature_c": self.temperature,
            "humidity_pct": self.humidity,
            "temperature_setpoint_c": self.temperature_setpoint,
            "humidity_setpoint_pct": self.humidity_setpoint,
            "humidity_controlled": self.humidity_controlled,
            "temperature_program_c": self._t.program,
            "gradient_up_k_per_min": self.gradient_up,
            "gradient_down_k_per_min": self.gradient_down,
            "running": self.running,
            "step_end": self.step_end,
            "alarms": list(self.alarms),
        }
