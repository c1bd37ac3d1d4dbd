"""Plan sections of the accuracy family: accuracy, starting, no_load, meter_constant, influence."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from hil.core.plan import TEST_ID_PATTERN
from hil.core.plan import PlanSection as _Model


class AccuracyTest(_Model):
    id: Annotated[str, Field(pattern=TEST_ID_PATTERN)]
    kind: Literal["accuracy"]
    load: Literal["balanced", "single_element"] = "balanced"
    currents: list[str] | None = None  # e.g. [Imin, Itr, "2 Itr", Iref, Imax]; None: the standard's set
    power_factors: list[str] = Field(default_factory=lambda: ["1", "0.5L", "0.8C"])
    elements: list[int] | None = None  # single_element: which elements (default: all of the meter's)
    voltage_pct: float = Field(100.0, gt=0, le=130)  # of Un
    frequency_pct: float = Field(100.0, gt=80, le=120)  # of the nominal frequency


class StartingTest(_Model):
    id: Annotated[str, Field(pattern=TEST_ID_PATTERN)]
    kind: Literal["starting"]
    time_factor: float = Field(1.5, ge=1)  # time limit = factor × the pulse period at Ist (status U)
    min_pulses: int = Field(1, ge=1)


class NoLoadTest(_Model):
    id: Annotated[str, Field(pattern=TEST_ID_PATTERN)]
    kind: Literal["no_load"]
    duration_factor: float = Field(1.0, ge=1)  # × the standard's minimum duration (labs often use 2)
    voltage_pct: float | None = Field(None, gt=0, le=130)  # default: the standard's (115 % / 110 % Un)
    max_pulses: int = Field(1, ge=0)  # the meter shall not produce more than one pulse


class MeterConstantTest(_Model):
    """Test-output pulses against the advance of an energy register read over the meter's port."""

    id: Annotated[str, Field(pattern=TEST_ID_PATTERN)]
    kind: Literal["meter_constant"]
    current: str = "Imax"
    power_factor: str = "1"
    register_address: str = "1.8.0"
    register_resolution_kwh: float = Field(0.001, gt=0)  # last digit of the register readout
    max_resolution_pct: float = Field(0.1, gt=0, le=10)  # one register step ≤ this % of the test energy (U)


class InfluenceTest(_Model):
    """Error shift at a deviated voltage or frequency, or with harmonic components added (IEC 62053-21 influence of
    harmonics: the waveform of the standards library's definition), against the error at reference conditions."""

    id: Annotated[str, Field(pattern=TEST_ID_PATTERN)]
    kind: Literal["influence"]
    quantity: Literal["voltage", "frequency", "harmonics"]
    currents: list[str] | None = None  # default: the table's test currents
    power_factors: list[str] | None = None  # default: every PF the table gives a limit for
