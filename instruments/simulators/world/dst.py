"""Daylight saving time of a meter's clock from its Clock rule (IEC 62056-6-2 4.5.1, Blue Book Clock IC 8:
time_zone, daylight_savings_begin / _end / _deviation / _enabled). Pure: no clock, no bench.

Conventions (as ``instruments.dlms.cosem`` uses them): ``time_zone_min`` is UTC − local normal time in minutes
(−60 for CET); the deviation of a date-time is UTC − local, so −60 in CET and −120 in CEST with a DST deviation of
+60. A switch instant is given in the local time in force just before it: DST begins at the begin rule read in
normal time, it ends at the end rule read in DST (last Sunday of March 02:00 → 03:00, last Sunday of October 03:00
→ 02:00 give 01:00 UTC both times for CET).

Date patterns (Blue Book 4.1.6.1 "Date and time formats"): a day of month 1…31, ``LAST`` (0xFE) the last,
``SECOND_LAST`` (0xFD) the second-last day; with a day of week (1 Monday … 7 Sunday) ``LAST`` means the last such
weekday of the month and ``SECOND_LAST`` the second-last one; a day of month 1…31 with a day of week means the
first such weekday on or after that day, and no day of month with a day of week the first such weekday of the month
(the weekday readings are U: from the Blue Book's DST examples and common practice, not from its normative text).
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
import math
from dataclasses import dataclass

LAST = 0xFE
SECOND_LAST = 0xFD
_EPOCH = dt.datetime(1970, 1, 1)


def resolve_date(year: int, month: int, day: int | None, weekday: int | None, wrong: bool = False) -> dt.date | None:
    """The date a (month, day, weekday) pattern names in ``year``; None when it names none (31 April).

    ``wrong``: the firmware fault ``dst_rule_wrong`` — an off-by-one when counting occurrences from the end of the
    month, so "last Sunday" becomes the second-last one (one week early) and "second-last" the third-last."""
    days_in_month = _calendar.monthrange(year, month)[1]
    if weekday is None:
        if day is None:
            return None
        if day in (LAST, SECOND_LAST):
            return dt.date(year, month, days_in_month - (1 if day == SECOND_LAST else 0) - (1 if wrong else 0))
        return dt.date(year, month, day) if 1 <= day <= days_in_month else None
    if day in (LAST, SECOND_LAST):
        back = (1 if day == SECOND_LAST else 0) + (1 if wrong else 0)
        last = dt.date(year, month, days_in_month)
        last -= dt.timedelta(days=(last.isoweekday() - weekday) % 7)
        found = last - dt.timedelta(weeks=back)
        return found if found.month == month else None
    first = dt.date(year, month, 1 if day is None else day) if day is None or day <= days_in_month else None
    if first is None:
        return None
    found = first + dt.timedelta(days=(weekday - first.isoweekday()) % 7)
    return found if found.month == month else None


@dataclass(frozen=True)
class SwitchRule:
    """daylight_savings_begin or _end: a local date-time pattern (``year`` None: every year)."""

    month: int
    day: int | None
    weekday: int | None
    hour: int
    minute: int = 0
    second: int = 0
    year: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"a DST switch needs a month 1…12, got {self.month}")
        if self.day is None and self.weekday is None:
            raise ValueError("a DST switch needs a day of month or a day of week")
        if self.day is not None and not (1 <= self.day <= 31 or self.day in (LAST, SECOND_LAST)):
            raise ValueError(f"day of month {self.day} is neither 1…31 nor 0xFE (last) / 0xFD (second last)")
        if self.weekday is not None and not 1 <= self.weekday <= 7:
            raise ValueError(f"day of week {self.weekday} is not 1 (Monday) … 7 (Sunday)")
        if not (0 <= self.hour <= 23 and 0 <= self.minute <= 59 and 0 <= self.second <= 59):
            raise ValueError(f"switch time {self.hour}:{self.minute}:{self.second} is not a time of day")

    def local(self, year: int, wrong: bool = False) -> dt.datetime | None:
        """The local switch instant in ``year`` (naive), or None."""
        if self.year is not None and self.year != year:
            return None
        day = resolve_date(year, self.month, self.day, self.weekday, wrong)
        if day is None:
            return None
        return dt.datetime(day.year, day.month, day.day, self.hour, self.minute, self.second)


#: the EU rule (Directive 2000/84/EC): last Sunday of March 01:00 UTC to last Sunday of October 01:00 UTC, given
#: for CET in its local times
EU_BEGIN = SwitchRule(3, LAST, 7, 2)
EU_END = SwitchRule(10, LAST, 7, 3)


@dataclass(frozen=True)
class DstSettings:
    time_zone_min: int = 0
    enabled: bool = False
    deviation_min: int = 60
    begin: SwitchRule = EU_BEGIN
    end: SwitchRule = EU_END
    #: the firmware fault ``dst_rule_wrong`` (see :func:`resolve_date`)
    wrong_rule: bool = False


def posix_of(local: dt.datetime, deviation_min: int) -> float:
    """UTC POSIX seconds of a naive local time with its deviation (UTC − local, minutes)."""
    return (local - _EPOCH).total_seconds() + 60.0 * deviation_min


def local_of(posix: float, deviation_min: int) -> dt.datetime:
    """Naive local time of a UTC POSIX instant."""
    return _EPOCH + dt.timedelta(seconds=posix - 60.0 * deviation_min)


def transitions(s: DstSettings, year: int) -> list[tuple[float, bool]]:
    """The switches whose local date lies in ``year``: (UTC POSIX, DST on after it), in time order."""
    out: list[tuple[float, bool]] = []
    begin = s.begin.local(year, s.wrong_rule)
    if begin is not None:
        out.append((posix_of(begin, s.time_zone_min), True))
    end = s.end.local(year, s.wrong_rule)
    if end is not None:
        out.append((posix_of(end, s.time_zone_min - s.deviation_min), False))
    return sorted(out)


def _around(s: DstSettings, posix: float) -> list[tuple[float, bool]]:
    year = local_of(posix, s.time_zone_min).year
    return [t for y in (year - 1, year, year + 1) for t in transitions(s, y)]


def active(s: DstSettings, posix: float) -> bool:
    """DST in force at ``posix`` (a switch instant belongs to the time after it)."""
    if not s.enabled:
        return False
    past = [t for t in _around(s, posix) if t[0] <= posix]
    return max(past)[1] if past else False


def deviation(s: DstSettings, posix: float) -> int:
    """The deviation a date-time carries at ``posix``: UTC − local in minutes, DST included."""
    return s.time_zone_min - (s.deviation_min if active(s, posix) else 0)


def next_transition(s: DstSettings, posix: float) -> float:
    """The first switch strictly after ``posix`` (inf: DST disabled or no switch within two years)."""
    if not s.enabled:
        return math.inf
    later = [t for t, _ in _around(s, posix) if t > posix]
    year = local_of(posix, s.time_zone_min).year
    later += [t for t, _ in transitions(s, year + 2) if t > posix]
    return min(later, default=math.inf)
