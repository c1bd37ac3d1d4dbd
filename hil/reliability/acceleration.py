"""Acceleration factors: how many hours of use one hour at the test stress stands for.

Formulas as in reference/standards.md §8 (JEDEC JEP122 gives the same forms). Temperatures are given in °C and
converted to kelvin (T[K] = T[°C] + 273.15); relative humidity in percent. AF > 1 when the test is harsher.
"""

from __future__ import annotations

import math

from hil.reliability._check import finite, non_negative, positive

#: Boltzmann constant in eV/K (CODATA 2018, exact in the SI): 8.617333262…e-5
BOLTZMANN_EV_PER_K = 8.617333262e-5
ZERO_CELSIUS_K = 273.15
#: Peck's fit for humidity-driven failures of plastic-encapsulated parts (Peck 1986): n ≈ 2.66, Ea ≈ 0.79 eV
PECK_N = 2.66
PECK_EA_EV = 0.79
#: Coffin–Manson exponent for SnPb solder-joint fatigue
COFFIN_MANSON_N_SNPB = 1.9


def kelvin(celsius: float, name: str = "temperature") -> float:
    """°C → K; below absolute zero is an error."""
    t = finite(name, celsius) + ZERO_CELSIUS_K
    if t <= 0:
        raise ValueError(f"{name} {celsius} °C is at or below absolute zero (−273.15 °C)")
    return t


def arrhenius_af(ea_ev: float, t_use_c: float, t_test_c: float) -> float:
    """Arrhenius: AF = exp[(Ea/k)·(1/T_use − 1/T_test)], T in kelvin (standards.md §8; JEP122 §5)."""
    ea = non_negative("activation energy Ea (eV)", ea_ev)
    t_use, t_test = kelvin(t_use_c, "use temperature"), kelvin(t_test_c, "test temperature")
    return math.exp(ea / BOLTZMANN_EV_PER_K * (1.0 / t_use - 1.0 / t_test))


def peck_af(
    rh_use_pct: float, rh_test_pct: float, t_use_c: float, t_test_c: float,
    *, ea_ev: float = PECK_EA_EV, n: float = PECK_N,
) -> float:
    """Peck temperature–humidity: AF = (RH_use/RH_test)^(−n) · exp[(Ea/k)(1/T_use − 1/T_test)] (standards.md §8)."""
    rh_use, rh_test = _rh("use humidity", rh_use_pct), _rh("test humidity", rh_test_pct)
    exponent = non_negative("humidity exponent n", n)
    return float((rh_use / rh_test) ** (-exponent)) * arrhenius_af(ea_ev, t_use_c, t_test_c)


def coffin_manson_af(delta_t_use_k: float, delta_t_test_k: float, *, n: float = COFFIN_MANSON_N_SNPB) -> float:
    """Coffin–Manson thermal-cycling fatigue: AF = (ΔT_test/ΔT_use)^n, per cycle (standards.md §8)."""
    use = positive("use temperature swing ΔT_use (K)", delta_t_use_k)
    test = positive("test temperature swing ΔT_test (K)", delta_t_test_k)
    return float((test / use) ** positive("Coffin–Manson exponent n", n))


def _rh(name: str, pct: float) -> float:
    v = finite(f"{name} (% RH)", pct)
    if not 0.0 < v <= 100.0:
        raise ValueError(f"{name} must be in (0, 100] % RH, got {pct!r}")
    return v
