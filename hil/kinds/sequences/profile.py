"""A sequence's chamber profile as primitive steps (ramp, soak), and its check against the chamber's limits.

Humidity: a step with ``humidity_pct`` sets the chamber's humidity; ``band_rh`` is the tolerance the standard gives
for it (the alarm band during a soak, and during a ramp marked ``rh_judged``: the Db rise and fall, whose bands
IEC 60068-2-30 7.3.2/7.3.4 give). Every other chamber step has ``humidity_off``: humidity control is switched off
(``humidity_off()`` of the chamber driver, where its ``can_switch_humidity_off`` says it can), so a burn-in, an ESS
cycle or an end ramp after a damp heat does not keep its humidity setpoint. Only dry heat and cold need it off
(IEC 60068-2-2 Bb, -2-1 Ab): a chamber with humidity control that cannot switch it off is refused for those; for
the other kinds the humidity is recorded, so what the air held is visible.

Absolute phase ends (IEC 60068-2-30 Db): the first step of the cycles is the *anchor* (its start is cycle time 0),
and a soak with ``until_s`` ends at anchor + ``until_s`` whatever the ramp before it took, so cycle k starts at
exactly k·24 h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from hil.kinds.sequences.disturbances import DisturbanceStep, PowerCyclingTest, disturbance_steps
from hil.kinds.sequences.model import (
    BurnInTest,
    ColdTest,
    DampHeatCyclicTest,
    DampHeatSteadyTest,
    DryHeatTest,
    SequenceTest,
    ThermalCyclingTest,
)
from hil.standards import environmental as env


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
    band_rh: float | None = None
    humidity_off: bool = False
    #: the cycle grid (``Soak.until_s``) counts from the start of this step
    anchor: bool = False
    #: humidity judged against ``band_rh`` during the ramp (after ``rh_allowance_s`` from its start)
    rh_judged: bool = False
    rh_allowance_s: float = 0.0

    @property
    def name(self) -> str:
        rh = "" if self.humidity_pct is None else f" at {self.humidity_pct:g} %RH"
        return f"ramp to {self.target_c:g} °C{rh}"

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
    humidity_pct: float | None = None
    band_rh: float | None = None
    humidity_off: bool = False
    #: end at anchor + until_s (cycle grid) instead of ``duration_s`` after the soak started (then nominal)
    until_s: float | None = None
    #: humidity not judged in the first seconds of the soak (the standard allows a wider band there)
    rh_allowance_s: float = 0.0

    @property
    def name(self) -> str:
        rh = "" if self.humidity_pct is None else f", {self.humidity_pct:g} %RH"
        if self.until_s is not None:
            return f"hold {self.target_c:g} °C{rh} to {self.until_s / 3600:g} h"
        return f"soak {self.duration_s / 3600:g} h at {self.target_c:g} °C{rh}"


def timed_ramp(from_c: float, target_c: float, minutes: float, band_k: float, humidity_pct: float | None = None,
               band_rh: float | None = None, anchor: bool = False, rh_judged: bool = False,
               rh_allowance_s: float = 0.0) -> Ramp:
    """A ramp that covers ``from_c → target_c`` in ``minutes``: gradient = |span| / minutes (Db: (55 − 25)/180)."""
    return Ramp(target_c, abs(target_c - from_c) / minutes, band_k, humidity_pct, band_rh, anchor=anchor,
                rh_judged=rh_judged, rh_allowance_s=rh_allowance_s)


Step = Ramp | Soak | DisturbanceStep


def steps_of(test: SequenceTest) -> list[Step]:
    """The profile of a sequence test as ramps and soaks, in run order; a chamber step without a humidity
    setpoint has humidity control off."""
    return [replace(s, humidity_off=True) if isinstance(s, Ramp | Soak) and s.humidity_pct is None else s
            for s in _steps(test)]


def _steps(test: SequenceTest) -> list[Step]:
    if isinstance(test, PowerCyclingTest):  # dips and power cycles (hil.kinds.sequences.disturbances)
        return disturbance_steps(test)
    steps: list[Step] = []
    if isinstance(test, BurnInTest):
        steps.append(Ramp(test.temperature_c, test.gradient_k_per_min, test.band_k, test.humidity_pct))
        steps.append(Soak(test.temperature_c, test.duration_h * 3600.0, test.guaranteed_soak, test.band_k,
                          test.humidity_pct))
    elif isinstance(test, DampHeatCyclicTest):
        steps += _damp_heat_cyclic(test)
    elif isinstance(test, DryHeatTest | ColdTest | DampHeatSteadyTest):
        steps += _steady(test)
    else:
        for _ in range(test.cycles):
            for target in (test.high_c, test.low_c):
                steps.append(Ramp(target, test.gradient_k_per_min, test.band_k))
                steps.append(Soak(target, test.dwell_min * 60.0, test.guaranteed_soak, test.band_k))
    if test.end_temperature_c is not None:
        if isinstance(test, DampHeatCyclicTest):  # recovery: back to the standard atmosphere
            steps.append(Ramp(test.end_temperature_c, test.gradient_k_per_min, env.DB_LOWER_TOL_K.value,
                              env.DB_RECOVERY_RH.setpoint, env.DB_RECOVERY_RH.band))
        else:
            band = test.band_k
            assert band is not None  # set by the model
            steps.append(Ramp(test.end_temperature_c, test.gradient_k_per_min, band))
    return steps


def cycle_period_s(test: ThermalCyclingTest) -> float:
    """Nominal period of one thermal cycle, from its steps (:func:`steps_of`): the ramp to ``high_c``, the dwell
    there, the ramp to ``low_c``, the dwell there — each ramp over the whole span at the test's gradient, each dwell
    its ``dwell_min``: 2·(high − low)/gradient + 2·dwell. Nominal: the chamber's settling into the band (which ends
    a ramp and starts a guaranteed dwell), the first ramp from the start temperature and the ramp back after the
    last cycle are not in it."""
    one = steps_of(test)[:4]  # ramp high, soak high, ramp low, soak low
    period, at = 0.0, test.low_c  # a cycle's ramp up starts at the low end of the one before
    for st in one:
        if isinstance(st, Ramp):
            period += abs(st.target_c - at) / st.gradient_k_per_min * 60.0
            at = st.target_c
        elif isinstance(st, Soak):
            period += st.duration_s
    return period


def nominal_seconds(test: SequenceTest, start_c: float = 23.0) -> float:
    """The profile's nominal length for ``hil plan show``: ramps at their gradient from ``start_c`` (the standard
    atmosphere), soaks for their duration, dip bursts and power cycles for their own times; the chamber's
    settling and guaranteed soaks can only add to it."""
    from hil.kinds.sequences.disturbances import DipBurst, PowerCycles

    total, at = 0.0, start_c
    for st in steps_of(test):
        if isinstance(st, Ramp):
            total += abs(st.target_c - at) / st.gradient_k_per_min * 60.0
            at = st.target_c
        elif isinstance(st, Soak):
            total += st.duration_s
        elif isinstance(st, PowerCycles):
            total += st.count * (st.off_s + st.on_s)
        elif isinstance(st, DipBurst):
            total += st.repeat * st.interval_s
    return total


def _damp_heat_cyclic(test: DampHeatCyclicTest) -> list[Step]:
    """IEC 60068-2-30 Db (7.2, 7.3): stabilisation at 25 ± 3 °C (standard atmosphere, then RH ≥ 95 % for its last
    hour), then per cycle: rise to the upper temperature in 3 h at RH ≥ 95 %; hold to 12 h at ≥ 93 % (band 93-96 %,
    see ``DB_HOLD_RH``); linear fall to 25 °C (variant 1: in 3 h, RH ≥ 95 %; variant 2: 3-6 h, RH ≥ 80 %); hold at
    25 °C, RH ≥ 95 %, to 24 h. The rise and the fall are judged against their RH band like the holds (7.3.2,
    7.3.4), the fall after its allowance."""
    c = test.cycle
    low, tol_low, tol_up = c.lower_c, env.DB_LOWER_TOL_K.value, env.DB_UPPER_TOL_K.value
    st_rh, rise_rh, hold_rh = env.DB_STABILISE_RH, env.DB_RISE_RH, env.DB_HOLD_RH
    fall_rh, low_rh = c.fall_rh, env.DB_LOW_RH
    steps: list[Step] = [
        Ramp(low, test.gradient_k_per_min, tol_low, st_rh.setpoint, st_rh.band),
        Soak(low, test.stabilisation_h * 3600.0, True, tol_low, st_rh.setpoint, st_rh.band),
        Soak(low, env.DB_STABILISE_RH_H.value * 3600.0, False, tol_low, low_rh.setpoint, low_rh.band,
             rh_allowance_s=env.DB_STABILISE_RH_H.value * 3600.0),  # RH is being raised: ≥ 95 % by its end
    ]
    day = c.cycle_h * 3600.0
    for k in range(test.cycles):
        t0 = k * day
        steps += [
            timed_ramp(low, c.upper.value, env.DB_RISE_H.value * 60.0, tol_up, rise_rh.setpoint, rise_rh.band,
                       anchor=k == 0, rh_judged=True, rh_allowance_s=rise_rh.allowance_min * 60.0),
            Soak(c.upper.value, (c.hold_end_h - env.DB_RISE_H.value) * 3600.0, False, tol_up, hold_rh.setpoint,
                 hold_rh.band, until_s=t0 + c.hold_end_h * 3600.0, rh_allowance_s=hold_rh.allowance_min * 60.0),
            timed_ramp(c.upper.value, low, c.fall_h * 60.0, tol_low, fall_rh.setpoint, fall_rh.band,
                       rh_judged=True, rh_allowance_s=fall_rh.allowance_min * 60.0),
            Soak(low, (c.cycle_h - c.fall_end_h) * 3600.0, False, tol_low, low_rh.setpoint, low_rh.band,
                 until_s=t0 + day, rh_allowance_s=fall_rh.allowance_min * 60.0),
        ]
    return steps


def _steady(test: DryHeatTest | ColdTest | DampHeatSteadyTest) -> list[Step]:
    """Ramp at ≤ 1 K/min (OIML D 11), a (guaranteed) soak for the duration: dry heat and cold without humidity
    control (IEC 60068-2-2 Bb, -2-1 Ab), damp heat steady state at its humidity (IEC 60068-2-78 Cab)."""
    assert test.temperature_c is not None and test.duration_h is not None and test.band_k is not None
    if isinstance(test, DampHeatSteadyTest):
        rh, band_rh, off = test.humidity_pct, test.band_rh, False
    else:
        rh, band_rh, off = None, None, True
    return [Ramp(test.temperature_c, test.gradient_k_per_min, test.band_k, rh, band_rh, humidity_off=off),
            Soak(test.temperature_c, test.duration_h * 3600.0, test.guaranteed_soak, test.band_k, rh, band_rh,
                 humidity_off=off)]


def check_profile(test: SequenceTest, *, min_c: float | None, max_c: float | None,
                  max_gradient_k_per_min: float | None, min_rh: float | None = None,
                  max_rh: float | None = None, has_humidity: bool | None = None,
                  can_switch_humidity_off: bool | None = None) -> None:
    """Refuse a profile beyond the chamber's temperature/humidity range or gradient, one that needs humidity
    on a chamber without humidity control, or a dry heat / cold profile (IEC 60068-2-2 Bb, -2-1 Ab: no humidity
    control) on a chamber that controls humidity and cannot switch that off (it would run at the last humidity
    setpoint). Other kinds run there with their humidity recorded. None: unknown."""
    dry_or_cold = isinstance(test, DryHeatTest | ColdTest)
    for st in steps_of(test):
        if st.humidity_pct is not None and has_humidity is False:
            raise ProfileError(f"test {test.id!r}: {st.name} needs humidity control; the chamber has none")
        if dry_or_cold and getattr(st, "humidity_off", False) and has_humidity and can_switch_humidity_off is False:
            raise ProfileError(f"test {test.id!r}: {st.name} needs humidity control off (no humidity setpoint), "
                               "but the chamber controls humidity and its driver cannot switch that off "
                               "(SimServ: set the chamber's humidity_output option): it would keep the last "
                               "humidity setpoint")
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
