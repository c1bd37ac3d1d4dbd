"""The simulated-bench file: pydantic models of the physics world and its network endpoints.

Load with :func:`load_sim_bench`; errors name file, line and field (:mod:`instruments.yamlconfig`). Every model
forbids unknown keys, so a typo is an error rather than a silently ignored setting. Units are in the field names.
"""

from __future__ import annotations

import importlib.resources
import itertools
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from instruments.yamlconfig import load_yaml_model, parse_yaml_text, validate_data

PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
#: one point of a curve over current: (current in A, value)
CurvePoint = tuple[PosFloat, Finite]

_IDN_TEXT = re.compile(r"[\x20-\x7e]{1,64}")


def _idn_field(value: str) -> str:
    """A text the servers send as one field of an identification reply (``*IDN?``: four comma-separated
    fields ended by the terminator, IEEE 488.2 §10.14; SimServ 99997 fields are ¶-separated lines)."""
    if not _IDN_TEXT.fullmatch(value) or "," in value or ";" in value or value != value.strip():
        raise ValueError(
            "must be 1 to 64 printable ASCII characters without ',' or ';' and without leading or trailing"
            f" space (it is sent as a field of an identification reply), got {value!r}"
        )
    return value


#: bench name, instrument model and serial: fields of identification replies
IdnText = Annotated[str, AfterValidator(_idn_field)]

#: the models the simulated instruments imitate (their command sets are the same subset; docs/drivers.md), and
#: for a power analyser the number of its input elements
SOURCE_MODELS = ("6100B", "6105A")
REFERENCE_ELEMENTS = {"WT5000": 7, **{f"WT180{n}E": n for n in range(1, 7)}}


def _one_of(models: tuple[str, ...] | dict[str, int]) -> AfterValidator:
    def check(value: str) -> str:
        if value not in models:
            raise ValueError(f"the simulator imitates the models {', '.join(models)}, got {value!r}")
        return value

    return AfterValidator(check)

#: accuracy class indices the meter model knows (IEC 62053-21/-22, EN 50470-3 A/B/C, ANSI C12.20)
CLASS_INDICES = ("0.1", "0.2", "0.2S", "0.5", "0.5S", "1", "2", "3", "A", "B", "C")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NetworkConfig(_Strict):
    """Where the endpoints listen. The lead's bench code does the serving; this is only the model."""

    host: str = "127.0.0.1"
    #: endpoint name → fixed TCP port; a missing name or 0 means an ephemeral port
    ports: dict[str, Annotated[int, Field(ge=0, le=65535)]] = Field(default_factory=dict)


class SourceConfig(_Strict):
    """Meter-test source (phantom power: independent voltage and current per phase)."""

    #: the identity it answers (``*IDN?`` → FLUKE,<model>,<serial>,…)
    model: Annotated[IdnText, _one_of(SOURCE_MODELS)] = "6105A"
    serial: IdnText = "SIM0001"
    phases: Literal[1, 3] = 3
    nominal_voltage_v: PosFloat = 230.0
    nominal_frequency_hz: PosFloat = 50.0
    max_voltage_v: PosFloat = 300.0  # rating per phase
    max_current_a: PosFloat = 120.0  # rating per phase
    min_frequency_hz: PosFloat = 45.0
    max_frequency_hz: PosFloat = 65.0
    #: after a change the outputs approach the new setpoint (first order) and are settled after this time
    settling_time_s: NonNegFloat = 2.0
    #: bound of the source's own amplitude setting error (per phase, drawn once from the seed)
    setting_error_pct: NonNegFloat = 0.01
    #: bound of the source's own current phase-angle setting error (per phase, drawn once)
    setting_error_deg: NonNegFloat = 0.005
    max_harmonic_order: Annotated[int, Field(ge=2, le=100)] = 50

    @model_validator(mode="after")
    def _ranges(self) -> SourceConfig:
        if not self.min_frequency_hz <= self.nominal_frequency_hz <= self.max_frequency_hz:
            raise ValueError("need min_frequency_hz ≤ nominal_frequency_hz ≤ max_frequency_hz")
        if self.nominal_voltage_v > self.max_voltage_v:
            raise ValueError("nominal_voltage_v exceeds max_voltage_v")
        return self


class ReferenceConfig(_Strict):
    """Reference standard (power analyser with a high-frequency energy pulse output)."""

    model: Annotated[IdnText, _one_of(REFERENCE_ELEMENTS)] = "WT5000"
    serial: IdnText = "SIM000001"
    #: accuracy class of active power/energy in %; the unit's systematic error is drawn within it
    accuracy_class_pct: PosFloat = 0.02
    #: high-frequency pulse output constant (imp/kWh)
    pulse_constant_imp_per_kwh: PosFloat = 5.0e6
    #: 1σ relative noise of each instantaneous reading in % (integration and pulses are noise-free)
    noise_pct: NonNegFloat = 0.001


class ChamberConfig(_Strict):
    """Climatic chamber: program value ramps at the gradient, the air follows with a first-order lag."""

    dialect: Literal["simserv", "espec"] = "simserv"
    model: IdnText = "SimChamber"
    serial: IdnText = "SIMCH0001"
    year: int = 2026
    temperature_range_c: tuple[Finite, Finite] = (-40.0, 180.0)
    #: None: the chamber has no humidity control (the air keeps the ambient humidity)
    humidity_range_pct: tuple[Finite, Finite] | None = (10.0, 98.0)
    max_gradient_up_k_per_min: PosFloat = 5.0
    max_gradient_down_k_per_min: PosFloat = 5.0
    #: gradients at power-on; 0 = no limit (the program value steps)
    gradient_up_k_per_min: NonNegFloat = 1.0
    gradient_down_k_per_min: NonNegFloat = 1.0
    humidity_gradient_pct_per_min: NonNegFloat = 2.0
    temperature_time_constant_s: PosFloat = 120.0
    humidity_time_constant_s: PosFloat = 180.0
    #: time constant of the drift back to ambient when the chamber is stopped
    drift_time_constant_s: PosFloat = 1800.0

    @model_validator(mode="after")
    def _ranges(self) -> ChamberConfig:
        lo, hi = self.temperature_range_c
        if lo >= hi:
            raise ValueError("temperature_range_c must be (low, high) with low < high")
        if self.humidity_range_pct is not None:
            hlo, hhi = self.humidity_range_pct
            if not 0 <= hlo < hhi <= 100:
                raise ValueError("humidity_range_pct must be (low, high) with 0 ≤ low < high ≤ 100")
        if self.gradient_up_k_per_min > self.max_gradient_up_k_per_min:
            raise ValueError("gradient_up_k_per_min exceeds max_gradient_up_k_per_min")
        if self.gradient_down_k_per_min > self.max_gradient_down_k_per_min:
            raise ValueError("gradient_down_k_per_min exceeds max_gradient_down_k_per_min")
        return self


def _check_curve(points: list[CurvePoint], what: str) -> list[CurvePoint]:
    if not points:
        raise ValueError(f"{what} needs at least one [current_a, value] point")
    currents = [p[0] for p in points]
    if any(b <= a for a, b in itertools.pairwise(currents)):
        raise ValueError(f"{what} currents must be strictly increasing")
    return points


class FailureConfig(_Strict):
    """Life drawn from a Weibull distribution in equivalent hours at 23 °C / 50 %RH, consumed at the Peck rate
    AF = (RH/50)^n · exp[(Ea/k)(1/T_23 − 1/T)] (standards.md §8, Peck's model)."""

    weibull_beta: PosFloat
    weibull_eta_h: PosFloat
    activation_energy_ev: NonNegFloat = 0.7
    humidity_exponent: NonNegFloat = 2.66
    mode: Literal["dead", "drift", "no_pulses"] = "dead"
    #: error shift after a failure in mode "drift"
    drift_pct: Finite = 0.0

    @model_validator(mode="after")
    def _drift(self) -> FailureConfig:
        if self.mode == "drift" and self.drift_pct == 0:
            raise ValueError("mode 'drift' needs a non-zero drift_pct")
        return self


class PowerCycleFailureConfig(_Strict):
    """Wear-out by power cycling: a life in power-ups drawn from Weibull(β, η cycles) per unit (from the seed);
    each power-up of the meter's supply consumes one, and the power-up that exhausts it fails the meter."""

    weibull_beta: PosFloat
    weibull_eta_cycles: PosFloat
    mode: Literal["dead", "drift", "no_pulses"] = "dead"
    #: error shift after a failure in mode "drift"
    drift_pct: Finite = 0.0

    @model_validator(mode="after")
    def _drift(self) -> PowerCycleFailureConfig:
        if self.mode == "drift" and self.drift_pct == 0:
            raise ValueError("mode 'drift' needs a non-zero drift_pct")
        return self


class MeterBehaviour(_Strict):
    """How a meter of this type really behaves (the simulator's truth)."""

    #: amplitude error vs current: [[current_a, error_pct], ...], interpolated in log current, clamped at the ends
    error_curve_pct: list[CurvePoint] = Field(default_factory=lambda: [(1.0, 0.0)])
    #: phase error vs current in arc-minutes; measured P = U·I·cos(φ + δ)
    phase_error_curve_arcmin: list[CurvePoint] = Field(default_factory=lambda: [(1.0, 0.0)])
    #: production spread per unit (1σ, clipped at 2σ, drawn from the seed): offset, tilt per decade of current
    error_spread_pct: NonNegFloat = 0.0
    error_tilt_spread_pct_per_decade: NonNegFloat = 0.0
    phase_error_spread_arcmin: NonNegFloat = 0.0
    voltage_coefficient_pct_per_pct: Finite = 0.0  # per % deviation from Un
    frequency_coefficient_pct_per_pct: Finite = 0.0  # per % deviation from the source's nominal frequency
    temperature_coefficient_pct_per_k: Finite = 0.0  # per K from 23 °C
    #: error of the meter on harmonic active power (−10: harmonic power registered 10 % low)
    harmonic_error_pct: Finite = 0.0
    #: an element registers only from this current up; None → half the type's Ist
    start_threshold_a: NonNegFloat | None = None
    #: power registered with voltage applied and no element above its starting threshold
    creep_w: Finite = 0.0
    pulse_output_broken: bool = False
    clock_drift_ppm: Finite = 0.0
    clock_drift_spread_ppm: NonNegFloat = 0.0
    #: the time-of-use schedule the meter runs: tariff 1 from ``[0]`` to ``[1]`` hours of its own clock, else 2
    tariff1_hours: tuple[Annotated[float, Field(ge=0, lt=24)], Annotated[float, Field(gt=0, le=24)]] = (6.0, 22.0)
    #: supply threshold on element 1's phase in % of Un: below it the meter stops registering at once (its
    #: power-fail detection saves the registers) and, after ``holdup_ms``, its supply fails (C.7.0 + 1, a reset)
    supply_min_pct: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] = 50.0
    #: how long the supply's stored energy keeps the meter running below ``supply_min_pct``
    holdup_ms: NonNegFloat = 100.0
    #: load profile (electricity memory, DLMS 1.0.99.1.0.255): capture period of the meter's clock and depth
    load_profile_period_s: Annotated[int, Field(ge=60, le=86400)] = 900
    load_profile_depth: Annotated[int, Field(ge=1, le=100_000)] = 4320
    #: fault: the load profile loses the intervals missed across a power failure (a good meter fills them)
    profile_gap_on_power_failure: bool = False
    #: fault: the supply control switch's contacts are welded: the meter believes it opened, current keeps flowing
    relay_stuck_closed: bool = False
    #: fault: the firmware counts "last" / "second last" weekday of a month one too far from its end, so DST
    #: begins and ends a week early (last Sunday of March 2026 → 22 March instead of 29 March)
    dst_rule_wrong: bool = False
    #: fault: an interruption of the supply shorter than 3 s leaves no power down / power up in the event logs
    event_log_misses_short_interruptions: bool = False

    @field_validator("error_curve_pct")
    @classmethod
    def _amp_curve(cls, v: list[CurvePoint]) -> list[CurvePoint]:
        return _check_curve(v, "error_curve_pct")

    @field_validator("tariff1_hours")
    @classmethod
    def _tariff_window(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] >= v[1]:
            raise ValueError(f"tariff 1 must start before it ends, got {v[0]:g} h … {v[1]:g} h")
        return v

    @field_validator("phase_error_curve_arcmin")
    @classmethod
    def _phase_curve(cls, v: list[CurvePoint]) -> list[CurvePoint]:
        return _check_curve(v, "phase_error_curve_arcmin")


def _hex_key(octets: int) -> Any:
    pattern = rf"^[0-9A-Fa-f]{{{2 * octets}}}$"
    return Field(pattern=pattern)


class DstSwitchConfig(_Strict):
    """A DST switch as the Clock's daylight_savings_begin / _end holds it, in the local time in force before the
    switch: ``month``; ``day`` 1…31, ``last`` or ``second_last``; ``weekday`` 1 (Monday) … 7 (Sunday) or null (with
    a weekday: the last / second-last such weekday of the month, or the first one on or after day 1…31); ``time``."""

    month: Annotated[int, Field(ge=1, le=12)]
    day: Annotated[int, Field(ge=1, le=31)] | Literal["last", "second_last"] | None = "last"
    weekday: Annotated[int, Field(ge=1, le=7)] | None = 7
    time: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$")]

    @model_validator(mode="after")
    def _day(self) -> DstSwitchConfig:
        if self.day is None and self.weekday is None:
            raise ValueError("a DST switch needs a day of month or a weekday")
        return self


class DlmsConfig(_Strict):
    """The meter's DLMS/COSEM server (IEC 62056-5-3): clients and keys. Public client 16 reads without
    authentication; management client 1 reads and writes after LLS (``lls_password``) or HLS-GMAC with security
    suite 0 (``encryption_key``, ``authentication_key``; the Green Book's example keys by default)."""

    lls_password: Annotated[str, Field(min_length=1, max_length=32)] = "12345678"
    encryption_key: Annotated[str, _hex_key(16)] = "000102030405060708090A0B0C0D0E0F"
    authentication_key: Annotated[str, _hex_key(16)] = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
    #: 8 octets (hex); default: the manufacturer ID and five octets derived from the serial number
    system_title: Annotated[str, _hex_key(8)] | None = None
    #: Clock time_zone (IEC 62056-6-2 4.5.1: minutes from local normal time to UTC, −60 for CET)
    time_zone_min: Annotated[int, Field(ge=-720, le=720)] = 0
    #: Clock DST (attributes 5-8): off unless configured; the EU rule for CET by default (Directive 2000/84/EC)
    dst_enabled: bool = False
    dst_deviation_min: Annotated[int, Field(ge=-120, le=120)] = 60
    dst_begin: DstSwitchConfig = Field(default_factory=lambda: DstSwitchConfig(month=3, time="02:00"))
    dst_end: DstSwitchConfig = Field(default_factory=lambda: DstSwitchConfig(month=10, time="03:00"))
    #: HDLC lower (physical device) address on the optical port after mode E (IEC 62056-46: 0x10 … 0x3FFD)
    hdlc_address: Annotated[int, Field(ge=0x10, le=0x3FFD)] = 0x10
    #: the optical port announces mode E and switches to HDLC on request (IEC 62056-21 6.3.14)
    optical_mode_e: bool = True


class StsDecoderConfig(_Strict):
    """The meter's STS decoder (IEC 62055-41): the key data its decoder key is derived from, the key's expiry and
    base date, and its memory of used token identifiers. The PAN is IIN ‖ DRN ‖ Luhn digit."""

    #: DKGA02: 8 octets (DES); DKGA04: 20 octets (HMAC-SHA-256); hex. Default: the STS example vending key
    vending_key: Annotated[str, Field(pattern=r"^([0-9A-Fa-f]{16}|[0-9A-Fa-f]{40})$")] = "abababababababab"
    supply_group_code: Annotated[str, Field(pattern=r"^[0-9]{6}$")] = "123456"
    tariff_index: Annotated[int, Field(ge=0, le=99)] = 1
    key_revision: Annotated[int, Field(ge=1, le=9)] = 1
    #: 0 DITK, 1 DDTK, 2 DUTK, 3 DCTK (IEC 62055-41 6.1.6)
    key_type: Annotated[int, Field(ge=0, le=3)] = 2
    base_date: Literal[1993, 2014, 2035] = 1993
    #: key expiry number: tokens whose TID's top 8 bits exceed it are refused (255: never)
    key_expiry: Annotated[int, Field(ge=0, le=255)] = 255
    iin: Annotated[str, Field(pattern=r"^(600727|0000)$")] = "600727"
    #: decoder reference number (11 digits after IIN 600727, 13 after 0000); default: the serial's digits
    drn: Annotated[str, Field(pattern=r"^[0-9]{11}([0-9]{2})?$")] | None = None
    #: TIDs of the most recent credit and TID-bearing tokens the decoder remembers (U: IEC 62055-41 asks for a
    #: memory; its depth is the maker's)
    tid_memory: Annotated[int, Field(ge=1, le=1000)] = 50


class PrepaymentFaults(_Strict):
    """Faulty payment-meter firmware, one flag each (the good meter has none)."""

    #: the decoder does not look at its TID memory: a replayed credit token is credited again
    accepts_replayed_token: bool = False
    #: consumption is charged at tariff 1's price in every tariff window
    price_ignores_tariff: bool = False
    #: at zero credit the supply stays on (no disconnect, credit goes into debt)
    no_disconnect_at_zero: bool = False
    #: the meter disconnects at zero credit in friendly hours too
    disconnects_in_friendly_hours: bool = False
    #: a key change token's rollover bit is ignored: the decoder stays on its old base date and TID memory, so
    #: tokens issued after the change on the new base date look older than the ones it remembers
    ignores_rollover: bool = False


class PrepaymentConfig(_Strict):
    """A payment meter (IEC 62055-31) with an STS decoder: an account kept in kWh of credit (DLMS Account currency
    unit "consumption"), token credit and emergency credit, a consumption charge per tariff and a standing charge,
    low-credit thresholds, friendly hours and the supply control switch driven at zero credit."""

    sts: StsDecoderConfig = Field(default_factory=StsDecoderConfig)
    #: token credit when the meter leaves the factory (kWh)
    initial_credit_kwh: NonNegFloat = 0.0
    #: the largest credit the meter holds; a token that would exceed it is refused (kWh)
    max_credit_kwh: PosFloat = 999_999.0
    #: credit charged per kWh of import registered in tariff n (the Charge's charge table; kWh of credit per kWh)
    unit_price: dict[Annotated[int, Field(ge=1, le=8)], NonNegFloat] = Field(default_factory=lambda: {1: 1.0, 2: 1.0})
    #: standing charge, credit per day, collected at every ``collection_period_s`` of the meter's clock
    standing_charge_per_day: NonNegFloat = 0.0
    collection_period_s: Annotated[int, Field(ge=60, le=86400)] = 3600
    #: low-credit warnings: an alarm (event, status) as the available credit falls to each (kWh, any order)
    low_credit_thresholds_kwh: list[PosFloat] = Field(default_factory=lambda: [5.0, 1.0])
    #: emergency credit: the customer may invoke it when the credit is below the threshold; paid back by the next
    #: token before anything is credited (kWh; 0: none)
    emergency_credit_kwh: NonNegFloat = 0.0
    emergency_threshold_kwh: NonNegFloat = 0.0
    #: friendly periods (IEC 62055-31: no disconnection for lack of credit): hours of the meter's local time
    #: [start, end) and whole weekdays (1 Monday … 7 Sunday); debt run up in them is recovered from the next token
    friendly_hours: list[tuple[Annotated[float, Field(ge=0, lt=24)], Annotated[float, Field(gt=0, le=24)]]] = (
        Field(default_factory=list))
    friendly_weekdays: list[Annotated[int, Field(ge=1, le=7)]] = Field(default_factory=list)
    #: disconnect control_mode the meter leaves the factory with: 5 and 6 reconnect by themselves once a token
    #: has restored credit (local reconnection h); 1 … 4 need the customer's button (manual reconnection e)
    control_mode: Annotated[int, Field(ge=1, le=6)] = 6
    faults: PrepaymentFaults = Field(default_factory=PrepaymentFaults)

    @field_validator("friendly_hours")
    @classmethod
    def _windows(cls, v: list[tuple[float, float]]) -> list[tuple[float, float]]:
        for start, end in v:
            if start >= end:
                raise ValueError(f"a friendly period must start before it ends, got {start:g} h … {end:g} h")
        return v

    @field_validator("unit_price")
    @classmethod
    def _tariff_one(cls, v: dict[int, float]) -> dict[int, float]:
        if 1 not in v:
            raise ValueError("unit_price needs tariff 1 (the price of the other tariffs falls back to it)")
        return v


class PowerQualityFaults(_Strict):
    #: the voltage THD leaves out the harmonics above the 13th
    thd_ignores_above_13: bool = False
    #: a dip is recorded twice as long as it was
    dip_duration_wrong: bool = False
    #: no alarm for a reversed phase sequence
    phase_sequence_alarm_missing: bool = False
    #: the flickermeter is not computed: Pst and Plt read 0
    flicker_not_computed: bool = False
    #: the voltage unbalance from the magnitudes alone (the angles taken as 0°, −120°, +120°)
    unbalance_wrong: bool = False


class PowerQualityConfig(_Strict):
    """The meter's power-quality functions (IEC 61000-4-30 class S as meters implement them): thresholds in % of
    its declared voltage (Un), IEC 61000-4-30 5.4 defaults."""

    dip_threshold_pct: Annotated[float, Field(gt=0, lt=100)] = 90.0
    swell_threshold_pct: Annotated[float, Field(gt=100, le=200)] = 110.0
    interruption_threshold_pct: Annotated[float, Field(gt=0, lt=100)] = 5.0
    hysteresis_pct: Annotated[float, Field(ge=0, le=10)] = 2.0
    #: diagnosis: a phase is lost below this % of Un; a condition is flagged once it has held this long
    phase_loss_pct: Annotated[float, Field(gt=0, lt=100)] = 50.0
    diagnosis_delay_s: NonNegFloat = 1.0
    faults: PowerQualityFaults = Field(default_factory=PowerQualityFaults)


class MeterTypeConfig(_Strict):
    """A meter type (template): nameplate and behaviour."""

    manufacturer: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")] = "MHS"
    model: str = "SIM"
    class_index: str
    standard: str
    constant_imp_per_kwh: PosFloat
    connection: Literal["1P2W", "3P4W"]
    #: ``ct``: a transformer-operated meter (In, e.g. 5 A; ``iref_a`` = In). The physics is the same: the source
    #: feeds the secondary current straight into the meter, as on a real CT-meter bench
    current_input: Literal["direct", "ct"] = "direct"
    un_v: PosFloat
    #: nominal frequency (the nameplate's fn); none: the source's nominal frequency
    fn_hz: PosFloat | None = None
    ist_a: PosFloat
    imin_a: PosFloat
    itr_a: PosFloat
    iref_a: PosFloat | None = None
    ib_a: PosFloat | None = None  # 2003 editions: Ib (= Iref)
    imax_a: PosFloat
    password: str = "00000000"
    dlms: DlmsConfig = Field(default_factory=DlmsConfig)
    #: a payment meter's account and STS decoder (None: a credit meter)
    prepayment: PrepaymentConfig | None = None
    #: power-quality functions (None: the meter has none)
    power_quality: PowerQualityConfig | None = None
    behaviour: MeterBehaviour = Field(default_factory=MeterBehaviour)
    failure: FailureConfig | None = None
    power_cycle_failure: PowerCycleFailureConfig | None = None

    @field_validator("class_index")
    @classmethod
    def _class(cls, v: str) -> str:
        if v not in CLASS_INDICES:
            raise ValueError(f"unknown class index {v!r}; known: {', '.join(CLASS_INDICES)}")
        return v

    @model_validator(mode="after")
    def _currents(self) -> MeterTypeConfig:
        if (self.iref_a is None) == (self.ib_a is None):
            raise ValueError("give exactly one of iref_a and ib_a")
        if self.current_input == "ct" and self.ib_a is not None:
            raise ValueError("a CT-operated meter is rated by In: give iref_a (= In), not ib_a")
        if not self.ist_a < self.imin_a < self.itr_a < self.iref < self.imax_a:
            raise ValueError(
                f"currents must satisfy Ist < Imin < Itr < Iref < Imax, got {self.ist_a} < {self.imin_a} < "
                f"{self.itr_a} < {self.iref} < {self.imax_a}"
            )
        return self

    @property
    def iref(self) -> float:
        ref = self.iref_a if self.iref_a is not None else self.ib_a
        assert ref is not None  # guaranteed by the validator
        return ref

    @property
    def start_threshold_a(self) -> float:
        b = self.behaviour.start_threshold_a
        return 0.5 * self.ist_a if b is None else b


class BehaviourOverrides(_Strict):
    """Per-position changes of the type's behaviour (only the keys given)."""

    error_curve_pct: list[CurvePoint] | None = None
    phase_error_curve_arcmin: list[CurvePoint] | None = None
    error_spread_pct: NonNegFloat | None = None
    error_tilt_spread_pct_per_decade: NonNegFloat | None = None
    phase_error_spread_arcmin: NonNegFloat | None = None
    voltage_coefficient_pct_per_pct: Finite | None = None
    frequency_coefficient_pct_per_pct: Finite | None = None
    temperature_coefficient_pct_per_k: Finite | None = None
    harmonic_error_pct: Finite | None = None
    start_threshold_a: NonNegFloat | None = None
    creep_w: Finite | None = None
    pulse_output_broken: bool | None = None
    clock_drift_ppm: Finite | None = None
    clock_drift_spread_ppm: NonNegFloat | None = None
    tariff1_hours: tuple[Annotated[float, Field(ge=0, lt=24)], Annotated[float, Field(gt=0, le=24)]] | None = None
    supply_min_pct: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] | None = None
    holdup_ms: NonNegFloat | None = None
    load_profile_period_s: Annotated[int, Field(ge=60, le=86400)] | None = None
    load_profile_depth: Annotated[int, Field(ge=1, le=100_000)] | None = None
    profile_gap_on_power_failure: bool | None = None
    relay_stuck_closed: bool | None = None
    dst_rule_wrong: bool | None = None
    event_log_misses_short_interruptions: bool | None = None


class MeterOverrides(_Strict):
    """Per-position changes of the type (only the keys given); ``failure`` and ``power_cycle_failure`` replace
    the type's models."""

    model: str | None = None
    class_index: str | None = None
    standard: str | None = None
    constant_imp_per_kwh: PosFloat | None = None
    un_v: PosFloat | None = None
    ist_a: PosFloat | None = None
    imin_a: PosFloat | None = None
    itr_a: PosFloat | None = None
    iref_a: PosFloat | None = None
    ib_a: PosFloat | None = None
    imax_a: PosFloat | None = None
    password: str | None = None
    dlms: DlmsConfig | None = None
    prepayment: PrepaymentConfig | None = None
    power_quality: PowerQualityConfig | None = None
    behaviour: BehaviourOverrides | None = None
    failure: FailureConfig | None = None
    power_cycle_failure: PowerCycleFailureConfig | None = None


class PositionConfig(_Strict):
    position: Annotated[int, Field(ge=1)]
    serial: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z]+$")]
    type: str
    #: source phase of element 1 for a 1P2W meter (3P4W meters use phases 1..3)
    phase: Annotated[int, Field(ge=1, le=3)] = 1
    #: the meter's clock at the epoch is ahead of the bench clock by this much
    clock_offset_s: Finite = 0.0
    overrides: MeterOverrides | None = None


#: override keys that replace the type's value as a whole (a failure model is not merged key by key)
_REPLACED = ("failure", "power_cycle_failure")


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key not in _REPLACED:
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def resolve_meter(types: dict[str, MeterTypeConfig], pos: PositionConfig) -> MeterTypeConfig:
    """The type of ``pos`` with its overrides applied (validated again, so consistency rules hold)."""
    base = types[pos.type]
    if pos.overrides is None:
        return base
    merged = _deep_merge(base.model_dump(), pos.overrides.model_dump(exclude_unset=True))
    if pos.overrides.ib_a is not None and "iref_a" not in pos.overrides.model_fields_set:
        merged["iref_a"] = None
    if pos.overrides.iref_a is not None and "ib_a" not in pos.overrides.model_fields_set:
        merged["ib_a"] = None
    return MeterTypeConfig.model_validate(merged)


class SimBenchConfig(_Strict):
    """Top level of a simulated-bench file."""

    name: IdnText
    seed: Annotated[int, Field(ge=0)] = 1
    #: the virtual clock's zero (UTC; a naive value is taken as UTC)
    epoch: datetime = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    ambient_temperature_c: Finite = 23.0
    ambient_humidity_pct: Annotated[float, Field(ge=0, le=100)] = 50.0
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    source: SourceConfig = Field(default_factory=SourceConfig)
    reference: ReferenceConfig = Field(default_factory=ReferenceConfig)
    chamber: ChamberConfig | None = None
    meter_types: dict[str, MeterTypeConfig]
    positions: Annotated[list[PositionConfig], Field(min_length=1)]

    @field_validator("reference")
    @classmethod
    def _elements(cls, reference: ReferenceConfig, info: ValidationInfo) -> ReferenceConfig:
        source: SourceConfig | None = info.data.get("source")
        elements = REFERENCE_ELEMENTS[reference.model]
        if source is not None and elements < source.phases:
            raise ValueError(f"model: a {reference.model} has {elements} input element(s), the source "
                             f"{source.phases} phases")
        return reference

    @field_validator("epoch")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)

    @field_validator("positions")
    @classmethod
    def _positions(cls, positions: list[PositionConfig], info: ValidationInfo) -> list[PositionConfig]:
        seen_pos: set[int] = set()
        seen_serial: set[str] = set()
        for i, p in enumerate(positions):
            where = f"positions[{i}] (position {p.position})"
            if p.position in seen_pos:
                raise ValueError(f"{where}: position number used twice")
            if p.serial in seen_serial:
                raise ValueError(f"{where}: serial {p.serial!r} used twice")
            seen_pos.add(p.position)
            seen_serial.add(p.serial)
        types: dict[str, MeterTypeConfig] | None = info.data.get("meter_types")
        source: SourceConfig | None = info.data.get("source")
        if types is None or source is None:
            return positions  # their own errors are reported
        for i, p in enumerate(positions):
            where = f"positions[{i}] (position {p.position})"
            if p.type not in types:
                raise ValueError(f"{where}: unknown meter type {p.type!r}; known: {', '.join(sorted(types))}")
            try:
                meter = resolve_meter(types, p)
            except ValueError as exc:
                raise ValueError(f"{where}: overrides make the meter inconsistent: {exc}") from None
            if meter.connection == "3P4W" and source.phases != 3:
                raise ValueError(f"{where}: a 3P4W meter needs a 3-phase source")
            if p.phase > source.phases:
                raise ValueError(f"{where}: phase {p.phase} does not exist on a {source.phases}-phase source")
            if meter.un_v > source.max_voltage_v:
                raise ValueError(f"{where}: Un {meter.un_v} V exceeds the source rating {source.max_voltage_v} V")
            fn = meter.fn_hz or source.nominal_frequency_hz
            if not source.min_frequency_hz <= fn <= source.max_frequency_hz:
                raise ValueError(f"{where}: fn {fn:g} Hz is outside the source's {source.min_frequency_hz:g} … "
                                 f"{source.max_frequency_hz:g} Hz")
        return positions

    def meter(self, position: int) -> MeterTypeConfig:
        """The resolved meter (type + overrides) at ``position``."""
        for p in self.positions:
            if p.position == position:
                return resolve_meter(self.meter_types, p)
        raise KeyError(position)


DEFAULT_BENCH = "default_bench.yaml"


def load_sim_bench(path: str | Path | None = None) -> SimBenchConfig:
    """Load a simulated-bench file; ``None`` → the packaged default bench."""
    if path is not None:
        return load_yaml_model(path, SimBenchConfig)
    res = importlib.resources.files("instruments.simulators").joinpath("data", DEFAULT_BENCH)
    text = res.read_text(encoding="utf-8")
    name = f"<packaged {DEFAULT_BENCH}>"
    data, node = parse_yaml_text(text, name)
    return validate_data(data, SimBenchConfig, name, node)
