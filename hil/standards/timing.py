"""How long tests take: pulse period, no-load (creep) duration, starting-current time limit, pulses per point,
meter-constant test energy.

Formulas from reference/standards.md §5–§6; the per-standard constants (K, test voltages, multiples) are rows of
the ``conditions`` tables, so each result carries the provenance of the numbers it used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from hil.standards.model import PowerFactor, Provenance
from hil.standards.points import LoadPoint
from hil.standards.rating import MeterRating, resolve_currents
from hil.standards.tables import StandardsError, StandardsLibrary, default_library

SECONDS_PER_KWH_AT_1W = 3.6e6  # 1 kWh = 3.6·10⁶ W·s
_EPS = 1e-9  # ceil() guard: 2.0000000000000004 pulses is 2 pulses


def _ceil(x: float) -> int:
    return math.ceil(x - _EPS * max(1.0, abs(x)))


def _pf_value(pf: float | PowerFactor | str) -> float:
    return pf if isinstance(pf, float | int) else PowerFactor.coerce(pf).value


def pulse_period_s(
    constant_imp_per_kwh: float, elements: int, voltage_v: float, current_a: float, pf: float | PowerFactor | str = 1.0
) -> float:
    """Time of one meter pulse: τ = 3.6·10⁶ / (k·m·U·I·PF) s, k in imp/kWh, m elements loaded (standards.md §5).

    At Ist (k 1000, m 1, 253 V, 0.02 A) one pulse takes ≈ 712 s."""
    power = elements * voltage_v * current_a * _pf_value(pf)
    if not power > 0 or not constant_imp_per_kwh > 0:
        raise ValueError("pulse period needs a positive meter constant and power")
    return SECONDS_PER_KWH_AT_1W / (constant_imp_per_kwh * power)


def no_load_minutes(
    k_factor: float, constant_imp_per_kwh: float, elements: int, voltage_v: float, current_a: float
) -> float:
    """Δt = K·10⁶ / (k·m·U·I) minutes (standards.md §5; 2003 editions: U = Un, I = Imax; 2020: U = test voltage,
    I = Ist). Example: K 600, k 1000, m 1, 230 V, 60 A → 43.5 min."""
    return k_factor * 1e6 / (constant_imp_per_kwh * elements * voltage_v * current_a)


def _condition(rating: MeterRating, library: StandardsLibrary, parameter: str) -> tuple[float, Provenance]:
    found = library.condition(rating.standard, rating.edition, parameter, rating.class_index, rating.connection)
    if found is None:
        raise StandardsError(
            f"{rating.label} ({rating.connection}): the library defines no {parameter}; "
            "add a row to a conditions table (lab override file) or pass it explicitly"
        )
    row, prov = found
    assert row.value is not None
    return row.value, prov


@dataclass(frozen=True)
class NoLoadTest:
    """No-load (creep) test: voltage on, current circuits open, at most ``max_pulses`` pulses in ``duration_s``."""

    voltage_v: float
    #: the standard's minimum duration
    min_duration_s: float
    #: the duration to run: minimum × factor (labs commonly run at least twice the minimum, standards.md §5)
    duration_s: float
    max_pulses: int
    formula: str
    provenance: dict[str, Provenance] = field(default_factory=dict)


def no_load_test(
    rating: MeterRating,
    *,
    factor: float = 1.0,
    k_factor: float | None = None,
    library: StandardsLibrary | None = None,
) -> NoLoadTest:
    """The no-load test of ``rating`` (standards.md §5): 2003 editions at 115 % Un for Δt ≥ K·10⁶/(k·m·Un·Imax)
    min; 2020 editions at 110 % Un (EN 50470-3: 115 %) with an Ist-based formula whose constant is unconfirmed —
    ``k_factor`` overrides the table's K."""
    lib = library or default_library()
    if factor < 1:
        raise ValueError("factor must be ≥ 1: the standard's duration is a minimum")
    prov: dict[str, Provenance] = {}
    vf, prov["voltage"] = _condition(rating, lib, "no_load_voltage_factor")
    max_pulses, prov["max_pulses"] = _condition(rating, lib, "no_load_max_pulses")
    found = lib.condition(rating.standard, rating.edition, "no_load_duration_k", rating.class_index,
                          rating.connection)
    if found is None and k_factor is None:
        raise StandardsError(f"{rating.label}: the library has no no-load duration constant K; pass k_factor")
    if found is not None:
        row, prov["duration"] = found
        basis, voltage, k = row.basis, row.voltage, row.value
    else:  # no row: the caller's K with the 2003 form
        basis, voltage, k = "Imax", "Un", None
    k = k_factor if k_factor is not None else k
    assert k is not None and basis is not None and voltage is not None
    u_test = round(vf * rating.un_v, 9)  # 1.1 × 230 V is 253 V, not 253.00000000000003 V
    u = rating.un_v if voltage == "Un" else u_test
    current = resolve_currents(rating, lib)[basis]
    minutes = no_load_minutes(k, rating.constant_imp_per_kwh, rating.elements, u, current)
    u_sym = "Un" if voltage == "Un" else f"{vf:g}·Un"
    return NoLoadTest(
        voltage_v=u_test, min_duration_s=60 * minutes, duration_s=60 * minutes * factor,
        max_pulses=int(max_pulses), formula=f"Δt ≥ {k:g}·10⁶/(k·m·{u_sym}·{basis}) min", provenance=prov,
    )


@dataclass(frozen=True)
class StartingTest:
    """Starting-current test: at Ist, PF 1, the meter must emit ``min_pulses`` within ``time_limit_s``."""

    current_a: float
    voltage_v: float
    pulse_period_s: float
    time_limit_s: float
    min_pulses: int
    provenance: dict[str, Provenance] = field(default_factory=dict)


def starting_test(
    rating: MeterRating,
    *,
    time_multiple: float | None = None,
    library: StandardsLibrary | None = None,
) -> StartingTest:
    """The starting test of ``rating``: Ist (table 2 of standards.md, or the nameplate) on all elements at PF 1;
    the time limit is multiple × min_pulses × the pulse period at Ist (multiple from the table, unconfirmed; or
    ``time_multiple``)."""
    lib = library or default_library()
    prov: dict[str, Provenance] = {}
    currents = resolve_currents(rating, lib)
    if "Ist" not in currents:
        raise StandardsError(f"{rating.label}: no starting current; give ist_a on the rating")
    vf, prov["voltage"] = _condition(rating, lib, "starting_voltage_factor")
    if time_multiple is None:
        time_multiple, prov["time_limit"] = _condition(rating, lib, "starting_time_multiple")
    min_pulses, prov["min_pulses"] = _condition(rating, lib, "starting_min_pulses")
    u = round(vf * rating.un_v, 9)
    tau = pulse_period_s(rating.constant_imp_per_kwh, rating.elements, u, currents["Ist"], 1.0)
    return StartingTest(currents["Ist"], u, tau, time_multiple * tau * min_pulses, int(min_pulses), prov)


@dataclass(frozen=True)
class PulsePlan:
    """How many meter pulses an accuracy point needs, and what that buys."""

    pulses: int
    pulse_period_s: float
    duration_s: float
    #: reference pulses counted during the meter pulses: n_ref = N·C_ref/C_mut
    ref_pulses: float
    #: ±1 reference pulse: 100/n_ref %
    resolution_pct: float
    #: which requirement set N: "resolution", "duration" or "minimum"
    binding: Literal["resolution", "duration", "minimum"]
    rule: str


def _plan(pulses: int, tau: float, mut: float, ref: float, binding: str, rule: str) -> PulsePlan:
    n_ref = pulses * ref / mut
    b: Literal["resolution", "duration", "minimum"] = (
        "resolution" if binding == "resolution" else "duration" if binding == "duration" else "minimum"
    )
    return PulsePlan(pulses, tau, pulses * tau, n_ref, 100.0 / n_ref, b, rule)


def pulses_for_point(
    *,
    limit_pct: float,
    mut_constant: float,
    ref_constant: float,
    power_w: float,
    resolution_fraction: float = 0.1,
    min_duration_s: float = 10.0,
    min_pulses: int = 1,
) -> PulsePlan:
    """The fewest meter pulses N such that the error-calculator resolution 100/n_ref % (n_ref = N·C_ref/C_mut,
    standards.md §6) is at most ``resolution_fraction`` of the limit, and the measurement lasts at least
    ``min_duration_s``. Constants in imp/kWh, ``power_w`` the power the meter registers."""
    if not 0 < resolution_fraction <= 1 or limit_pct <= 0:
        raise ValueError("need 0 < resolution_fraction ≤ 1 and a positive limit")
    tau = SECONDS_PER_KWH_AT_1W / (mut_constant * power_w)
    by_resolution = _ceil(100.0 * mut_constant / (resolution_fraction * limit_pct * ref_constant))
    by_duration = _ceil(min_duration_s / tau)
    n = max(by_resolution, by_duration, min_pulses)
    binding = "resolution" if n == by_resolution else "duration" if n == by_duration else "minimum"
    rule = f"resolution ≤ {resolution_fraction:g}·limit, ≥ {min_duration_s:g} s"
    return _plan(n, tau, mut_constant, ref_constant, binding, rule)


def fixed_practice_pulses(
    *, mut_constant: float, ref_constant: float, power_w: float, min_pulses: int = 25, min_duration_s: float = 30.0
) -> PulsePlan:
    """The fixed-plan vendor practice for comparison: at least 25 pulses and at least 30 s (standards.md §6)."""
    tau = SECONDS_PER_KWH_AT_1W / (mut_constant * power_w)
    by_duration = _ceil(min_duration_s / tau)
    n = max(min_pulses, by_duration)
    binding = "duration" if by_duration > min_pulses else "minimum"
    return _plan(n, tau, mut_constant, ref_constant, binding, f"≥ {min_pulses} pulses and ≥ {min_duration_s:g} s")


def plan_point_pulses(
    point: LoadPoint,
    rating: MeterRating,
    ref_constant: float,
    *,
    resolution_fraction: float = 0.1,
    min_duration_s: float = 10.0,
    min_pulses: int = 1,
) -> PulsePlan:
    """:func:`pulses_for_point` for a generated load point of ``rating``."""
    return pulses_for_point(
        limit_pct=point.limit_pct, mut_constant=rating.constant_imp_per_kwh, ref_constant=ref_constant,
        power_w=point.power_w, resolution_fraction=resolution_fraction, min_duration_s=min_duration_s,
        min_pulses=min_pulses,
    )


@dataclass(frozen=True)
class MeterConstantTest:
    """Meter-constant test: pass ``energy_kwh``; the test output should give ``pulses`` = k·E."""

    energy_kwh: float
    pulses: float
    duration_s: float
    #: the register's resolution relative to the energy, %
    register_resolution_pct: float


def meter_constant_test(
    *, constant_imp_per_kwh: float, register_resolution_kwh: float, power_w: float, max_resolution_pct: float = 0.1
) -> MeterConstantTest:
    """Energy for the meter-constant test (standards.md §5: test-output pulses vs register advance): the smallest
    whole number of register steps whose one-step resolution is ≤ ``max_resolution_pct`` of the energy
    (practice, U: 0.1 % is a tenth of a class 1 limit)."""
    steps = _ceil(100.0 / max_resolution_pct)
    energy = steps * register_resolution_kwh
    return MeterConstantTest(
        energy_kwh=energy, pulses=energy * constant_imp_per_kwh, duration_s=energy * SECONDS_PER_KWH_AT_1W / power_w,
        register_resolution_pct=100.0 * register_resolution_kwh / energy,
    )


def meter_constant_deviation_pct(pulses: float, register_advance_kwh: float, constant_imp_per_kwh: float) -> float:
    """Deviation of the test output from the register: (N / (k·ΔE) − 1)·100 %."""
    return (pulses / (constant_imp_per_kwh * register_advance_kwh) - 1.0) * 100.0
