"""Error calculator channel: counts reference pulses during N pulses of the meter under test.

error % = (N·C_ref / (n_ref·C_mut) − 1)·100 (standards.md §6). Gate edges are solved analytically inside the
world's piecewise-linear segments: the k-th MUT pulse falls where the meter's pulse accumulator crosses k.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from instruments.simulators.clock import VirtualClock
from instruments.simulators.world.meter import Meter
from instruments.simulators.world.reference import Reference

CalculatorMode = Literal["ERROR", "CONTINUOUS", "COUNT"]
CalculatorState = Literal["IDLE", "WAITING", "RUNNING", "FINISHED"]
MODES: tuple[str, ...] = ("ERROR", "CONTINUOUS", "COUNT")


class ErrorCalculator:
    """One channel, wired to the meter at the same position and to the reference's pulse output.

    ERROR: ``start()`` → WAITING until the next MUT pulse edge opens the gate → RUNNING → FINISHED after N more
    MUT pulses. CONTINUOUS: a new gate opens at each closing edge; ``error_pct`` is the last result and
    ``results`` counts them. COUNT: MUT and reference pulses counted from ``start()`` until ``abort()``.
    ``abort()`` always returns to IDLE; counts stay readable.
    """

    def __init__(self, position: int, meter: Meter, reference: Reference, clock: VirtualClock) -> None:
        self.position = position
        self.meter = meter
        self.reference = reference
        self._clock = clock
        self.mut_constant: float = meter.constant
        self.mut_pulses: int = 10
        self.ref_constant: float = reference.pulse_constant
        self.mode: str = "ERROR"
        self.state: CalculatorState = "IDLE"
        self.error_pct: float | None = None
        self.started_at: float | None = None
        self.opened_at: float | None = None
        self.finished_at: float | None = None
        self.results = 0
        self._open_k = 0  # MUT accumulator value (integer) at which the present gate opens/opened
        self._ref_open = 0  # reference pulse count at the gate opening
        self._mut0 = 0  # COUNT: counts at start
        self._ref0 = 0
        self._mut_frozen = 0
        self._ref_frozen = 0

    # -- control -------------------------------------------------------------------------------
    def start(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not (math.isfinite(self.mut_constant) and self.mut_constant > 0):
            raise ValueError(f"MUT constant must be > 0, got {self.mut_constant!r}")
        if not (math.isfinite(self.ref_constant) and self.ref_constant > 0):
            raise ValueError(f"reference constant must be > 0, got {self.ref_constant!r}")
        if int(self.mut_pulses) != self.mut_pulses or self.mut_pulses < 1:
            raise ValueError(f"number of MUT pulses must be an integer ≥ 1, got {self.mut_pulses!r}")
        self.mut_pulses = int(self.mut_pulses)
        self.error_pct = None
        self.started_at = self._clock.now
        self.opened_at = None
        self.finished_at = None
        self.results = 0
        self._mut_frozen = self._ref_frozen = 0
        if self.mode == "COUNT":
            self._mut0 = math.floor(self.meter.pulse_acc)
            self._ref0 = self.reference.pulses
            self.opened_at = self._clock.now
            self.state = "RUNNING"
        else:
            self._open_k = math.floor(self.meter.pulse_acc) + 1
            self.state = "WAITING"

    def abort(self) -> None:
        if self.state in ("WAITING", "RUNNING"):
            self._mut_frozen, self._ref_frozen = self.mut_counted, self.ref_counted
        self.state = "IDLE"

    # -- readings ------------------------------------------------------------------------------
    @property
    def mut_counted(self) -> int:
        """MUT pulses counted in the present (or last) gate; COUNT mode: since start."""
        if self.state == "RUNNING":
            base = self._mut0 if self.mode == "COUNT" else self._open_k
            n = math.floor(self.meter.pulse_acc) - base
            return n if self.mode == "COUNT" else max(0, min(n, self.mut_pulses))
        if self.state == "WAITING":
            return 0
        return self._mut_frozen

    @property
    def ref_counted(self) -> int:
        if self.state == "RUNNING":
            base = self._ref0 if self.mode == "COUNT" else self._ref_open
            return max(0, self.reference.pulses - base)
        if self.state == "WAITING":
            return 0
        return self._ref_frozen

    @property
    def progress(self) -> float:
        """Fraction of the gate done (ERROR/CONTINUOUS), 1.0 when finished."""
        if self.state == "FINISHED":
            return 1.0
        if self.mode == "COUNT" or self.state != "RUNNING":
            return 0.0
        return self.mut_counted / self.mut_pulses

    @property
    def active(self) -> bool:
        """Gate edges must be solved in the world's segments."""
        return self.mode != "COUNT" and self.state in ("WAITING", "RUNNING")

    def finish_pulse(self) -> int | None:
        """MUT accumulator value at which a started ERROR measurement finishes (for advance_until_idle)."""
        if self.mode == "ERROR" and self.state in ("WAITING", "RUNNING"):
            return self._open_k + self.mut_pulses
        return None

    def _error(self, n_ref: int) -> float:
        if n_ref <= 0:
            return math.inf
        return (self.mut_pulses * self.ref_constant / (n_ref * self.mut_constant) - 1.0) * 100.0

    # -- used by the world's integration -------------------------------------------------------
    def process(self, t0: float, t1: float, a0: float, a1: float, r0: float, r1: float) -> None:
        """Solve gate edges in the segment [t0, t1] over which the MUT accumulator went a0 → a1 and the
        reference accumulator r0 → r1, both linearly."""
        if a1 <= a0:
            return
        dt = t1 - t0

        def t_at(k: float) -> float:
            return min(max(t0 + (k - a0) / (a1 - a0) * dt, t0), t1)

        def ref_at(t: float) -> int:
            return math.floor(r0 + (r1 - r0) * (t - t0) / dt) if dt > 0 else math.floor(r1)

        n = self.mut_pulses
        if self.state == "WAITING":
            if a1 < self._open_k:
                return
            self.opened_at = t_at(self._open_k)
            self._ref_open = ref_at(self.opened_at)
            self.state = "RUNNING"
        close_k = self._open_k + n
        if a1 < close_k:
            return
        if self.mode == "ERROR":
            self.finished_at = t_at(close_k)
            n_ref = ref_at(self.finished_at) - self._ref_open
            self.error_pct = self._error(n_ref)
            self.results += 1
            self._mut_frozen, self._ref_frozen = n, n_ref
            self.state = "FINISHED"
            return
        # CONTINUOUS: gates follow edge to edge; only the last complete one in this segment is kept
        m = max(1, math.floor((a1 - self._open_k) / n))
        last_open = self._open_k + (m - 1) * n
        last_close = self._open_k + m * n
        ref_open = self._ref_open if m == 1 else ref_at(t_at(last_open))
        self.finished_at = t_at(last_close)
        ref_close = ref_at(self.finished_at)
        self.error_pct = self._error(ref_close - ref_open)
        self.results += m
        self._mut_frozen, self._ref_frozen = n, ref_close - ref_open
        self._open_k, self._ref_open = last_close, ref_close
        self.opened_at = self.finished_at

    def truth(self) -> dict[str, Any]:
        err = self.error_pct
        return {
            "mode": self.mode,
            "state": self.state,
            "mut_constant": self.mut_constant,
            "mut_pulses": self.mut_pulses,
            "ref_constant": self.ref_constant,
            "error_pct": err if err is not None and math.isfinite(err) else None,
            "mut_counted": self.mut_counted,
            "ref_counted": self.ref_counted,
            "results": self.results,
            "started_at": self.started_at,
            "opened_at": self.opened_at,
            "finished_at": self.finished_at,
        }
