"""Electrical quantities of one phase: setpoint / delivered values and the powers that follow from them.

Conventions: amplitudes are RMS of the fundamental; harmonics are % of the fundamental with an angle in
degrees of the harmonic relative to the fundamental's zero crossing; angles are absolute (phase 1 voltage is
the 0° reference). φ = angle(U) − angle(I), so a current lagging the voltage by 60° gives φ = +60°, PF 0.5L.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple


class Harmonic(NamedTuple):
    order: int
    percent: float  # of the fundamental
    degrees: float  # relative to the fundamental, in degrees of the harmonic


def wrap_degrees(deg: float) -> float:
    """Angle in (−180, 180]."""
    d = math.fmod(deg, 360.0)
    if d <= -180.0:
        d += 360.0
    elif d > 180.0:
        d -= 360.0
    return d


def _rms_factor(harmonics: tuple[Harmonic, ...]) -> float:
    return math.sqrt(1.0 + sum((h.percent / 100.0) ** 2 for h in harmonics))


@dataclass(frozen=True, slots=True)
class PhaseSetpoint:
    """Values of one phase (programmed or delivered). All derived powers are per phase, in W / var / VA."""

    voltage: float  # V, fundamental RMS
    current: float  # A, fundamental RMS
    voltage_angle: float  # degrees
    current_angle: float  # degrees
    frequency: float  # Hz
    voltage_harmonics: tuple[Harmonic, ...] = ()
    current_harmonics: tuple[Harmonic, ...] = ()

    @property
    def phi(self) -> float:
        """Phase of the fundamental current behind the voltage, degrees in (−180, 180] (+ = lagging)."""
        return wrap_degrees(self.voltage_angle - self.current_angle)

    @property
    def voltage_rms(self) -> float:
        return self.voltage * _rms_factor(self.voltage_harmonics)

    @property
    def current_rms(self) -> float:
        return self.current * _rms_factor(self.current_harmonics)

    @property
    def fundamental_power(self) -> float:
        return self.voltage * self.current * math.cos(math.radians(self.phi))

    @property
    def harmonic_power(self) -> float:
        """Active power of the harmonics present in both U and I: Σ U_h·I_h·cos(h·φ + α_u,h − α_i,h)."""
        if not self.voltage_harmonics or not self.current_harmonics:
            return 0.0
        currents = {h.order: h for h in self.current_harmonics}
        total = 0.0
        for hu in self.voltage_harmonics:
            hi = currents.get(hu.order)
            if hi is None:
                continue
            angle = hu.order * self.phi + hu.degrees - hi.degrees
            total += (
                self.voltage * hu.percent / 100.0 * self.current * hi.percent / 100.0 * math.cos(math.radians(angle))
            )
        return total

    @property
    def active_power(self) -> float:
        return self.fundamental_power + self.harmonic_power

    @property
    def apparent_power(self) -> float:
        return self.voltage_rms * self.current_rms

    @property
    def reactive_power(self) -> float:
        """Signed √(S² − P²), positive for a lagging (inductive) fundamental."""
        s, p = self.apparent_power, self.active_power
        q = math.sqrt(max(s * s - p * p, 0.0))
        return q if self.phi >= 0 else -q

    @property
    def power_factor(self) -> float:
        s = self.apparent_power
        return self.active_power / s if s > 0 else math.nan
