"""A sequence's chamber profile as primitive steps (ramp, soak), and its check against the chamber's limits."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hil.sequences.model import BurnInTest, SequenceTest, ThermalCyclingTest


class ProfileError(ValueError):
    """The profile cannot run on this chamber (refused before anything starts)."""


@dataclass(frozen=True)
class Ramp:
    """Move the setpoint to ``target_c`` at ``gradient_k_per_min``; done when the actual value is within
    ± ``band_k`` (the chamber's own settling is part of the ramp)."""

    target_c: float
    gradient_k_per_min: float
    band_k: float
    humidity_pct: float | None = None

    @property
    def name(self) -> str:
        return f"ramp to {self.target_c:g} °C"

    def timeout_s(self, from_c: float) -> float:
        """Twice the nominal ramp time plus an hour for the chamber's settling."""
        return 2 * abs(self.target_c - from_c) / self.gradient_k_per_min * 60.0 + 3600.0


@dataclass(frozen=True)
class Soak:
    """Hold ``target_c`` for ``duration_s``; a guaranteed soak counts only from when the actual value is in band
    (IEC 60068-2-2 / -2-1: the test duration starts when the specimen has reached temperature stability)."""

    target_c: float
    duration_s: float
    guaranteed: bool
    band_k: float

    @property
    def name(self) -> str:
        return f"soak {self.duration_s / 3600:g} h at {self.target_c:g} °C"


Step = Ramp | Soak


def steps_of(test: SequenceTest) -> list[Step]:
    """The profile of a sequence test as ramps and soaks, in run order."""
    steps: list[Step] = []
    if isinstance(test, BurnInTest):
        steps.append(Ramp(test.temperature_c, test.gradient_k_per_min, test.band_k, test.humidity_pct))
        steps.append(Soak(test.temperature_c, test.duration_h * 3600.0, test.guaranteed_soak, test.band_k))
    else:
        for _ in range(test.cycles):
            for target in (test.high_c, test.low_c):
                steps.append(Ramp(target, test.gradient_k_per_min, test.band_k))
                steps.append(Soak(target, test.dwell_min * 60.0, test.guaranteed_soak, test.band_k))
    if test.end_temperature_c is not None:
        steps.append(Ramp(test.end_temperature_c, test.gradient_k_per_min, test.band_k))
    return steps


def check_profile(test: SequenceTest, *, min_c: float | None, max_c: float | None,
                  max_gradient_k_per_min: float | None, min_rh: float | None = None,
                  max_rh: float | None = None) -> None:
    """Refuse a profile beyond the chamber's temperature/humidity range or gradient (None: limit unknown)."""
    for st in steps_of(test):
        if isinstance(st, Ramp):
            t = st.target_c
            if (min_c is not None and t < min_c) or (max_c is not None and t > max_c):
                raise ProfileError(f"test {test.id!r}: {t:g} °C is beyond the chamber's range "
                                   f"[{min_c}, {max_c}] °C")
            if max_gradient_k_per_min is not None and math.isfinite(max_gradient_k_per_min) \
                    and st.gradient_k_per_min > max_gradient_k_per_min:
                raise ProfileError(f"test {test.id!r}: gradient {st.gradient_k_per_min:g} K/min is beyond the "
                                   f"chamber's {max_gradient_k_per_min:g} K/min")
            rh = st.humidity_pct
            if rh is not None and ((min_rh is not None and rh < min_rh) or (max_rh is not None and rh > max_rh)):
                raise ProfileError(f"test {test.id!r}: {rh:g} %RH is beyond the chamber's range "
                                   f"[{min_rh}, {max_rh}] %RH")
    if isinstance(test, ThermalCyclingTest) and test.high_c - test.low_c <= 2 * test.band_k:
        raise ProfileError(f"test {test.id!r}: the cycle range {test.low_c:g}…{test.high_c:g} °C is within the "
                           f"soak band ±{test.band_k:g} K")
