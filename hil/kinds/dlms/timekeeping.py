"""A meter's time zone and DST rule as a plan writes them, worked out on the bench's side, and their Clock (IC 8)
attributes over DLMS; shared by the ``tou`` and ``clock_dst`` kinds.

Conventions (IEC 62056-6-2 4.5.1 as ``instruments.dlms.cosem`` uses them): ``time_zone_min`` = UTC − local normal
time in minutes (−60 for CET); the deviation a date-time carries = UTC − local (−60 CET, −120 CEST with a DST
deviation of +60). A DST switch is given in the local time in force just before it: the begin pattern read in
normal time, the end pattern read in DST (last Sunday of March 02:00 → last Sunday of October 03:00 gives 01:00 UTC
both times for CET, Directive 2000/84/EC).

Patterns (Blue Book 4.1.6.1 date-time formats): ``day`` 1…31, ``last`` (0xFE) or ``second_last`` (0xFD); with a
``weekday`` (1 Monday … 7 Sunday) ``last`` / ``second_last`` are the last / second-last such weekday of the month, a
day 1…31 the first such weekday on or after it (day 8 + Sunday: the second Sunday), no day the first such weekday.
The weekday readings are U (the Blue Book's DST example and common use, not its normative text).

Everything here is the bench's own arithmetic from the plan: no instant a meter says is used to work out another.
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from instruments.dlms.axdr import Data
from instruments.dlms.cosem import STATUS_DST, CosemDateTime, Obis

CLOCK = Obis(0, 0, 1, 0, 0, 255)
LAST, SECOND_LAST = 0xFE, 0xFD
WEEKDAYS = {"monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6, "sunday": 7}
_MONTHS = ("", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def parse_time(value: Any, what: str = "time") -> tuple[int, int, int]:
    """``HH:MM`` or ``HH:MM:SS`` → (h, m, s). YAML reads an unquoted 06:00 as the number 360: refused by name."""
    if not isinstance(value, str):
        raise ValueError(f"{what} {value!r} must be a quoted string \"HH:MM\" or \"HH:MM:SS\" (YAML reads an unquoted"
                         " 06:00 as the number 360)")
    m = _TIME.fullmatch(value.strip())
    if m is None:
        raise ValueError(f"{what} {value!r} must be HH:MM or HH:MM:SS (00:00 … 23:59:59)")
    return int(m[1]), int(m[2]), int(m[3] or 0)


def resolve_date(year: int, month: int, day: int | None, weekday: int | None) -> dt.date | None:
    """The date a (month, day, weekday) pattern names in ``year`` (module doc); None when it names none."""
    days = _calendar.monthrange(year, month)[1]
    if weekday is None:
        if day is None:
            return None
        if day in (LAST, SECOND_LAST):
            return dt.date(year, month, days - (1 if day == SECOND_LAST else 0))
        return dt.date(year, month, day) if day <= days else None
    if day in (LAST, SECOND_LAST):
        last = dt.date(year, month, days)
        last -= dt.timedelta(days=(last.isoweekday() - weekday) % 7)
        found = last - dt.timedelta(weeks=1 if day == SECOND_LAST else 0)
        return found if found.month == month else None
    start = 1 if day is None else day
    if start > days:
        return None
    first = dt.date(year, month, start)
    found = first + dt.timedelta(days=(weekday - first.isoweekday()) % 7)
    return found if found.month == month else None


class SwitchPattern(Model):
    """daylight_savings_begin / _end as a plan writes it: ``{month: 3, day: last, weekday: sunday, time: "02:00"}``
    (every year)."""

    month: int = Field(ge=1, le=12)
    day: int | Literal["last", "second_last"] | None = None
    weekday: int | str | None = None
    time: str = "02:00"

    @field_validator("day")
    @classmethod
    def _day(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, int) and not 1 <= v <= 31:
            raise ValueError(f"day {v} must be 1 … 31, last or second_last")
        return v

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, v: int | str | None) -> int | None:
        if v is None:
            return None
        if isinstance(v, str):
            if v.lower() not in WEEKDAYS:
                raise ValueError(f"weekday {v!r}: 1 (Monday) … 7 (Sunday) or a name ({', '.join(WEEKDAYS)})")
            return WEEKDAYS[v.lower()]
        if not 1 <= v <= 7:
            raise ValueError(f"weekday {v} must be 1 (Monday) … 7 (Sunday)")
        return v

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, v: Any) -> str:
        parse_time(v)
        return str(v)

    @model_validator(mode="after")
    def _names_a_day(self) -> SwitchPattern:
        if self.day is None and self.weekday is None:
            raise ValueError("a DST switch needs a day of month or a weekday")
        return self

    @property
    def day_code(self) -> int | None:
        if self.day == "last":
            return LAST
        if self.day == "second_last":
            return SECOND_LAST
        return self.day

    def local_in(self, year: int) -> dt.datetime | None:
        """The local switch instant in ``year`` (naive), or None."""
        day = resolve_date(year, self.month, self.day_code, self.weekday if isinstance(self.weekday, int) else None)
        if day is None:
            return None
        h, m, s = parse_time(self.time)
        return dt.datetime(day.year, day.month, day.day, h, m, s)

    def cosem(self) -> CosemDateTime:
        """The date-time pattern attributes 5 / 6 hold: year, deviation and status not specified."""
        h, m, s = parse_time(self.time)
        wd = self.weekday if isinstance(self.weekday, int) else None
        return CosemDateTime(None, self.month, self.day_code, wd, h, m, s, 0, None, None)

    def text(self) -> str:
        wd = next((k.capitalize() for k, n in WEEKDAYS.items() if n == self.weekday), None)
        day = {"last": "last", "second_last": "second-last"}.get(str(self.day), str(self.day))
        if wd is not None and self.day is None:
            what = f"first {wd} of {_MONTHS[self.month]}"
        elif wd is not None and isinstance(self.day, int):
            what = f"first {wd} on or after {_MONTHS[self.month]} {self.day}"
        elif wd is not None:
            what = f"{day} {wd} of {_MONTHS[self.month]}"
        else:
            what = f"{_MONTHS[self.month]} {self.day}" if isinstance(self.day, int) else f"{day} day of " \
                f"{_MONTHS[self.month]}"
        return f"{what} {self.time}"


class DstRule(Model):
    """The Clock's DST attributes 5–8: begin and end (local time in force before each), deviation, enabled."""

    enabled: bool = True
    deviation_min: int = Field(60, ge=-120, le=120)
    begin: SwitchPattern = Field(default_factory=lambda: SwitchPattern(month=3, day="last", weekday=7,
                                                                       time="02:00"))
    end: SwitchPattern = Field(default_factory=lambda: SwitchPattern(month=10, day="last", weekday=7,
                                                                     time="03:00"))


@dataclass(frozen=True)
class Zone:
    """A meter's time zone and DST rule (None: DST disabled), as the bench works them out."""

    time_zone_min: int
    rule: DstRule | None

    @property
    def dst(self) -> bool:
        return self.rule is not None and self.rule.enabled

    @property
    def normal_deviation(self) -> int:
        return self.time_zone_min

    @property
    def dst_deviation(self) -> int:
        return self.time_zone_min - (self.rule.deviation_min if self.rule is not None else 0)

    def transitions(self, year: int) -> list[tuple[dt.datetime, bool]]:
        """The switches whose local date lies in ``year``: (UTC, DST in force after it), in time order."""
        if self.rule is None or not self.rule.enabled:
            return []
        out = []
        begin, end = self.rule.begin.local_in(year), self.rule.end.local_in(year)
        if begin is not None:
            out.append(((begin + dt.timedelta(minutes=self.normal_deviation)).replace(tzinfo=dt.UTC), True))
        if end is not None:
            out.append(((end + dt.timedelta(minutes=self.dst_deviation)).replace(tzinfo=dt.UTC), False))
        return sorted(out)

    def begin_end(self, year: int) -> tuple[dt.datetime | None, dt.datetime | None]:
        found = dict((on, t) for t, on in self.transitions(year))
        return found.get(True), found.get(False)

    def in_dst(self, utc: dt.datetime) -> bool:
        """DST in force at ``utc`` (a switch instant belongs to the time after it)."""
        past = [t for y in (utc.year - 1, utc.year, utc.year + 1) for t in self.transitions(y) if t[0] <= utc]
        return max(past)[1] if past else False

    def deviation(self, utc: dt.datetime) -> int:
        return self.dst_deviation if self.in_dst(utc) else self.normal_deviation

    def local(self, utc: dt.datetime) -> dt.datetime:
        """``utc`` as the meter's local time (aware, its offset = −deviation)."""
        return utc.astimezone(dt.timezone(dt.timedelta(minutes=-self.deviation(utc))))

    def utc_of_local(self, local: dt.datetime) -> dt.datetime:
        """A naive local wall time as its UTC instant; ValueError for a time DST skips or repeats."""
        found = []
        for dev in {self.normal_deviation, self.dst_deviation}:
            utc = (local + dt.timedelta(minutes=dev)).replace(tzinfo=dt.UTC)
            if self.deviation(utc) == dev:
                found.append(utc)
        if len(found) != 1:
            why = "DST skips it" if not found else "DST repeats it (it names two instants)"
            raise ValueError(f"local time {local:%Y-%m-%d %H:%M:%S} is not one instant: {why}")
        return found[0]


# -- over DLMS ------------------------------------------------------------------------------------------------
def write_zone(port: Any, zone: Zone) -> None:
    """time_zone (3), and the DST rule (5 begin, 6 end, 7 deviation, 8 enabled) or DST disabled (8)."""
    port.set(8, CLOCK, 3, Data.int16(zone.time_zone_min))
    rule = zone.rule
    if rule is None:
        port.set(8, CLOCK, 8, Data.boolean(False))
        return
    port.set(8, CLOCK, 5, rule.begin.cosem().to_data())
    port.set(8, CLOCK, 6, rule.end.cosem().to_data())
    port.set(8, CLOCK, 7, Data.int8(rule.deviation_min))
    port.set(8, CLOCK, 8, Data.boolean(rule.enabled))


def zone_differences(port: Any, zone: Zone) -> list[str]:
    """What the meter's Clock attributes 3, 5–8 read back unlike ``zone`` (empty: as written)."""
    out = []
    tz = int(port.get(8, CLOCK, 3).value)
    if tz != zone.time_zone_min:
        out.append(f"time_zone {tz} (written {zone.time_zone_min})")
    enabled = bool(port.get(8, CLOCK, 8).value)
    if enabled != zone.dst:
        out.append(f"daylight_savings_enabled {enabled} (written {zone.dst})")
    rule = zone.rule
    if rule is not None:
        for attr, pattern in ((5, rule.begin), (6, rule.end)):
            got = CosemDateTime.from_data(port.get(8, CLOCK, attr))
            want = pattern.cosem()
            if _pattern_key(got) != _pattern_key(want):
                name = "daylight_savings_begin" if attr == 5 else "daylight_savings_end"
                out.append(f"{name} {got.encode().hex()} (written {want.encode().hex()})")
        dev = int(port.get(8, CLOCK, 7).value)
        if dev != rule.deviation_min:
            out.append(f"daylight_savings_deviation {dev} (written {rule.deviation_min})")
    return out


def _pattern_key(c: CosemDateTime) -> tuple[Any, ...]:
    return c.year, c.month, c.day, c.weekday, c.hour, c.minute, c.second or 0


@dataclass(frozen=True)
class ClockValue:
    """One reading of Clock attribute 2: local time (naive) with its deviation and status, and the UTC it names."""

    local: dt.datetime
    deviation: int
    status: int

    @property
    def utc(self) -> dt.datetime:
        return (self.local + dt.timedelta(minutes=self.deviation)).replace(tzinfo=dt.UTC)

    @property
    def dst_flag(self) -> bool:
        return bool(self.status & STATUS_DST)

    def text(self) -> str:
        return (f"{self.local:%Y-%m-%d %H:%M:%S} deviation {self.deviation} min, status {self.status:#04x}"
                f" (DST bit {'set' if self.dst_flag else 'clear'})")


def read_clock(port: Any) -> ClockValue:
    """Clock attribute 2 decoded; ValueError for a date-time that is not one instant."""
    c = CosemDateTime.from_data(port.get(8, CLOCK, 2))
    when = c.to_datetime()
    assert c.deviation is not None
    return ClockValue(when.replace(tzinfo=None), c.deviation, c.status or 0)


def set_clock_local(port: Any, zone: Zone, utc: dt.datetime) -> None:
    """The clock set to ``utc``, written as the local time with the deviation the rule gives then (as a head-end
    writes it)."""
    port.set_clock(zone.local(utc))


def utc_text(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
