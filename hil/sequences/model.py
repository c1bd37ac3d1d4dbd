"""Plan kinds of stress sequences (``burn_in``, ``thermal_cycling``) and their monitoring options.

Only what can be judged without the bench is checked here (pydantic): signs, orders, ranges of the options. The
chamber's own range and gradient are checked against the bench before anything starts
(:func:`hil.sequences.profile.check_profile`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


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

    @model_validator(mode="after")
    def _order(self) -> ThermalCyclingTest:
        if self.low_c >= self.high_c:
            raise ValueError(f"low_c {self.low_c} must be below high_c {self.high_c}")
        return self


SequenceTest = BurnInTest | ThermalCyclingTest
