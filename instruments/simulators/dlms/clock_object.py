"""Clock IC 8 version 0 (IEC 62056-6-2 4.5.1, Blue Book) of a simulated meter, over its crystal clock
(``Meter.set_clock``) and its time-keeping (:mod:`instruments.simulators.world.tou`: time zone and DST).

Attributes: 2 time (local time with deviation = UTC − local, DST included, and status bit 0x80 while DST is in
force; a written time with a deviation is converted to UTC, one without is taken in the local time in force),
3 time_zone (long, −720…720), 4 status, 5 daylight_savings_begin / 6 _end (date-time patterns: month 1…12, day
1…31 / 0xFE last / 0xFD second last, day of week or 0xFF, time of day; year 0xFFFF every year), 7
daylight_savings_deviation (integer, −120…120 min), 8 daylight_savings_enabled (boolean), 9 clock_base; 3 to 8
are written by the management client. Methods: 1 adjust_to_quarter, 3 adjust_to_minute, 4 adjust_to_preset_time,
5 preset_adjusting_time {preset_time, validity_interval_start, validity_interval_end}, 6 shift_time (±900 s).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from instruments.dlms.apdu import DataAccessResult
from instruments.dlms.axdr import Data, Tag
from instruments.dlms.cosem import CosemDateTime, Obis
from instruments.simulators.dlms.objects import AccessError, Attribute, Caller, CosemObject, Method
from instruments.simulators.world.dst import SwitchRule

if TYPE_CHECKING:
    from instruments.simulators.dlms.meter import MeterCosem

CLOCK = Obis(0, 0, 1, 0, 0, 255)
#: clock_base: internal crystal (Blue Book 4.5.1)
CLOCK_BASE_CRYSTAL = 1


def _bad(message: str) -> AccessError:
    return AccessError(DataAccessResult.TYPE_UNMATCHED, message)


def rule_data(rule: SwitchRule) -> Data:
    """A DST switch rule as the date-time pattern attributes 5 and 6 hold."""
    return CosemDateTime(rule.year, rule.month, rule.day, rule.weekday, rule.hour, rule.minute, rule.second, 0,
                         None, None).to_data()


def rule_of(v: Data, what: str) -> SwitchRule:
    """A written daylight_savings_begin / _end: a date-time pattern naming one instant a year (or of one year)."""
    try:
        cdt = CosemDateTime.from_data(v)
    except ValueError as exc:
        raise _bad(f"{what}: {exc}") from None
    if cdt.month is None or not 1 <= cdt.month <= 12:
        raise _bad(f"{what}: the month must be given (1…12), got {cdt.month!r}")
    if cdt.hour is None or cdt.minute is None:
        raise _bad(f"{what}: the switch needs an hour and a minute")
    try:
        return SwitchRule(cdt.month, cdt.day, cdt.weekday, cdt.hour, cdt.minute, cdt.second or 0, cdt.year)
    except ValueError as exc:
        raise _bad(f"{what}: {exc}") from None


def clock(cosem: MeterCosem) -> CosemObject:
    meter, tou = cosem.meter, cosem.meter.tou
    preset: dict[str, float] = {}

    def set_tz(_c: Caller, v: Data) -> None:
        if v.tag is not Tag.LONG or not -720 <= v.value <= 720:
            raise _bad("time_zone is a long of −720 … 720 minutes")
        tou.set_time_zone(int(v.value))

    def set_begin(_c: Caller, v: Data) -> None:
        tou.configure(begin=rule_of(v, "daylight_savings_begin"))

    def set_end(_c: Caller, v: Data) -> None:
        tou.configure(end=rule_of(v, "daylight_savings_end"))

    def set_deviation(_c: Caller, v: Data) -> None:
        if v.tag is not Tag.INTEGER or not -120 <= v.value <= 120:
            raise _bad("daylight_savings_deviation is an integer of −120 … 120 minutes")
        tou.configure(deviation_min=int(v.value))

    def set_enabled(_c: Caller, v: Data) -> None:
        if v.tag is not Tag.BOOLEAN:
            raise _bad("daylight_savings_enabled is a boolean")
        tou.configure(enabled=bool(v.value))

    def shift(_c: Caller, v: Data | None) -> None:
        if v is None or v.tag is not Tag.LONG or not -900 <= v.value <= 900:
            raise _bad("shift_time takes a long of −900 … 900 s")
        meter.set_clock(meter.clock_datetime() + dt.timedelta(seconds=int(v.value)))

    def adjust(unit_s: int) -> Callable[[Caller, Data | None], None]:
        def call(_c: Caller, _v: Data | None) -> None:
            now = meter.clock_datetime()
            posix = now.timestamp()
            rounded = math.floor(posix / unit_s + 0.5) * unit_s
            meter.set_clock(dt.datetime.fromtimestamp(rounded, dt.UTC))
        return call

    def instant(v: Data, what: str) -> float:
        try:
            cdt = CosemDateTime.from_data(v)
            fields = (cdt.year, cdt.month, cdt.day, cdt.hour, cdt.minute, cdt.second)
            if any(f is None for f in fields):
                raise ValueError("date and time must be given in full")
            assert cdt.year is not None and cdt.month is not None and cdt.day is not None
            assert cdt.hour is not None and cdt.minute is not None and cdt.second is not None
            local = dt.datetime(cdt.year, cdt.month, cdt.day, cdt.hour, cdt.minute, cdt.second,
                                (cdt.hundredths or 0) * 10_000)
        except (ValueError, TypeError) as exc:
            raise _bad(f"{what}: {exc}") from None
        return tou.to_posix(local, cdt.deviation)

    def preset_time(_c: Caller, v: Data | None) -> None:
        try:
            p, start, end = (v.items if v is not None else ())
        except (TypeError, ValueError):
            raise _bad("preset_adjusting_time takes {preset_time, validity_interval_start, "
                       "validity_interval_end}") from None
        preset.update(time=instant(p, "preset_time"), start=instant(start, "validity_interval_start"),
                      end=instant(end, "validity_interval_end"))

    def adjust_to_preset(_c: Caller, _v: Data | None) -> None:
        if not preset:
            raise AccessError(DataAccessResult.OTHER_REASON, "no preset time (preset_adjusting_time first)")
        if preset["start"] <= meter.clock_datetime().timestamp() <= preset["end"]:
            meter.set_clock(dt.datetime.fromtimestamp(preset["time"], dt.UTC))

    return CosemObject(8, 0, CLOCK, {
        2: Attribute(get=lambda _c, _s: cosem.now_data(), set=lambda _c, v: cosem._set_time(v)),
        3: Attribute(get=lambda _c, _s: Data.int16(tou.time_zone_min), set=set_tz),
        4: Attribute(get=lambda _c, _s: Data.uint8(tou.clock_status(meter.clock_datetime().timestamp()))),
        5: Attribute(get=lambda _c, _s: rule_data(tou.settings.begin), set=set_begin),
        6: Attribute(get=lambda _c, _s: rule_data(tou.settings.end), set=set_end),
        7: Attribute(get=lambda _c, _s: Data.int8(tou.settings.deviation_min), set=set_deviation),
        8: Attribute(get=lambda _c, _s: Data.boolean(tou.settings.enabled), set=set_enabled),
        9: Attribute(get=lambda _c, _s: Data.enum(CLOCK_BASE_CRYSTAL)),
    }, {
        1: Method(adjust(900)),
        3: Method(adjust(60)),
        4: Method(adjust_to_preset),
        5: Method(preset_time),
        6: Method(shift),
    })
