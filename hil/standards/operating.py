"""Specified temperature ranges of a meter (IEC 62052-11), as data with source and status.

IEC 62053-21/22 limits of variation with temperature (the mean temperature coefficient, reference/standards.md §4)
hold only inside the meter's *specified operating range*; between it and the *limit range of operation* the meter
must survive but no accuracy requirement is stated, and the storage range is non-operating. Every range here is
from reference/standards.md §7 ("operating ranges (IEC 62052-11)"), status U: unconfirmed, a lab replaces it from
its purchased copy of the standard. The outdoor storage range is not given there, so it is None.

Pure data: imports nothing from the bench (hil.standards boundary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hil.standards.model import Status

IEC_62052_11 = "IEC 62052-11"
_SOURCE = "reference/standards.md §7 (operating ranges, IEC 62052-11)"

EnvironmentClass = Literal["indoor", "outdoor"]


def _temp(value: float) -> str:
    """+45, −10 (typographic minus, as the standards print them)."""
    return f"{value:+g}".replace("-", "−")


@dataclass(frozen=True)
class TemperatureRange:
    """A closed temperature interval [low_c, high_c] with where it comes from."""

    low_c: float
    high_c: float
    standard: str
    clause: str
    status: Status
    note: str = ""

    def __post_init__(self) -> None:
        if self.low_c >= self.high_c:
            raise ValueError(f"temperature range needs low < high, got {self.low_c:g}…{self.high_c:g} °C")

    def contains(self, temperature_c: float) -> bool:
        return self.low_c <= temperature_c <= self.high_c

    def span(self) -> str:
        """"−10…+45 °C"."""
        return f"{_temp(self.low_c)}…{_temp(self.high_c)} °C"

    def label(self) -> str:
        return f"{self.span()} ({self.standard} {self.clause}, {self.status})"


@dataclass(frozen=True)
class OperatingRanges:
    """The temperature ranges of one environment class (indoor / outdoor meter)."""

    environment: EnvironmentClass
    #: accuracy requirements (and limits of variation) apply inside this range
    specified: TemperatureRange
    #: the meter operates without damage; no accuracy requirement
    limit: TemperatureRange
    #: non-operating; None where the reference does not give it
    storage: TemperatureRange | None


def _range(low: float, high: float, what: str) -> TemperatureRange:
    return TemperatureRange(low, high, IEC_62052_11, what, "unconfirmed", _SOURCE)


OPERATING_RANGES: dict[EnvironmentClass, OperatingRanges] = {
    "indoor": OperatingRanges(
        "indoor",
        specified=_range(-10.0, 45.0, "specified operating range, indoor"),
        limit=_range(-25.0, 55.0, "limit range of operation, indoor"),
        storage=_range(-25.0, 70.0, "limit range for storage and transport, indoor"),
    ),
    "outdoor": OperatingRanges(
        "outdoor",
        specified=_range(-25.0, 55.0, "specified operating range, outdoor"),
        limit=_range(-40.0, 70.0, "limit range of operation, outdoor"),
        storage=None,
    ),
}

#: a meter is indoor unless the plan says otherwise (the common case, and the narrower range: a check outside it
#: is left unjudged rather than judged against a limit the standard does not give)
DEFAULT_ENVIRONMENT: EnvironmentClass = "indoor"


def operating_ranges(environment: str = DEFAULT_ENVIRONMENT) -> OperatingRanges:
    """The ranges of an environment class; the error lists the known ones."""
    try:
        return OPERATING_RANGES[environment]  # type: ignore[index]
    except KeyError:
        raise ValueError(f"unknown environment class {environment!r} (known: {', '.join(OPERATING_RANGES)})") from None


__all__ = ["DEFAULT_ENVIRONMENT", "OPERATING_RANGES", "EnvironmentClass", "OperatingRanges", "TemperatureRange",
           "operating_ranges"]
