"""Plan kinds of functional checks over the meter's port: ``clock`` (set, offset and drift) and ``tariff`` (the
energy registers follow the meter's time-of-use schedule).

Only what can be judged without the bench is checked here (pydantic); the meter's port and password are the
bench file's.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_ID = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf / .nan in a plan: refused


def _zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as 'UTC' or 'Europe/Berlin')") from None
    return name


class ClockTest(_Model):
    """The meter's clock against the bench's reference time: set it (optional), then its offset and its drift over
    ``duration_h`` with the meters at Un and no current.

    Each reading times the meter's seconds tick over the port (the time register polled every ``poll_s`` until its
    seconds change), so the offset is known to about one poll interval plus one port exchange, not to the 1 s
    resolution of the readout."""

    id: _ID
    kind: Literal["clock"]
    set_clock: bool = True
    #: after setting, the offset may be at most this (the lab's figure: setting latency of the port)
    max_set_offset_s: float = Field(1.0, gt=0)
    duration_h: float = Field(24.0, gt=0)
    #: None: the time-keeping accuracy of hil.standards.timekeeping (IEC 62054-21, unconfirmed)
    max_drift_s_per_day: float | None = Field(None, gt=0)
    #: the time zone the meter's clock shows (the bench's reference time is UTC)
    meter_timezone: Annotated[str, Field(min_length=1)] = "UTC"
    poll_s: float = Field(0.05, gt=0, le=1)
    time_register: str = "0.9.1"
    date_register: str = "0.9.2"

    _tz = field_validator("meter_timezone")(_zone)


class TariffSwitch(_Model):
    """One entry of the meter's time-of-use schedule: from ``at`` (meter time, hh:mm) the ``tariff`` applies."""

    at: str
    tariff: int = Field(ge=1, le=9)

    @field_validator("at")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.fullmatch(v):
            raise ValueError(f"time {v!r} must be hh:mm (00:00 … 23:59)")
        return v

    @property
    def minutes(self) -> int:
        h, m = self.at.split(":")
        return int(h) * 60 + int(m)


class TariffTest(_Model):
    """Energy before a tariff switch lands in the old tariff's register, after it in the new one, at the time the
    meter's schedule says; the total register is the sum. The meters' clocks are set to ``lead_s`` before each
    switch of ``schedule`` (the schedule programmed in the meter: the test checks the meter follows it)."""

    id: _ID
    kind: Literal["tariff"]
    schedule: list[TariffSwitch] = Field(min_length=2)
    #: energy register per tariff (OBIS in IEC 62056-21 notation)
    registers: dict[int, str] = Field(default_factory=lambda: {1: "1.8.1", 2: "1.8.2"})
    total_register: str = "1.8.0"
    #: a high current: one register step is then a short time (Imax 60 A, 3 × 230 V: 1 Wh in 0.09 s)
    current: str = "Imax"
    power_factor: str = "1"
    #: seconds of load before and after each switch (each ≥ settling + a margin: energy must reach a register)
    lead_s: float = Field(120.0, ge=30)
    after_s: float = Field(120.0, ge=30)
    #: the switch instant found from the register split may be this far from the schedule (the lab's figure)
    max_switch_error_s: float = Field(2.0, gt=0)
    register_resolution_kwh: float = Field(0.001, gt=0)
    meter_timezone: Annotated[str, Field(min_length=1)] = "UTC"
    time_register: str = "0.9.1"
    date_register: str = "0.9.2"

    _tz = field_validator("meter_timezone")(_zone)

    @model_validator(mode="after")
    def _consistent(self) -> TariffTest:
        times = [s.minutes for s in self.schedule]
        if len(set(times)) != len(times):
            raise ValueError("schedule: two switches at the same time")
        missing = sorted({s.tariff for s in self.schedule} - set(self.registers))
        if missing:
            raise ValueError(f"registers: no register for tariff {', '.join(map(str, missing))}")
        ordered = sorted(self.schedule, key=lambda s: s.minutes)
        if all(a.tariff == b.tariff for a, b in zip(ordered, ordered[1:] + ordered[:1], strict=True)):
            raise ValueError("schedule: every entry has the same tariff, there is no switch to test")
        return self

    def at_of(self, tariff: int, before: int) -> str:
        """The schedule's time of the switch from ``before`` to ``tariff``."""
        return next(s.at for s, b in self.switches() if s.tariff == tariff and b == before)

    def switches(self) -> list[tuple[TariffSwitch, int]]:
        """Each real switch of the daily schedule with the tariff in force just before it."""
        ordered = sorted(self.schedule, key=lambda s: s.minutes)
        out = []
        for i, s in enumerate(ordered):
            before = ordered[i - 1].tariff
            if before != s.tariff:
                out.append((s, before))
        return out


FunctionalTest: TypeAlias = ClockTest | TariffTest
