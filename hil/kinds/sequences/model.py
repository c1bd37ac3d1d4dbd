"""Plan kinds of stress sequences (``burn_in``, ``thermal_cycling``, the environmental ``damp_heat_cyclic``,
``dry_heat``, ``cold``, ``damp_heat_steady``) and their monitoring options.

Only what can be judged without the bench is checked here (pydantic): signs, orders, ranges of the options. The
chamber's own range and gradient are checked against the bench before anything starts
(:func:`hil.kinds.sequences.profile.check_profile`).
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hil.standards import environmental as env


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf / .nan in a plan: refused


class LoadOption(_Model):
    """The load the meters carry while stressed (burn-in: energised at a load point)."""

    current: str = "Iref"
    power_factor: str = "1"
    voltage_pct: float = Field(100.0, gt=0, le=130)  # of Un


class MonitoringOptions(_Model):
    """How often the meters and the chamber are checked, and when a meter counts as failed."""

    interval_s: float = Field(60.0, gt=0)
    #: the port register (1.8.0) is read every N intervals (a port readout is slow on a real bench)
    port_every: int = Field(60, ge=1)
    #: monitoring rows are written in chunks of this many intervals (and the checkpoint after each chunk)
    chunk_intervals: int = Field(60, ge=1)
    register_address: str = "1.8.0"
    register_resolution_kwh: float = Field(0.01, gt=0)
    #: register advance vs pulses / meter constant beyond this (plus resolution and ±1 pulse) is a drift
    register_tolerance_pct: float = Field(1.0, gt=0)
    #: chamber actual value further than this from the setpoint during a soak is an alarm
    chamber_band_k: float = Field(3.0, gt=0)
    #: humidity further than this from the setpoint during a soak is an alarm; None: the profile's own tolerance
    #: (Db: the standard's band per phase), 5 %RH where the profile gives none
    chamber_band_rh: float | None = Field(None, gt=0)
    #: the error at the load point (pulses counted each interval) moving further than this from its first window's
    #: value is a ``drift`` failure (None: the error is recorded, not judged); see hil.kinds.sequences.error_monitor
    max_error_shift_pct: float | None = Field(None, gt=0)
    #: resolution of the monitored error's shift (±1 meter pulse in each of the two windows compared: 2·100/ΔN);
    #: None: a tenth of max_error_shift_pct, else 0.1 %
    error_resolution_pct: float | None = Field(None, gt=0)


class CheckPoint(_Model):
    """One accuracy point of the checks before, during and after a sequence (limit from the standards)."""

    current: str = "Iref"
    power_factor: str = "1"


class ChecksOptions(_Model):
    """Accuracy checks before / during / after a sequence and the limit on each meter's error shift
    (hil.kinds.sequences.checks; docs/sequences.md "Checks before, during and after")."""

    points: list[CheckPoint] = Field(min_length=1)
    before: bool = True
    after: bool = True
    #: a check after every this many hours of soak (monitoring pauses meanwhile); None: no check during
    during_every_h: float | None = Field(None, gt=0)
    #: limit on |error after − error before| per meter and point; None: no shift rows
    max_shift_pct: float | None = Field(None, gt=0)
    #: the meters' environment class: its specified operating range (IEC 62052-11, hil.standards.operating)
    #: bounds where a check during the sequence can be judged with the temperature coefficient
    operating_range: Literal["indoor", "outdoor"] = "indoor"

    @model_validator(mode="after")
    def _shift_needs_both(self) -> ChecksOptions:
        if self.max_shift_pct is not None and not (self.before and self.after):
            raise ValueError("max_shift_pct needs both the before and the after check")
        return self


class BurnInTest(_Model):
    """Hours at temperature with the meters energised (screening of early failures)."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["burn_in"]
    temperature_c: float
    humidity_pct: float | None = Field(None, ge=0, le=100)
    duration_h: float = Field(gt=0)
    gradient_k_per_min: float = Field(1.0, gt=0)
    #: guaranteed soak: the duration counts from when the chamber actual value is within ± band_k of the setpoint
    guaranteed_soak: bool = True
    band_k: float = Field(2.0, gt=0)
    end_temperature_c: float | None = None  # ramp back to this after the soak (None: stay)
    load: LoadOption = Field(default_factory=LoadOption)
    monitoring: MonitoringOptions = Field(default_factory=MonitoringOptions)
    checks: ChecksOptions | None = None  # accuracy checks before / during / after, shift limit


class ThermalCyclingTest(_Model):
    """ESS thermal cycling: ramps between two temperatures at a rate, a dwell at each extreme, N cycles."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["thermal_cycling"]
    low_c: float
    high_c: float
    gradient_k_per_min: float = Field(gt=0)
    dwell_min: float = Field(gt=0)
    cycles: int = Field(ge=1, le=10000)
    guaranteed_soak: bool = True
    band_k: float = Field(2.0, gt=0)
    end_temperature_c: float | None = 23.0
    load: LoadOption | None = Field(default_factory=LoadOption)  # None: meters not energised
    monitoring: MonitoringOptions = Field(default_factory=MonitoringOptions)
    checks: ChecksOptions | None = None  # accuracy checks before / during / after, shift limit

    @model_validator(mode="after")
    def _order(self) -> ThermalCyclingTest:
        if self.low_c >= self.high_c:
            raise ValueError(f"low_c {self.low_c} must be below high_c {self.high_c}")
        return self


Energised = Literal["voltage", "load", "none"]


class _Environmental(_Model):
    """Common to the environmental kinds: how the meters are energised during the test.

    ``energised: voltage`` — circuits at ``load.voltage_pct`` of Un, no current (reference/standards.md §7: "circuits
    at Un, no current"; no pulses are expected, a meter is judged alive by its port readout); ``load`` — at the
    ``load`` point; ``none`` — not energised (port monitoring only, if the port is self-powered).
    """

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    energised: Energised = "voltage"
    load: LoadOption | None = None
    monitoring: MonitoringOptions = Field(default_factory=MonitoringOptions)
    checks: ChecksOptions | None = None  # accuracy checks before / during / after, shift limit

    @model_validator(mode="after")
    def _energised(self) -> _Environmental:
        if self.energised == "none":
            if self.load is not None:
                raise ValueError("energised: none takes no load")
        elif self.load is None:
            self.load = LoadOption()
        elif self.energised == "voltage" and {"current", "power_factor"} & self.load.model_fields_set:
            raise ValueError("energised: voltage applies no current: give only load.voltage_pct")
        return self

    @property
    def voltage_only(self) -> bool:
        return self.energised == "voltage"


class DampHeatCyclicTest(_Environmental):
    """IEC 60068-2-30 test Db: 24 h cycles between 25 °C and +40/+55 °C at high humidity, after a stabilisation at
    25 °C (profile data: :mod:`hil.standards.environmental`)."""

    kind: Literal["damp_heat_cyclic"]
    upper_c: Literal[40, 55]
    cycles: int = Field(int(env.DB_CYCLES.value), ge=1, le=1000)
    variant: Literal[1, 2] = 1
    #: duration of the linear fall to 25 °C (variant 1: 3 … 3.25 h, variant 2: 3 … 6 h); default 3 h
    fall_h: float | None = Field(None, gt=0)
    #: stabilisation at 25 ± 3 °C before the first cycle, at the standard atmosphere (the last hour of which at
    #: RH ≥ 95 % is added by the profile)
    stabilisation_h: float = Field(1.0, gt=0)
    #: gradient of the ramp to 25 °C before the first cycle
    gradient_k_per_min: float = Field(env.MAX_RAMP_K_PER_MIN.value, gt=0)
    end_temperature_c: float | None = None  # recovery ramp after the last cycle (None: stay at 25 °C)

    @model_validator(mode="after")
    def _cycle(self) -> DampHeatCyclicTest:
        env.db_cycle(self.upper_c, self.variant, self.fall_h)  # refuses a fall the variant does not allow
        return self

    @property
    def cycle(self) -> env.DbCycle:
        return env.db_cycle(self.upper_c, self.variant, self.fall_h)


class _Steady(_Environmental):
    """A steady test: ramp to a temperature (and humidity), hold it for a duration, optionally ramp back."""

    #: a preset from :data:`hil.standards.environmental.SEVERITIES`; explicit fields override it
    severity: str | None = None
    temperature_c: float | None = None
    duration_h: float | None = Field(None, gt=0)
    gradient_k_per_min: float = Field(env.MAX_RAMP_K_PER_MIN.value, gt=0)
    #: guaranteed soak: the duration counts from when the chamber is within ± band_k of the temperature
    guaranteed_soak: bool = True
    band_k: float | None = Field(None, gt=0)  # default: the standard's tolerance
    end_temperature_c: float | None = 23.0

    @model_validator(mode="after")
    def _preset(self) -> _Steady:
        kind: env.EnvKind = getattr(self, "kind")  # noqa: B009 - every subclass has a kind literal
        if self.severity is not None:
            sev = env.severity(kind, self.severity)
            if self.temperature_c is None:
                self.temperature_c = sev.temperature_c.value
            if self.duration_h is None:
                self.duration_h = sev.duration_h.value
            if sev.humidity_pct is not None and getattr(self, "humidity_pct", 0.0) is None:
                setattr(self, "humidity_pct", sev.humidity_pct.value)  # noqa: B010 - damp heat only
        missing = [f for f in ("temperature_c", "duration_h") if getattr(self, f) is None]
        if missing:
            raise ValueError(f"give {' and '.join(missing)} or a severity")
        if self.band_k is None:
            self.band_k = {"dry_heat": env.DRY_HEAT_TOL_K, "cold": env.COLD_TOL_K,
                           "damp_heat_steady": env.DAMP_STEADY_TOL_K}[kind].value
        return self


class DryHeatTest(_Steady):
    """IEC 60068-2-2 test Bb (dry heat, gradual change); humidity not controlled."""

    kind: Literal["dry_heat"]


class ColdTest(_Steady):
    """IEC 60068-2-1 test Ab (cold, gradual change); humidity not controlled."""

    kind: Literal["cold"]


class DampHeatSteadyTest(_Steady):
    """IEC 60068-2-78 test Cab (damp heat, steady state)."""

    kind: Literal["damp_heat_steady"]
    humidity_pct: float | None = Field(None, ge=0, le=100)
    band_rh: float = Field(env.DAMP_STEADY_RH_TOL.value, gt=0)

    @model_validator(mode="after")
    def _humidity(self) -> DampHeatSteadyTest:
        if self.humidity_pct is None:
            raise ValueError("give humidity_pct or a severity")
        return self


EnvironmentalTest = DampHeatCyclicTest | DryHeatTest | ColdTest | DampHeatSteadyTest
# power cycling and dips build on the options above (imported here, after them, to avoid an import cycle)
from hil.kinds.sequences.disturbances import PowerCyclingTest  # noqa: E402

SequenceTest: TypeAlias = (BurnInTest | ThermalCyclingTest | DampHeatCyclicTest | DryHeatTest | ColdTest
                           | DampHeatSteadyTest | PowerCyclingTest)
