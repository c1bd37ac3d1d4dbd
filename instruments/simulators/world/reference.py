"""Reference standard: a power analyser (Yokogawa WT style) with energy integration and an HF pulse output.

Its own systematic error is drawn once from the seed within its accuracy class: per element a voltage gain,
a current gain and a phase error, each taking a quarter of the class, so that the energy error stays well inside
the class at any power factor down to 0.5. Readings carry a small noise; integration and pulses do not.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from instruments.simulators.clock import VirtualClock
from instruments.simulators.units import WS_PER_KWH
from instruments.simulators.world.config import ReferenceConfig
from instruments.simulators.world.electrical import PhaseSetpoint
from instruments.simulators.world.source import Source, SourceState

FUNCTIONS = ("U", "I", "P", "S", "Q", "LAMBDA", "PHI", "FU", "URMS", "IRMS", "WH", "WHP", "WHM", "AH", "TIME")
INTEGRATION_FUNCTIONS = ("WH", "WHP", "WHM", "AH", "TIME")
IntegrationState = Literal["RESET", "READY", "START", "STOP", "TIMEUP"]


class IntegrationError(ValueError):
    """An integration command not allowed in the present state (WT: execution error)."""


class Integration:
    """Energy integration of the reference: RESET → START ⇄ STOP; with a timer, START → TIMEUP at the end.

    After a reset with a timer set the state reads READY. After TIMEUP the values must be reset before a new
    start (WT5000 user's manual, integration). ``mode`` "NORMAL" stops at the timer; "CONTINUOUS" resets the
    values and goes on at every timer period.
    """

    def __init__(self, elements: int) -> None:
        self.elements = elements
        self.mode = "NORMAL"
        self.timer_s = 0.0
        self._state: IntegrationState = "RESET"
        self._clear()

    def _clear(self) -> None:
        n = self.elements
        self.wh = [0.0] * n
        self.whp = [0.0] * n
        self.whm = [0.0] * n  # ≤ 0, as the WT shows WH−
        self.ah = [0.0] * n
        self.elapsed_s = 0.0

    @property
    def state(self) -> IntegrationState:
        if self._state == "RESET" and self.timer_s > 0:
            return "READY"
        return self._state

    @property
    def running(self) -> bool:
        return self._state == "START"

    def start(self) -> None:
        if self._state == "TIMEUP":
            raise IntegrationError("integration timed up: reset it before starting again")
        if self.mode not in ("NORMAL", "CONTINUOUS"):
            raise IntegrationError(f"unknown integration mode {self.mode!r}")
        if self.mode == "CONTINUOUS" and self.timer_s <= 0:
            raise IntegrationError("continuous integration needs a timer")
        if self.timer_s < 0 or not math.isfinite(self.timer_s):
            raise IntegrationError(f"bad integration timer {self.timer_s!r}")
        self._state = "START"

    def stop(self) -> None:
        if self._state == "START":
            self._state = "STOP"

    def reset(self) -> None:
        self._state = "RESET"
        self._clear()

    def remaining_s(self) -> float:
        """Seconds until the timer ends the present period (inf without a timer or when not running)."""
        if self._state != "START" or self.timer_s <= 0:
            return math.inf
        return max(self.timer_s - self.elapsed_s, 0.0)

    def add(self, dt: float, powers_w: list[float], currents_a: list[float], timer_end: bool) -> None:
        if self._state != "START":
            return
        h = dt / 3600.0
        for e in range(self.elements):
            wh = powers_w[e] * h
            self.wh[e] += wh
            if wh >= 0:
                self.whp[e] += wh
            else:
                self.whm[e] += wh
            self.ah[e] += currents_a[e] * h
        self.elapsed_s += dt
        if timer_end:
            if self.mode == "CONTINUOUS":
                self._clear()
            else:
                self.elapsed_s = self.timer_s
                self._state = "TIMEUP"

    def value(self, function: str, index: int | None) -> float:
        """``index`` None = SIGMA (sum of the elements)."""
        if function == "TIME":
            return self.elapsed_s
        table = {"WH": self.wh, "WHP": self.whp, "WHM": self.whm, "AH": self.ah}[function]
        return sum(table) if index is None else table[index]


class Reference:
    """Elements 1..phases and "SIGMA" (total)."""

    def __init__(
        self,
        config: ReferenceConfig,
        source: Source,
        clock: VirtualClock,
        rng: np.random.Generator,
        noise_rng: np.random.Generator,
    ) -> None:
        self.config = config
        self.model = config.model
        self.serial = config.serial
        self.accuracy_pct = config.accuracy_class_pct
        self.pulse_constant = config.pulse_constant_imp_per_kwh
        self.noise_pct = config.noise_pct
        self.phases = source.phases
        self._source = source
        self._clock = clock
        self._noise = noise_rng
        quarter = config.accuracy_class_pct / 100.0 / 4.0
        n = source.phases
        self.gain_u = [1.0 + quarter * float(rng.uniform(-1, 1)) for _ in range(n)]
        self.gain_i = [1.0 + quarter * float(rng.uniform(-1, 1)) for _ in range(n)]
        # phase error (rad) worth a quarter of the class at PF 0.5: tan 60° · δ
        self.phase_err = [quarter / math.tan(math.radians(60)) * float(rng.uniform(-1, 1)) for _ in range(n)]
        self.freq_gain = 1.0 + quarter * 0.1 * float(rng.uniform(-1, 1))
        self.integration = Integration(n)
        #: reference pulses + fraction emitted since power-on (HF output at ``pulse_constant``)
        self.pulse_acc = 0.0
        self._cache_state: SourceState | None = None
        self._cache: tuple[list[float], list[float], float] = ([], [], 0.0)

    def reset(self) -> None:
        """*RST: integration reset, mode NORMAL, timer off (the pulse output keeps counting)."""
        self.integration = Integration(self.phases)

    @property
    def pulses(self) -> int:
        return math.floor(self.pulse_acc)

    # -- measurement of one phase ------------------------------------------------------------------
    def _element(self, e: int, sp: PhaseSetpoint) -> tuple[float, float, float, float]:
        """Measured (U, I, P, Q) of element index ``e``, noise-free."""
        ku, ki = self.gain_u[e], self.gain_i[e]
        u, i = sp.voltage_rms * ku, sp.current_rms * ki
        fund = sp.voltage * sp.current * math.cos(math.radians(sp.phi) + self.phase_err[e])
        p = ku * ki * (fund + sp.harmonic_power)
        s = u * i
        q = math.sqrt(max(s * s - p * p, 0.0))
        return u, i, p, (q if sp.phi >= 0 else -q)

    def _powers(self, state: SourceState) -> tuple[list[float], list[float], float]:
        """Measured element powers, element currents and SIGMA power for a source state (cached)."""
        if state is not self._cache_state:
            ps, cs = [], []
            for e, sp in enumerate(state):
                _, i, p, _ = self._element(e, sp)
                ps.append(p)
                cs.append(i)
            self._cache_state, self._cache = state, (ps, cs, sum(ps))
        return self._cache

    def pulse_rate(self, state: SourceState) -> float:
        return abs(self._powers(state)[2]) * self.pulse_constant / WS_PER_KWH

    def integrate(self, dt: float, state: SourceState, timer_end: bool) -> None:
        ps, cs, total = self._powers(state)
        self.pulse_acc += abs(total) * dt * self.pulse_constant / WS_PER_KWH
        self.integration.add(dt, ps, cs, timer_end)

    # -- readings ------------------------------------------------------------------------------
    def _noisy(self, x: float) -> float:
        if self.noise_pct <= 0 or x == 0 or not math.isfinite(x):
            return x
        return x * (1.0 + self.noise_pct / 100.0 * float(self._noise.standard_normal()))

    def _index(self, element: int | str) -> int | None:
        if isinstance(element, str):
            if element.upper() == "SIGMA":
                return None
            if not element.isdigit():
                raise ValueError(f"element must be 1..{self.phases} or SIGMA, got {element!r}")
            element = int(element)
        if not 1 <= element <= self.phases:
            raise ValueError(f"element must be 1..{self.phases} or SIGMA, got {element!r}")
        return element - 1

    def measure(self, function: str, element: int | str = "SIGMA") -> float:
        """One reading. U/I are true RMS; P/S/Q in W/VA/var; LAMBDA = P/S; PHI in degrees (+ = current lagging);
        FU in Hz; WH/WHP/WHM in Wh, AH in Ah, TIME in s. SIGMA: U and I are means, powers sums
        (3P4W wiring). Undefined values (PF or angle without current) are NaN."""
        fn = function.upper()
        if fn not in FUNCTIONS:
            raise ValueError(f"unknown function {function!r}; known: {', '.join(FUNCTIONS)}")
        idx = self._index(element)
        if fn in INTEGRATION_FUNCTIONS:
            return self.integration.value(fn, idx)
        state = self._source.state_now()
        if fn == "FU":
            return self._noisy(state[0].frequency * self.freq_gain if self._source.output else 0.0)
        vals = [self._element(e, sp) for e, sp in enumerate(state)]
        if idx is None:
            n = len(vals)
            u = sum(v[0] for v in vals) / n
            i = sum(v[1] for v in vals) / n
            p = sum(v[2] for v in vals)
            q = sum(v[3] for v in vals)
            s = sum(v[0] * v[1] for v in vals)
        else:
            u, i, p, q = vals[idx]
            s = u * i
        if fn in ("U", "URMS"):
            return self._noisy(u)
        if fn in ("I", "IRMS"):
            return self._noisy(i)
        if fn == "P":
            return self._noisy(p)
        if fn == "S":
            return self._noisy(s)
        if fn == "Q":
            return self._noisy(q)
        if s <= 0:
            return math.nan
        lam = max(-1.0, min(1.0, p / s))
        if fn == "LAMBDA":
            return self._noisy(lam)
        # PHI
        if idx is not None:
            sp = state[idx]
            return math.degrees(
                math.atan2(
                    math.sin(math.radians(sp.phi) + self.phase_err[idx]),
                    math.cos(math.radians(sp.phi) + self.phase_err[idx]),
                )
            )
        phi = math.degrees(math.acos(lam))
        return phi if q >= 0 else -phi

    def truth(self) -> dict[str, object]:
        integ = self.integration
        return {
            "pulses": self.pulses,
            "pulse_acc": self.pulse_acc,
            "pulse_constant": self.pulse_constant,
            "gain_u": list(self.gain_u),
            "gain_i": list(self.gain_i),
            "phase_error_rad": list(self.phase_err),
            "integration": {
                "state": integ.state,
                "mode": integ.mode,
                "timer_s": integ.timer_s,
                "time_s": integ.elapsed_s,
                "wh": integ.value("WH", None),
                "whp": integ.value("WHP", None),
                "whm": integ.value("WHM", None),
                "ah": integ.value("AH", None),
                "wh_elements": list(integ.wh),
            },
        }
