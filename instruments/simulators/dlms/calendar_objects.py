"""Time-of-use objects of a simulated meter (Blue Book / IEC 62056-6-2 4.5): Activity Calendar (IC 20 v0,
0.0.13.0.0.255), the tariffication Script Table (IC 9 v0, 0.0.10.0.100.255), Special Days Table (IC 11 v0,
0.0.11.0.0.255), the currently active tariff (Data 0.0.96.14.0.255) and the tariff registers 1.0.1.8.3/4.255 beside
1.8.1/1.8.2. The tables live in the meter's time-keeping (:mod:`instruments.simulators.world.tou`), which
evaluates them (:mod:`instruments.simulators.world.calendar`) and drives the tariff register exactly on the
virtual clock.

Activity Calendar: 2-5 the active calendar (name, season_profile, week_profile_table, day_profile_table; read only,
empty until a calendar is activated), 6-9 the passive one (written by the management client), 10
activate_passive_calendar_time (a full date-time, or all fields "not specified" to switch the automatism off);
method 1 activate_passive_calendar. A day action names a script of the tariffication script table and its
selector: script n of 0.0.10.0.100.255 makes tariff n (n = 1…4) the active one, so register 1.0.1.8.n.255
accumulates (1.8.0 always). Special Days Table: 2 entries {index, specialday_date (5-octet date, 0xFFFF / 0xFF
wildcards, day 0xFE last / 0xFD second last), day_id}; method 1 insert (replaces an entry of the same index),
method 2 delete(index). Month 0xFE / 0xFD (DST begin / end month) is refused in dates we evaluate (not modelled).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from instruments.dlms.apdu import DataAccessResult, Selection
from instruments.dlms.axdr import Data, Tag
from instruments.dlms.cosem import CosemDateTime, Obis, ScalerUnit, Unit
from instruments.simulators.dlms.objects import AccessError, Attribute, Caller, CosemObject, Method
from instruments.simulators.world.calendar import (
    Action,
    Calendar,
    DatePattern,
    Season,
    SeasonStart,
    SpecialDay,
    Week,
)
from instruments.simulators.world.dst import LAST, SECOND_LAST
from instruments.simulators.world.tou import MAX_TARIFF, TimeOfUse

if TYPE_CHECKING:
    from instruments.simulators.dlms.meter import MeterCosem

ACTIVITY_CALENDAR = Obis(0, 0, 13, 0, 0, 255)
TARIFF_SCRIPTS = Obis(0, 0, 10, 0, 100, 255)
SPECIAL_DAYS = Obis(0, 0, 11, 0, 0, 255)
#: currently active tariff (IEC 62056-6-1 0-0:96.14.0; U)
ACTIVE_TARIFF = Obis(0, 0, 96, 14, 0, 255)
#: action_specification service_id: 1 write attribute (Blue Book 4.5.2)
_WRITE_ATTRIBUTE = 1
_UNSIGNED = (Tag.UNSIGNED,)
_LONG_UNSIGNED = (Tag.LONG_UNSIGNED,)


def _bad(message: str) -> AccessError:
    return AccessError(DataAccessResult.TYPE_UNMATCHED, message)


def _octets(d: Data, what: str, size: int | None = None) -> bytes:
    if d.tag not in (Tag.OCTET_STRING, Tag.DATE_TIME, Tag.DATE, Tag.TIME):
        raise _bad(f"{what} is an octet-string, got {d.tag.name.lower()}")
    raw = bytes(d.value)
    if size is not None and len(raw) != size:
        raise _bad(f"{what} is {size} octets, got {len(raw)}")
    return raw


def _int(d: Data, tags: tuple[Tag, ...], what: str, low: int, high: int) -> int:
    if d.tag not in tags or not low <= d.value <= high:
        raise _bad(f"{what} is {'/'.join(t.name.lower() for t in tags)} {low}…{high}, got {d.plain()!r}")
    return int(d.value)


def _items(d: Data, n: int | None, what: str) -> tuple[Data, ...]:
    kind = Tag.ARRAY if n is None else Tag.STRUCTURE
    if d.tag is not kind or (n is not None and len(d) != n):
        raise _bad(f"{what} is {'an array' if n is None else f'a structure of {n}'}, got {d.tag.name.lower()}")
    return d.items


# -- encodings of the calendar's parts ------------------------------------------------------------------
def season_of(d: Data) -> Season:
    name, start, week = _items(d, 3, "season")
    try:
        cdt = CosemDateTime.decode(_octets(start, "season_start", 12))
    except ValueError as exc:
        raise _bad(f"season_start: {exc}") from None
    if cdt.month is None or not 1 <= cdt.month <= 12:
        raise _bad(f"season_start needs a month 1…12, got {cdt.month!r}")
    if cdt.day is None or not (1 <= cdt.day <= 31 or cdt.day in (LAST, SECOND_LAST)):
        raise _bad(f"season_start needs a day 1…31, 0xFE or 0xFD, got {cdt.day!r}")
    start_at = SeasonStart(cdt.month, cdt.day, cdt.hour or 0, cdt.minute or 0, cdt.second or 0, cdt.year,
                           cdt.weekday)
    return Season(_octets(name, "season_profile_name"), start_at, _octets(week, "week_name"))


def season_data(s: Season) -> Data:
    st = s.start
    cdt = CosemDateTime(st.year, st.month, st.day, st.weekday, st.hour, st.minute, st.second, 0, None, None)
    return Data.structure([Data.octets(s.name), cdt.to_data(), Data.octets(s.week)])


def week_of(d: Data) -> Week:
    name, *days = _items(d, 8, "week_profile")
    ids = tuple(_int(x, _UNSIGNED, "day_id", 0, 255) for x in days)
    assert len(ids) == 7
    return Week(_octets(name, "week_profile_name"), (ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6]))


def week_data(w: Week) -> Data:
    return Data.structure([Data.octets(w.name), *(Data.uint8(x) for x in w.days)])


def action_of(d: Data) -> Action:
    start, script, selector = _items(d, 3, "day_profile_action")
    h, m, s, hs = _octets(start, "start_time", 4)
    if h > 23 or m > 59:
        raise _bad(f"start_time {h:#04x}:{m:#04x} needs an hour 0…23 and a minute 0…59")
    s, hs = (0 if s == 0xFF else s), (0 if hs == 0xFF else hs)
    if s > 59 or hs > 99:
        raise _bad(f"start_time second {s} / hundredths {hs} out of range")
    ln = Obis.from_bytes(_octets(script, "script_logical_name", 6))
    n = _int(selector, _LONG_UNSIGNED, "script_selector", 0, 0xFFFF)
    if ln != TARIFF_SCRIPTS or not 1 <= n <= MAX_TARIFF:
        raise AccessError(DataAccessResult.OTHER_REASON, f"script {ln} selector {n}: the meter's tariff scripts"
                          f" are {TARIFF_SCRIPTS} 1…{MAX_TARIFF}")
    return Action(h * 3600 + m * 60 + s + hs / 100.0, bytes(ln), n)


def action_data(a: Action) -> Data:
    whole = int(a.start_s)
    hs = round((a.start_s - whole) * 100)
    time = bytes([whole // 3600, whole // 60 % 60, whole % 60, hs])
    return Data.structure([Data.octets(time), Data.octets(a.script), Data.uint16(a.selector)])


def day_of(d: Data) -> tuple[int, tuple[Action, ...]]:
    day_id, schedule = _items(d, 2, "day_profile")
    actions = sorted((action_of(x) for x in _items(schedule, None, "day_schedule")), key=lambda a: a.start_s)
    return _int(day_id, _UNSIGNED, "day_id", 0, 255), tuple(actions)


def day_data(day_id: int, actions: tuple[Action, ...]) -> Data:
    return Data.structure([Data.uint8(day_id), Data.array(action_data(a) for a in actions)])


def date_of(raw: bytes) -> DatePattern:
    """A 5-octet COSEM date: year (0xFFFF any), month (0xFF any), day (0xFF any, 0xFE last, 0xFD second last),
    day of week (0xFF any)."""
    if len(raw) != 5:
        raise _bad(f"a date is 5 octets, got {len(raw)}")
    year, month, day, weekday = int.from_bytes(raw[:2], "big"), raw[2], raw[3], raw[4]
    if month != 0xFF and not 1 <= month <= 12:
        raise _bad(f"month {month:#04x}: 1…12 or 0xFF (0xFE / 0xFD, the DST months, are not evaluated)")
    if day != 0xFF and not (1 <= day <= 31 or day in (LAST, SECOND_LAST)):
        raise _bad(f"day {day:#04x}: 1…31, 0xFE, 0xFD or 0xFF")
    if weekday != 0xFF and not 1 <= weekday <= 7:
        raise _bad(f"day of week {weekday:#04x}: 1…7 or 0xFF")
    return DatePattern(None if year == 0xFFFF else year, None if month == 0xFF else month,
                       None if day == 0xFF else day, None if weekday == 0xFF else weekday)


def date_data(p: DatePattern) -> bytes:
    return ((0xFFFF if p.year is None else p.year).to_bytes(2, "big")
            + bytes(0xFF if v is None else v for v in (p.month, p.day, p.weekday)))


def special_of(d: Data) -> SpecialDay:
    index, date, day_id = _items(d, 3, "spec_day_entry")
    return SpecialDay(_int(index, _LONG_UNSIGNED, "index", 0, 0xFFFF), date_of(_octets(date, "specialday_date", 5)),
                      _int(day_id, _UNSIGNED, "day_id", 0, 255))


def special_data(s: SpecialDay) -> Data:
    return Data.structure([Data.uint16(s.index), Data.octets(date_data(s.date)), Data.uint8(s.day_id)])


# -- the objects ---------------------------------------------------------------------------------------
def _get(read: Callable[[], Data]) -> Callable[[Caller, Selection | None], Data]:
    return lambda _c, _s: read()


def activity_calendar(tou: TimeOfUse) -> CosemObject:
    def active() -> Calendar:
        return tou.active if tou.active is not None else Calendar()

    def tables(cal: Callable[[], Calendar]) -> dict[int, Attribute]:
        return {
            0: Attribute(get=_get(lambda: Data.octets(cal().name))),
            1: Attribute(get=_get(lambda: Data.array(season_data(s) for s in cal().seasons))),
            2: Attribute(get=_get(lambda: Data.array(week_data(w) for w in cal().weeks))),
            3: Attribute(get=_get(lambda: Data.array(day_data(i, a) for i, a in sorted(cal().days.items())))),
        }

    def write(build: Callable[[Calendar, Data], Calendar]) -> Callable[[Caller, Data], None]:
        def set_(_c: Caller, v: Data) -> None:
            try:
                tou.set_passive(build(tou.passive, v))
            except ValueError as exc:
                raise _bad(str(exc)) from None
        return set_

    def set_activation(_c: Caller, v: Data) -> None:
        raw = _octets(v, "activate_passive_calendar_time", 12)
        cdt = CosemDateTime.decode(raw)
        fields = (cdt.year, cdt.month, cdt.day, cdt.hour, cdt.minute, cdt.second)
        if all(f is None for f in fields):
            tou.set_activation(None, raw)
            return
        if any(f is None for f in fields):
            raise _bad("activate_passive_calendar_time: all fields given, or none (Blue Book: no partial wildcards)")
        assert cdt.year is not None and cdt.month is not None and cdt.day is not None
        assert cdt.hour is not None and cdt.minute is not None and cdt.second is not None
        try:
            local = dt.datetime(cdt.year, cdt.month, cdt.day, cdt.hour, cdt.minute, cdt.second)
        except ValueError as exc:
            raise _bad(f"activate_passive_calendar_time: {exc}") from None
        tou.set_activation(tou.to_posix(local, cdt.deviation), raw)

    def activate(_c: Caller, _v: Data | None) -> None:
        tou.activate()

    attrs: dict[int, Attribute] = {}
    for offset, attr in tables(active).items():
        attrs[2 + offset] = attr
    passive = tables(lambda: tou.passive)
    setters = [
        write(lambda c, v: replace(c, name=_octets(v, "calendar_name_passive"))),
        write(lambda c, v: replace(c, seasons=tuple(season_of(x) for x in _items(v, None, "season_profile_passive")))),
        write(lambda c, v: replace(c, weeks=tuple(week_of(x) for x in _items(v, None, "week_profile_table_passive")))),
        write(lambda c, v: replace(c, days=dict(day_of(x) for x in _items(v, None, "day_profile_table_passive")))),
    ]
    for offset, attr in passive.items():
        attrs[6 + offset] = Attribute(get=attr.get, set=setters[offset])
    attrs[10] = Attribute(get=_get(lambda: Data.octets(tou.activation_octets)), set=set_activation)
    return CosemObject(20, 0, ACTIVITY_CALENDAR, attrs, {1: Method(activate)})


def script_table(tou: TimeOfUse) -> CosemObject:
    """Scripts 1…4: script n writes n into the currently active tariff (our model of a tariffication table, U)."""
    def script(n: int) -> Data:
        write = Data.structure([Data.enum(_WRITE_ATTRIBUTE), Data.uint16(1), Data.octets(bytes(ACTIVE_TARIFF)),
                                Data.int8(2), Data.uint8(n)])
        return Data.structure([Data.uint16(n), Data.array([write])])

    def execute(_c: Caller, v: Data | None) -> None:
        if v is None or v.tag is not Tag.LONG_UNSIGNED:
            raise _bad("execute takes a script_identifier (long-unsigned)")
        if not 1 <= v.value <= MAX_TARIFF:
            raise AccessError(DataAccessResult.OTHER_REASON, f"no script {v.value} (scripts 1…{MAX_TARIFF})")
        tou.run_script(int(v.value))

    scripts = Data.array(script(n) for n in range(1, MAX_TARIFF + 1))
    return CosemObject(9, 0, TARIFF_SCRIPTS, {2: Attribute(get=_get(lambda: scripts))}, {1: Method(execute)})


def special_days(tou: TimeOfUse) -> CosemObject:
    def insert(_c: Caller, v: Data | None) -> None:
        if v is None:
            raise _bad("insert takes a spec_day_entry")
        entry = special_of(v)
        tou.set_special_days({**tou.special, entry.index: entry})

    def delete(_c: Caller, v: Data | None) -> None:
        if v is None:
            raise _bad("delete takes an index (long-unsigned)")
        index = _int(v, _LONG_UNSIGNED, "index", 0, 0xFFFF)
        tou.set_special_days({i: s for i, s in tou.special.items() if i != index})

    entries = _get(lambda: Data.array(special_data(tou.special[i]) for i in sorted(tou.special)))
    return CosemObject(11, 0, SPECIAL_DAYS, {2: Attribute(get=entries)}, {1: Method(insert), 2: Method(delete)})


def objects(cosem: MeterCosem) -> list[CosemObject]:
    """The time-of-use objects of ``cosem``'s meter and its tariff registers 3 and 4."""
    from instruments.simulators.dlms.meter import _data, register_wh
    from instruments.simulators.dlms.objects import register

    meter = cosem.meter
    tou = meter.tou
    wh = ScalerUnit(0, Unit.WATT_HOUR)

    def energy(n: int) -> Callable[[], Data]:
        return lambda: Data.uint32(register_wh(meter.registers.get(f"1.8.{n}", 0.0)))

    out = [activity_calendar(tou), script_table(tou), special_days(tou),
           _data(ACTIVE_TARIFF, lambda: Data.uint8(int(tou.meter.tariff)))]
    out += [register(Obis(1, 0, 1, 8, n), energy(n), wh) for n in range(3, MAX_TARIFF + 1)]
    return out
