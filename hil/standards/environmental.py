"""Environmental test profiles as data: IEC 60068-2-30 Db (damp heat, cyclic), dry heat (IEC 60068-2-2 Bb), cold
(IEC 60068-2-1 Ab), damp heat steady state (IEC 60068-2-78 Cab) and the OIML D 11 severities.

Every number carries its source and status (reference/standards.md: confirmed in a public source, derived,
unconfirmed). Confirmed rows are those of reference/standards.md §7 and of public descriptions of the Db cycle
(GOST 28216-89, the identical Russian adoption of IEC 60068-2-30, for the stabilisation; OIML R 60-2 2.10.5.12 for
the 24 h cycle). The humidity tolerances per phase and the 15-minute allowances come from secondary descriptions
only and are marked unconfirmed: a lab replaces them from its purchased copy of the standard.

Pure data: imports nothing from the bench (hil.standards boundary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hil.standards.dips import D11
from hil.standards.model import Status

DB = "IEC 60068-2-30:2005"
BB = "IEC 60068-2-2:2007"
AB = "IEC 60068-2-1:2007"
CAB = "IEC 60068-2-78:2012"


@dataclass(frozen=True)
class Sourced:
    """One number of a profile with where it comes from."""

    value: float
    unit: str
    standard: str
    clause: str
    status: Status
    note: str = ""

    def label(self) -> str:
        return f"{self.value:g} {self.unit} ({self.standard} {self.clause}, {self.status})"


@dataclass(frozen=True)
class HumidityBand:
    """The relative humidity allowed during a phase, ``[low, high]`` %RH. The chamber is set to the middle and
    the band's half width is the alarm tolerance; ``allowance_min`` at the phase start is not judged (the standard
    allows a wider band in the first minutes of several phases)."""

    low: float
    high: float
    standard: str
    clause: str
    status: Status
    note: str = ""
    allowance_min: float = 0.0

    @property
    def setpoint(self) -> float:
        return (self.low + self.high) / 2

    @property
    def band(self) -> float:
        return (self.high - self.low) / 2


# -- IEC 60068-2-30 Db: 24 h cycle ----------------------------------------------------------------------------------

#: cycle length; the phase ends below are offsets from the cycle start (an absolute grid: cycle k starts at k·24 h)
DB_CYCLE_H = Sourced(24.0, "h", DB, "7.3 (12 h + 12 h cycle)", "confirmed", "reference/standards.md §7")
DB_LOWER_C = Sourced(25.0, "°C", DB, "7.2, 7.3", "confirmed", "reference/standards.md §7")
DB_LOWER_TOL_K = Sourced(3.0, "K", DB, "7.2 (25 ± 3 °C)", "confirmed", "GOST 28216-89 6.2 (identical adoption)")
DB_UPPER_C: dict[int, Sourced] = {
    40: Sourced(40.0, "°C", DB, "5 (severities)", "confirmed", "reference/standards.md §7: indoor"),
    55: Sourced(55.0, "°C", DB, "5 (severities)", "confirmed", "reference/standards.md §7: outdoor"),
}
DB_UPPER_TOL_K = Sourced(2.0, "K", DB, "7.3.3", "unconfirmed", "±2 K at the upper temperature (2005 edition)")
DB_CYCLES = Sourced(6.0, "cycles", DB, "5", "confirmed", "reference/standards.md §7 (meters)")
DB_RISE_H = Sourced(3.0, "h", DB, "7.3.2 (3 h ± 30 min)", "confirmed", "GOST 28216-89 6.3.1; OIML R 60-2 2.10.5.12")
DB_HOLD_END_H = Sourced(12.0, "h", DB, "7.3.3 (12 h ± 30 min from the cycle start)", "confirmed",
                        "reference/standards.md §7; OIML R 60-2 2.10.5.12")
DB_FALL_MIN_H = Sourced(3.0, "h", DB, "7.3.4 (fall within 3 h to 6 h)", "confirmed", "reference/standards.md §7")
DB_FALL_MAX_H = Sourced(6.0, "h", DB, "7.3.4 (fall within 3 h to 6 h)", "confirmed", "reference/standards.md §7")
#: variant 1: the rate of fall over the first 1.5 h is such that 25 °C would be reached in 3 h ± 15 min
DB_V1_FALL_RATE_H = Sourced(3.0, "h", DB, "7.3.4 variant 1", "confirmed", "OIML R 60-2 2.10.5.12")
DB_V1_FALL_RATE_TOL_H = Sourced(0.25, "h", DB, "7.3.4 variant 1 (± 15 min)", "unconfirmed")
#: stabilisation before the first cycle: 25 ± 3 °C at standard atmosphere, RH raised to ≥ 95 % in its last hour
DB_STABILISE_RH_H = Sourced(1.0, "h", DB, "7.2", "confirmed", "GOST 28216-89 6.2: RH ≥ 95 % in the last hour")
DB_STABILISE_RH = HumidityBand(25.0, 75.0, "IEC 60068-1", "4.3 (standard atmosphere)", "unconfirmed",
                               "RH of the standard atmosphere for measurements and tests")
DB_RISE_RH = HumidityBand(95.0, 100.0, DB, "7.3.2", "confirmed",
                          "≥ 95 % (reference/standards.md §7); ≥ 90 % allowed in the last 15 min (unconfirmed)")
#: the sources disagree: reference/standards.md §7 (confirmed) says "hold to 12 h at ≥ 93 % RH", secondary
#: descriptions of the 2005 text say 93 ± 3 % (90-96 %, unconfirmed). The band is their intersection, 93-96 %: its
#: lower bound is the confirmed one (a reading below 93 % is an alarm), its upper bound the unconfirmed one
DB_HOLD_RH = HumidityBand(93.0, 96.0, DB, "7.3.3", "unconfirmed",
                          "conflict: ≥ 93 % (reference/standards.md §7, confirmed) vs 93 ± 3 % (secondary "
                          "descriptions, unconfirmed); band = intersection 93-96 %, lower bound confirmed, upper "
                          "bound unconfirmed; 90-100 % in the first and last 15 min from secondary descriptions",
                          allowance_min=15.0)
DB_FALL_RH: dict[int, HumidityBand] = {
    1: HumidityBand(95.0, 100.0, DB, "7.3.4 variant 1", "unconfirmed",
                    "≥ 95 %, ≥ 90 % in the first 15 min (secondary descriptions)", allowance_min=15.0),
    2: HumidityBand(80.0, 100.0, DB, "7.3.4 variant 2", "unconfirmed",
                    "≥ 80 % (secondary descriptions; OIML R 60-2 2.10.5.12: 80-96 % over the test)"),
}
DB_LOW_RH = HumidityBand(95.0, 100.0, DB, "7.3.5", "confirmed", "reference/standards.md §7: RH > 95 %")
#: recovery after the last cycle: back to the standard atmosphere
DB_RECOVERY_RH = DB_STABILISE_RH


@dataclass(frozen=True)
class DbCycle:
    """One Db cycle for an upper temperature and a cooling variant: phase ends (h from the cycle start), ramp
    gradients, temperature tolerances and the humidity band of each phase."""

    upper: Sourced
    variant: Literal[1, 2]
    fall_h: float

    @property
    def lower_c(self) -> float:
        return DB_LOWER_C.value

    @property
    def span_k(self) -> float:
        return self.upper.value - DB_LOWER_C.value

    @property
    def rise_gradient_k_per_min(self) -> float:
        """(upper − 25 °C) / 180 min: the span covered in the 3 h of the rise."""
        return self.span_k / (DB_RISE_H.value * 60.0)

    @property
    def fall_gradient_k_per_min(self) -> float:
        return self.span_k / (self.fall_h * 60.0)

    @property
    def hold_end_h(self) -> float:
        return DB_HOLD_END_H.value

    @property
    def fall_end_h(self) -> float:
        return DB_HOLD_END_H.value + self.fall_h

    @property
    def cycle_h(self) -> float:
        return DB_CYCLE_H.value

    @property
    def fall_rh(self) -> HumidityBand:
        return DB_FALL_RH[self.variant]


def db_cycle(upper_c: int, variant: Literal[1, 2], fall_h: float | None = None) -> DbCycle:
    """The Db cycle at +40 or +55 °C. ``fall_h``: the linear fall's duration (default 3 h). Variant 1 fixes the
    rate of fall over the first 1.5 h (25 °C reached in 3 h ± 15 min, 7.3.4), so a linear fall must last
    3 h … 3 h 15 min; variant 2 allows any fall within 3 h … 6 h."""
    if upper_c not in DB_UPPER_C:
        raise ValueError(f"Db upper temperature must be one of {sorted(DB_UPPER_C)} °C, got {upper_c!r}")
    fall = DB_V1_FALL_RATE_H.value if fall_h is None else fall_h
    low, high = DB_FALL_MIN_H.value, DB_FALL_MAX_H.value
    if variant == 1:
        high = DB_V1_FALL_RATE_H.value + DB_V1_FALL_RATE_TOL_H.value
    if not low <= fall <= high:
        raise ValueError(f"Db variant {variant}: a linear fall must last {low:g} h to {high:g} h "
                         f"({DB} 7.3.4), got {fall:g} h")
    return DbCycle(DB_UPPER_C[upper_c], variant, fall)


#: the temperature from which an ambient temperature's influence is counted (reference conditions): checks
#: during a soak widen the accuracy limit by the temperature coefficient limit × |T − this| (hil.kinds.sequences.checks)
REFERENCE_TEMPERATURE_C = Sourced(23.0, "°C", "IEC 62052-11", "reference conditions (23 °C)", "unconfirmed",
                                  "reference/standards.md §6 names 23 °C as the warm-up temperature (confirmed); the "
                                  "reference-conditions table itself was not retrieved")


# -- dry heat, cold, damp heat steady state -------------------------------------------------------------------------

#: OIML D 11: the chamber's rate of change of temperature, up and down
MAX_RAMP_K_PER_MIN = Sourced(1.0, "K/min", D11, "climatic tests (rate of change ≤ 1 °C/min)", "confirmed",
                             "reference/standards.md §7")
#: temperature tolerances of the steady tests
DRY_HEAT_TOL_K = Sourced(2.0, "K", BB, "5 (± 2 K)", "unconfirmed")
COLD_TOL_K = Sourced(3.0, "K", AB, "5 (± 3 K)", "unconfirmed")
DAMP_STEADY_TOL_K = Sourced(2.0, "K", CAB, "5 (± 2 K)", "unconfirmed")
DAMP_STEADY_RH_TOL = Sourced(3.0, "%RH", CAB, "5 (± 3 %)", "unconfirmed")

EnvKind = Literal["dry_heat", "cold", "damp_heat_steady"]


@dataclass(frozen=True)
class Severity:
    """A named severity (preset) of a steady test: temperature, duration and (damp heat) humidity."""

    kind: EnvKind
    name: str
    temperature_c: Sourced
    duration_h: Sourced
    humidity_pct: Sourced | None = None


SEVERITIES: dict[tuple[EnvKind, str], Severity] = {
    (s.kind, s.name): s
    for s in (
        Severity("dry_heat", "oiml_d11",
                 Sourced(55.0, "°C", D11, "dry heat severities", "unconfirmed",
                         "within the confirmed 30-60 °C range (reference/standards.md §7); level not retrieved"),
                 Sourced(2.0, "h", D11, "dry heat", "confirmed", "reference/standards.md §7")),
        Severity("cold", "oiml_d11",
                 Sourced(-25.0, "°C", D11, "cold severities", "unconfirmed",
                         "within the confirmed +5…−40 °C range (reference/standards.md §7); level not retrieved"),
                 Sourced(2.0, "h", D11, "cold", "confirmed", "reference/standards.md §7")),
        Severity("damp_heat_steady", "oiml_d11",
                 Sourced(40.0, "°C", D11, "damp heat steady state", "unconfirmed", "temperature not retrieved"),
                 Sourced(96.0, "h", D11, "damp heat steady state", "confirmed",
                         "reference/standards.md §7: 93 % RH, 4 days"),
                 Sourced(93.0, "%RH", D11, "damp heat steady state", "confirmed", "reference/standards.md §7")),
        Severity("damp_heat_steady", "oiml_d11_85",
                 Sourced(30.0, "°C", D11, "damp heat steady state", "unconfirmed", "temperature not retrieved"),
                 Sourced(48.0, "h", D11, "damp heat steady state", "confirmed",
                         "reference/standards.md §7: 85 % RH, 2 days"),
                 Sourced(85.0, "%RH", D11, "damp heat steady state", "confirmed", "reference/standards.md §7")),
    )
}


def severity(kind: EnvKind, name: str) -> Severity:
    """A preset by kind and name; the error lists the known ones."""
    try:
        return SEVERITIES[(kind, name)]
    except KeyError:
        known = sorted(n for k, n in SEVERITIES if k == kind)
        raise ValueError(f"unknown {kind} severity {name!r} (known: {', '.join(known)})") from None
