"""Life consumption of a simulated meter: Weibull-distributed life, Peck acceleration (standards.md §8)."""

from __future__ import annotations

import math

#: Boltzmann constant in eV/K
BOLTZMANN_EV_PER_K = 8.617333262e-5
#: conditions at which a life in "equivalent hours" is stated
REFERENCE_TEMPERATURE_C = 23.0
REFERENCE_HUMIDITY_PCT = 50.0
_KELVIN = 273.15
#: humidity floor of the Peck term, so a dry chamber does not stop ageing altogether
_MIN_HUMIDITY_PCT = 1.0


def peck_acceleration(temperature_c: float, humidity_pct: float, ea_ev: float, n: float) -> float:
    """AF = (RH/RH_ref)^n · exp[(Ea/k)(1/T_ref − 1/T)] relative to 23 °C / 50 %RH (Peck; Arrhenius for n = 0)."""
    rh = max(humidity_pct, _MIN_HUMIDITY_PCT)
    arrhenius = (ea_ev / BOLTZMANN_EV_PER_K) * (
        1.0 / (REFERENCE_TEMPERATURE_C + _KELVIN) - 1.0 / (temperature_c + _KELVIN)
    )
    factor = math.pow(rh / REFERENCE_HUMIDITY_PCT, n)
    return factor * math.exp(arrhenius)


def weibull_life(u: float, beta: float, eta: float) -> float:
    """Inverse CDF of Weibull(β, η) at probability ``u`` ∈ [0, 1): η·(−ln(1 − u))^(1/β)."""
    return eta * math.pow(-math.log1p(-u), 1.0 / beta)
