"""The time-of-use test: an activity calendar written over DLMS, then energy applied across its switch points.

Procedure (every position at once):

1. **Calendar written and activated** (Un, no current): the time zone and DST rule of the plan written to the Clock
   (IC 8 attributes 3, 5–8), the special days table emptied and the plan's special days inserted (IC 11 methods 2
   and 1), the calendar written as the passive one (IC 20 attributes 6–9) and activated (method 1
   activate_passive_calendar); the active calendar (attributes 2–5), the special days and the clock attributes
   read back against what was written; the clock set to the bench's reference time and read back.
2. **One step per switch point** of the plan (a local time of the meter at which its calendar changes tariff — a
   weekday switch, the first switch of a season, a special day …): under a steady load (``current``, settled), each
   meter's clock is set ``lead_s`` before the switch (its local time with the deviation the plan's zone gives then),
   the reference integrates energy, and the tariff registers (1.0.1.8.n.255, with 1.0.1.8.0.255, in one GET with
   list) are read timed four times: at once (R0), ``split_s`` before the switch (Ra), ``split_s`` after it (Rb) and
   ``after_s`` after it (R1). The meters' clocks are set back to the reference time at the end, on every exit path.

Judged per meter and switch point, against the bench (the calendar as the plan gives it, worked out here; the bench
clock; the reference energy) — in this order:

- no other tariff register advanced in the whole window (R0–R1);
- the new tariff's register did not advance before the switch (R0–Ra) and the old one did;
- the old tariff's register did not advance after the switch (Rb–R1) and the new one did;
- the total 1.0.1.8.0.255 advanced by the sum of the tariff registers (within one register step per register: each
  truncates on its own);
- the energy of 1.8.0 across the window (R0–R1) against the reference energy of the same time (the reference's
  integrated energy over its integration time × the meter's window: the load is steady), within the class limit at
  the test current (the standards library) plus one register step;
- the switch instant from the register split across Ra–Rb (the old register's share of the energy at the meters'
  own rate, as the ``tariff`` kind does it) against the instant the meter's clock reaches the calendar's switch
  (the bench time of the clock set + ``lead_s``), within ``max_switch_error_s``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from hil.core import Measurement, PlanSection, PointSpec, PositionOutcome, RunContext, Step
from hil.kinds.dlms.timekeeping import (
    DstRule,
    Model,
    Zone,
    parse_time,
    read_clock,
    set_clock_local,
    utc_text,
    write_zone,
    zone_differences,
)
from hil.measure.accuracy import runner_of
from hil.measure.meter_ports import dlms_port, resolve_load, set_clocks_back
from hil.standards import MeterRating, StandardsLibrary
from instruments.drivers.errors import BenchFault

_DATE = re.compile(r"^(?:(\d{4})-)?(\d{2})-(\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2})?))?$")
_AT = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)$")
#: 1 µs: "just before" an instant of the calendar (actions start on whole hundredths at the finest)
_EPS = dt.timedelta(microseconds=1)


def _obis(value: str) -> str:
    from instruments.dlms.cosem import Obis

    return str(Obis.parse(value))


def _name(value: str, what: str) -> str:
    if not value or not value.isascii() or len(value) > 32:
        raise ValueError(f"{what} {value!r} must be 1 … 32 ASCII characters (an octet-string on the wire)")
    return value


def _date_parts(value: Any, what: str, with_time: bool) -> tuple[int | None, int, int, tuple[int, int, int]]:
    """``YYYY-MM-DD`` or ``MM-DD`` (every year), with ``HH:MM[:SS]`` after it where ``with_time``; a YAML date."""
    if isinstance(value, dt.datetime):
        raise ValueError(f"{what} {value!r}: give the date (and time) as text, e.g. \"04-01\" or \"2026-04-01\"")
    if isinstance(value, dt.date):
        return value.year, value.month, value.day, (0, 0, 0)
    m = _DATE.fullmatch(str(value).strip())
    if m is None or (m[4] and not with_time):
        form = "\"MM-DD\" or \"YYYY-MM-DD\"" + (" with an optional \" HH:MM\"" if with_time else "")
        raise ValueError(f"{what} {value!r} must be {form}")
    year, month, day = (int(m[1]) if m[1] else None), int(m[2]), int(m[3])
    try:
        dt.date(year or 2024, month, day)  # 2024: a leap year, so 02-29 recurs
    except ValueError as exc:
        raise ValueError(f"{what} {value!r}: {exc}") from None
    return year, month, day, parse_time(m[4], what) if m[4] else (0, 0, 0)


class Season(Model):
    """A season_profile entry: from ``start`` (``MM-DD[ HH:MM]`` every year, or ``YYYY-MM-DD[ HH:MM]``) the week
    profile ``week`` applies."""

    name: str
    start: str | dt.date
    week: str

    @field_validator("name", "week")
    @classmethod
    def _ascii(cls, v: str, info: ValidationInfo) -> str:
        return _name(v, str(info.field_name))

    @field_validator("start")
    @classmethod
    def _start(cls, v: str | dt.date) -> str | dt.date:
        _date_parts(v, "start", True)
        return v

    @property
    def parts(self) -> tuple[int | None, int, int, tuple[int, int, int]]:
        return _date_parts(self.start, "start", True)

    def start_in(self, year: int) -> dt.datetime | None:
        y, month, day, (h, m, s) = self.parts
        if y is not None and y != year:
            return None
        try:
            return dt.datetime(year, month, day, h, m, s)
        except ValueError:  # 02-29 in a common year
            return None


class SpecialDay(Model):
    """A Special Days Table entry: on ``date`` (``YYYY-MM-DD``, or ``MM-DD`` every year) the day profile ``day``
    replaces the week profile's for the whole day."""

    date: str | dt.date
    day: str
    #: the entry's index (default: its place in the list, from 1)
    index: int | None = Field(None, ge=0, le=0xFFFF)

    @field_validator("date")
    @classmethod
    def _date(cls, v: str | dt.date) -> str | dt.date:
        _date_parts(v, "date", False)
        return v

    def matches(self, d: dt.date) -> bool:
        year, month, day, _ = _date_parts(self.date, "date", False)
        return (year is None or year == d.year) and month == d.month and day == d.day

    def octets(self) -> bytes:
        year, month, day, _ = _date_parts(self.date, "date", False)
        return (0xFFFF if year is None else year).to_bytes(2, "big") + bytes([month, day, 0xFF])


class CalendarSpec(Model):
    """The activity calendar in a readable form: seasons naming week profiles, week profiles naming a day profile for
    Monday … Sunday, day profiles of ``"HH:MM": tariff`` (script n of the tariff script table makes tariff n the
    active one: register 1.0.1.8.n.255), special days naming a day profile. Day ids are the day profiles' places in
    ``days`` (from 1)."""

    name: str = "MHIL-TOU"
    seasons: list[Season] = Field(min_length=1)
    weeks: dict[str, list[str]] = Field(min_length=1)
    days: dict[str, dict[str, int]] = Field(min_length=1, max_length=255)
    special_days: list[SpecialDay] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _calendar_name(cls, v: str) -> str:
        return _name(v, "calendar name")

    @field_validator("weeks")
    @classmethod
    def _weeks(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, days in v.items():
            _name(name, "week profile")
            if len(days) != 7:
                raise ValueError(f"week profile {name!r}: 7 day profiles (Monday … Sunday), got {len(days)}")
        return v

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, v: Any) -> Any:
        if not isinstance(v, dict):
            return v
        for name, actions in v.items():
            _name(str(name), "day profile")
            if not isinstance(actions, dict) or not actions:
                raise ValueError(f"day profile {name!r}: a mapping of \"HH:MM\": tariff with one action at least")
            for at, tariff in actions.items():
                parse_time(at, f"day profile {name!r}: action time")
                if isinstance(tariff, bool) or not isinstance(tariff, int) or not 1 <= tariff <= 9:
                    raise ValueError(f"day profile {name!r} at {at}: tariff {tariff!r} must be 1 … 9")
        return v

    @model_validator(mode="after")
    def _references(self) -> CalendarSpec:
        for s in self.seasons:
            if s.week not in self.weeks:
                raise ValueError(f"season {s.name!r}: no week profile {s.week!r} (weeks: {', '.join(self.weeks)})")
        starts = [s.parts for s in self.seasons]
        if len(set(starts)) != len(starts):
            raise ValueError("seasons: two seasons start at the same time")
        for week, days in self.weeks.items():
            for d in days:
                if d not in self.days:
                    raise ValueError(f"week profile {week!r}: no day profile {d!r} (days: {', '.join(self.days)})")
        indices = [s.index if s.index is not None else i + 1 for i, s in enumerate(self.special_days)]
        if len(set(indices)) != len(indices):
            raise ValueError("special_days: two entries with the same index")
        for sd in self.special_days:
            if sd.day not in self.days:
                raise ValueError(f"special day {sd.date}: no day profile {sd.day!r}")
        return self

    # -- the calendar as the bench works it out (Blue Book 4.5.5 / 4.5.6) -----------------------------------------
    def day_id(self, name: str) -> int:
        return list(self.days).index(name) + 1

    def actions(self, day: str) -> list[tuple[int, int]]:
        """(second of the day, tariff) in order."""
        out = []
        for at, tariff in self.days[day].items():
            h, m, s = parse_time(at)
            out.append((h * 3600 + m * 60 + s, tariff))
        return sorted(out)

    def special_indices(self) -> list[tuple[int, SpecialDay]]:
        return sorted(((s.index if s.index is not None else i + 1, s) for i, s in enumerate(self.special_days)),
                      key=lambda x: x[0])

    def tariffs(self) -> list[int]:
        return sorted({t for actions in self.days.values() for t in actions.values()})

    def season_at(self, local: dt.datetime) -> Season | None:
        """The season whose start is the latest at or before ``local`` (a start every year recurs: before the year's
        first start the last season of the year before runs)."""
        best: tuple[dt.datetime, Season] | None = None
        for season in self.seasons:
            for year in (local.year, local.year - 1):
                start = season.start_in(year)
                if start is not None and start <= local:
                    if best is None or start > best[0]:
                        best = (start, season)
                    break
        return None if best is None else best[1]

    def day_at(self, local: dt.datetime) -> str | None:
        """The day profile in force on ``local``'s date: a special day (the lowest index), else the week's."""
        for _, sd in self.special_indices():
            if sd.matches(local.date()):
                return sd.day
        season = self.season_at(local)
        return None if season is None else self.weeks[season.week][local.isoweekday() - 1]

    def tariff_at(self, local: dt.datetime) -> int | None:
        """The tariff in force at ``local``: the day's latest action started at or before its time of day, else the
        last action of the day before (a script's effect lasts until the next one runs)."""
        midnight = dt.datetime(local.year, local.month, local.day)
        day = self.day_at(local)
        tod = (local - midnight).total_seconds()
        if day is not None:
            started = [t for s, t in self.actions(day) if s <= tod]
            if started:
                return started[-1]
        day = self.day_at(midnight - _EPS)  # every day profile has an action: the day before's last one
        return None if day is None else self.actions(day)[-1][1]

    def changes(self, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, int | None, int | None]]:
        """Every instant in (start, end] at which the tariff changes: (local time, before, after)."""
        candidates: set[dt.datetime] = set()
        day = start.date()
        while day <= end.date():
            midnight = dt.datetime(day.year, day.month, day.day)
            candidates.add(midnight)
            for name in self.days:
                candidates.update(midnight + dt.timedelta(seconds=s) for s, _ in self.actions(name))
            for season in self.seasons:
                at = season.start_in(day.year)
                if at is not None and at.date() == day:
                    candidates.add(at)
            day += dt.timedelta(days=1)
        out = []
        for c in sorted(candidates):
            if start < c <= end:
                before, after = self.tariff_at(c - _EPS), self.tariff_at(c)
                if before != after:
                    out.append((c, before, after))
        return out


class SwitchPoint(Model):
    """A switch of the calendar to test: the meter's local time ``at`` (``YYYY-MM-DD HH:MM[:SS]``) at which its
    calendar changes tariff."""

    at: str | dt.datetime
    label: str = ""

    @field_validator("at")
    @classmethod
    def _at(cls, v: str | dt.datetime) -> str | dt.datetime:
        cls.parse(v)
        return v

    @staticmethod
    def parse(v: str | dt.datetime) -> dt.datetime:
        if isinstance(v, dt.datetime):
            if v.tzinfo is not None:
                raise ValueError(f"switch time {v}: the meter's local time, without an offset")
            return v
        m = _AT.fullmatch(str(v).strip())
        if m is None:
            raise ValueError(f"switch time {v!r} must be \"YYYY-MM-DD HH:MM\" (the meter's local time)")
        h, mi, s = parse_time(m[4], "switch time")
        try:
            return dt.datetime(int(m[1]), int(m[2]), int(m[3]), h, mi, s)
        except ValueError as exc:
            raise ValueError(f"switch time {v!r}: {exc}") from None

    @property
    def local(self) -> dt.datetime:
        return self.parse(self.at)


class TouTest(PlanSection):
    """Time-of-use (Activity Calendar IC 20, Special Days Table IC 11, IEC 62056-6-2 4.5.5 / 4.5.6): a calendar of
    seasons, week and day profiles and special days written over DLMS and activated; then energy applied across the
    plan's switch points: each tariff register advances only in its windows, the switch at the calendar's instant
    within ``max_switch_error_s``, the energy against the reference energy within the class limit, the total the sum
    of the tariffs."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["tou"]
    calendar: CalendarSpec
    switches: list[SwitchPoint] = Field(min_length=1)
    #: the Clock's time_zone written first (UTC − local normal time, minutes: −60 for CET)
    time_zone_min: int = Field(0, ge=-720, le=720)
    #: the DST rule written with it (None: DST disabled)
    dst: DstRule | None = None
    #: a high current: one register step is then a short time (Imax 60 A, 3 × 230 V: 1 Wh in 0.087 s)
    current: str = "Imax"
    power_factor: str = "1"
    #: the clock is set this long before each switch; the registers are read at once, ``split_s`` before and after
    #: the switch, and ``after_s`` after it
    lead_s: float = Field(60.0, ge=20)
    after_s: float = Field(60.0, ge=20)
    split_s: float = Field(10.0, gt=0)
    #: the switch instant from the register split may be this far from the calendar's (the lab's figure)
    max_switch_error_s: float = Field(2.0, gt=0)
    #: the clock set to the reference time and read back at programming: at most this far off (the lab's figure)
    max_set_offset_s: float = Field(1.0, gt=0)
    calendar_object: str = "0.0.13.0.0.255"
    special_days_object: str = "0.0.11.0.0.255"
    #: the tariffication script table: script n makes tariff n active (register 1.0.1.8.n.255)
    script_table: str = "0.0.10.0.100.255"
    total_register: str = "1.0.1.8.0.255"

    _o = field_validator("calendar_object", "special_days_object", "script_table", "total_register")(_obis)

    @property
    def zone(self) -> Zone:
        return Zone(self.time_zone_min, self.dst)

    @model_validator(mode="after")
    def _switch_points(self) -> TouTest:
        if not self.split_s > self.max_switch_error_s:
            raise ValueError(f"split_s {self.split_s:g} s must be more than max_switch_error_s"
                             f" {self.max_switch_error_s:g} s: a switch within the tolerance must fall between the"
                             " reads around it")
        for what, window in (("lead_s", self.lead_s), ("after_s", self.after_s)):
            if window < self.split_s + 10:
                raise ValueError(f"{what} {window:g} s must be at least split_s + 10 s ({self.split_s + 10:g} s):"
                                 " each tariff needs time on its own side of the switch")
        zone, cal = self.zone, self.calendar
        for sp in self.switches:
            at = sp.local
            try:
                utc = zone.utc_of_local(at)
            except ValueError as exc:
                raise ValueError(f"switch {sp.at}: {exc}") from None
            before, after = cal.tariff_at(at - _EPS), cal.tariff_at(at)
            if before is None or after is None or before == after:
                raise ValueError(f"switch {sp.at}: the calendar does not change tariff then (tariff"
                                 f" {before} before, {after} from it)")
            lo, hi = utc - dt.timedelta(seconds=self.lead_s), utc + dt.timedelta(seconds=self.after_s)
            if zone.deviation(lo) != zone.deviation(hi):
                raise ValueError(f"switch {sp.at}: a DST switch falls within its window ({self.lead_s:g} s before"
                                 f" to {self.after_s:g} s after): test it away from the DST switch")
            dev = zone.deviation(utc)
            near = cal.changes((lo - dt.timedelta(minutes=dev)).replace(tzinfo=None),
                                 (hi - dt.timedelta(minutes=dev)).replace(tzinfo=None))
            others = [f"{c:%Y-%m-%d %H:%M:%S} (tariff {b} → {a})" for c, b, a in near if c != at]
            if others:
                raise ValueError(f"switch {sp.at}: the calendar switches again within its window ({', '.join(others)})"
                                 ": shorten lead_s / after_s or pick another switch")
        return self


# -- steps ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Switch:
    local: dt.datetime
    utc: dt.datetime
    old: int
    new: int
    label: str

    @property
    def name(self) -> str:
        return f"{self.local:%a %Y-%m-%d %H:%M}" + (f":{self.local:%S}" if self.local.second else "")


def tou_tasks(test: TouTest, rating: MeterRating, positions: list[int], rule: str, library: StandardsLibrary,
              conditional_pass: str) -> list[Step]:
    load = resolve_load(test.id, rating, library, test.current, test.power_factor, with_limit=True)
    amps, pf, row = load.amps, load.pf, load.row
    assert row is not None
    zone, cal = test.zone, test.calendar
    idle = PointSpec("tou", f"calendar {cal.name} written and activated", rating.un_v, 0.0, 0.0, "1",
                     frequency_hz=rating.frequency_hz, limit_table="plan", limit_status="lab")

    def run_program(session: RunContext, task: Step) -> list[PositionOutcome]:
        return _run_program(session, task, test)

    def measure_program(o: PositionOutcome) -> list[Measurement]:
        return _program_measurements(o, test, rule, conditional_pass)

    steps = [Step(test.id, "tou", idle.point, idle, positions, run_program, measure_program, decision_rule=rule,
                  duration_s=3.0 * len(positions), params={"port_only": True})]
    for sp in test.switches:
        local = sp.local
        old, new = cal.tariff_at(local - _EPS), cal.tariff_at(local)
        assert old is not None and new is not None
        sw = _Switch(local, zone.utc_of_local(local), old, new, sp.label)
        point = f"switch {sw.name} T{old}→T{new}" + (f" ({sp.label})" if sp.label else "")
        spec = PointSpec("tou", point, rating.un_v, amps, pf.phi_deg, str(pf), frequency_hz=rating.frequency_hz,
                         limit_pct=row.limit_pct, standard=f"{row.provenance.standard}:{row.provenance.edition}",
                         limit_table=row.provenance.table, limit_status=row.provenance.status)

        def run(session: RunContext, task: Step, sw: _Switch = sw) -> list[PositionOutcome]:
            return _run_switch(session, task, test, sw, idle)

        def measure(o: PositionOutcome, sw: _Switch = sw) -> list[Measurement]:
            return _switch_measurements(o, test, sw, row.limit_pct, rule, conditional_pass)

        steps.append(Step(test.id, "tou", point, spec, positions, run, measure, limit_pct=row.limit_pct,
                          decision_rule=rule, duration_s=test.lead_s + test.after_s,
                          params={"port_only": False}))
    return steps


# -- programming (once per run and test) -----------------------------------------------------------------------
@dataclass
class _Programmed:
    """One position's programming: ``refused`` (the meter refused a valid write: a failed meter) or ``broken`` (no
    answer) empty when it went through; what read back unlike the plan; the register steps (Wh)."""

    refused: str = ""
    broken: str = ""
    differences: list[str] = field(default_factory=list)
    step_wh: dict[str, float] = field(default_factory=dict)
    offset_s: float | None = None
    offset_half_s: float = 0.0
    reading: str = ""

    @property
    def usable(self) -> bool:
        return not self.refused and not self.broken


class _TouRun:
    """The run's programming state of every tou test (a :meth:`RunContext.service`)."""

    def __init__(self, _run: Any) -> None:
        self.done: dict[str, dict[int, _Programmed]] = {}


def _registers(test: TouTest) -> dict[int, str]:
    return {n: f"1.0.1.8.{n}.255" for n in test.calendar.tariffs()}


def _refusal(exc: BenchFault) -> bool:
    from instruments.dlms.client import DataAccessError

    return isinstance(getattr(exc, "cause", None), DataAccessError)


def _programmed(session: RunContext, test: TouTest, positions: list[int]) -> dict[int, _Programmed]:
    state = session.service(_TouRun).done.setdefault(test.id, {})
    for p in positions:
        if p not in state:
            state[p] = _program(session, test, p)
    return state


def _program(session: RunContext, test: TouTest, p: int) -> _Programmed:
    from instruments.dlms.axdr import Data
    from instruments.dlms.cosem import ScalerUnit

    bench, clock = session.bench, session.bench.clock
    out = _Programmed()
    step = "writing the time zone and DST rule"
    try:
        port = dlms_port(bench, p)
        write_zone(port, test.zone)
        step = "emptying the special days table"
        for entry in port.get(11, test.special_days_object, 2).items:
            port.action(11, test.special_days_object, 2, Data.uint16(int(entry.items[0].value)))
        step = "writing the passive calendar"
        for attr, value in _passive(test).items():
            port.set(20, test.calendar_object, attr, value)
        step = "inserting the special days"
        for entry in _special_entries(test):
            port.action(11, test.special_days_object, 1, entry)
        step = "activating the passive calendar"
        port.action(20, test.calendar_object, 1, Data.int8(0))
        step = "reading back"
        out.differences = (zone_differences(port, test.zone) + _calendar_differences(port, test)
                           + _special_differences(port, test))
        for obis in (*_registers(test).values(), test.total_register):
            su = ScalerUnit.from_data(port.get(3, obis, 3))
            factor = {"Wh": 1.0, "kWh": 1000.0}.get(su.symbol)
            if factor is None:
                raise BenchFault("meter port", f"register {obis} is in {su.symbol!r}, not Wh or kWh")
            out.step_wh[obis] = su.apply(1) * factor
        step = "setting the clock"
        set_clock_local(port, test.zone, clock.utc())
        t0 = clock.now()
        value = read_clock(port)
        t1 = clock.now()
        ref = clock.utc() - dt.timedelta(seconds=clock.now() - (t0 + t1) / 2)
        out.offset_s, out.offset_half_s = (value.utc - ref).total_seconds(), (t1 - t0) / 2
        out.reading = value.text()
    except BenchFault as exc:
        if _refusal(exc):
            out.refused = f"{step}: {exc}"
        else:
            out.broken = f"{step}: {exc}"
    except (ValueError, TypeError, IndexError) as exc:  # an answer that is not what the Blue Book says it is
        out.broken = f"{step}: unreadable answer: {exc}"
    return out


def _passive(test: TouTest) -> dict[int, Any]:
    """Activity Calendar attributes 6–9 (calendar_name, season_profile, week_profile_table, day_profile_table
    _passive) as the Blue Book encodes them."""
    from instruments.dlms.axdr import Data
    from instruments.dlms.cosem import CosemDateTime, Obis

    cal = test.calendar
    script = bytes(Obis.parse(test.script_table))
    seasons = []
    for s in cal.seasons:
        year, month, day, (h, m, sec) = s.parts
        start = CosemDateTime(year, month, day, None, h, m, sec, 0, None, None)
        seasons.append(Data.structure([Data.octets(s.name.encode()), start.to_data(), Data.octets(s.week.encode())]))
    weeks = [Data.structure([Data.octets(name.encode()), *(Data.uint8(cal.day_id(d)) for d in days)])
             for name, days in cal.weeks.items()]
    days = []
    for name in cal.days:
        actions = [Data.structure([Data.octets(bytes([s // 3600, s // 60 % 60, s % 60, 0])), Data.octets(script),
                                   Data.uint16(tariff)]) for s, tariff in cal.actions(name)]
        days.append(Data.structure([Data.uint8(cal.day_id(name)), Data.array(actions)]))
    return {6: Data.octets(cal.name.encode()), 7: Data.array(seasons), 8: Data.array(weeks), 9: Data.array(days)}


def _special_entries(test: TouTest) -> list[Any]:
    from instruments.dlms.axdr import Data

    cal = test.calendar
    return [Data.structure([Data.uint16(i), Data.octets(sd.octets()), Data.uint8(cal.day_id(sd.day))])
            for i, sd in cal.special_indices()]


def _calendar_key(name: Any, seasons: Any, weeks: Any, days: Any) -> tuple[Any, ...]:
    """The calendar's tables as comparable values (fields a meter may write either way normalised: seconds 0xFF
    as 0, hundredths, deviation and status of a season start ignored)."""
    from instruments.dlms.cosem import CosemDateTime

    def start(raw: bytes) -> tuple[Any, ...]:
        c = CosemDateTime.decode(raw)
        return c.year, c.month, c.day, c.hour or 0, c.minute or 0, c.second or 0

    def time(raw: bytes) -> tuple[int, int, int]:
        return raw[0], raw[1], 0 if raw[2] == 0xFF else raw[2]

    return (
        bytes(name),
        sorted((bytes(s[0]), start(bytes(s[1])), bytes(s[2])) for s in seasons),
        sorted((bytes(w[0]), tuple(w[1:])) for w in weeks),
        sorted((d[0], sorted((time(bytes(a[0])), bytes(a[1]), a[2]) for a in d[1])) for d in days),
    )


def _calendar_differences(port: Any, test: TouTest) -> list[str]:
    """The active calendar (attributes 2–5) read back against the one written."""
    written = _passive(test)
    want = _calendar_key(*(written[a].plain() for a in (6, 7, 8, 9)))
    got = _calendar_key(*(port.get(20, test.calendar_object, a).plain() for a in (2, 3, 4, 5)))
    names = ("calendar_name_active", "season_profile_active", "week_profile_table_active", "day_profile_table_active")
    return [f"{n} reads {g!r}, written {w!r}" for n, g, w in zip(names, got, want, strict=True) if g != w]


def _special_differences(port: Any, test: TouTest) -> list[str]:
    want = sorted(e.plain() for e in _special_entries(test))
    got = sorted(port.get(11, test.special_days_object, 2).plain())
    return [] if got == want else [f"special days table reads {got!r}, written {want!r}"]


def _run_program(session: RunContext, task: Step, test: TouTest) -> list[PositionOutcome]:
    runner_of(session).energise(task.spec)  # powered, no current
    state = _programmed(session, test, task.positions)
    out = []
    for p in task.positions:
        serial = session.bench.meter(p).spec.serial
        s = state[p]
        o = PositionOutcome(p, serial, 0, 0, None, 0.0, "broken" if s.broken else None, s.broken)
        o.extra.update(calendar=test.calendar.name, refused=s.refused, differences=list(s.differences),
                       offset_s=None if s.offset_s is None else round(s.offset_s, 3),
                       offset_uncertainty_s=round(2 * s.offset_half_s / math.sqrt(3), 3), clock_after_set=s.reading)
        out.append(o)
    return out


def _program_measurements(o: PositionOutcome, test: TouTest, rule: str, conditional_pass: str) -> list[Measurement]:
    x = o.extra
    diffs = "; ".join(x["differences"])
    return [
        Measurement("calendar accepted", not x["refused"],
                    text=lambda ok: f"calendar {x['calendar']}, special days and clock settings accepted" if ok
                    else f"the meter refused the calendar: {x['refused']}"),
        Measurement("calendar read back", not x["differences"],
                    text=lambda ok: "active calendar, special days and clock settings read back as written" if ok
                    else f"read back unlike the plan: {diffs}"),
        Measurement.within("offset after setting", x["offset_s"], test.max_set_offset_s, "s",
                           uncertainty=x["offset_uncertainty_s"], rule=rule, conditional_pass=conditional_pass,
                           check_uncertainty=False, suffix=f" (clock {x['clock_after_set']})"),
    ]


# -- one switch point -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Read:
    """The registers of one GET with list (Wh) at a bench time (the middle of its request–reply, ± half)."""

    t: float
    half: float
    wh: dict[str, float]


def _read(port: Any, clock: Any, obis: list[str], step_wh: dict[str, float]) -> _Read:
    from instruments.dlms.apdu import DataAccessResult

    t0 = clock.now()
    values = port.get_many([(3, o, 2) for o in obis])
    t1 = clock.now()
    wh = {}
    for o, v in zip(obis, values, strict=True):
        if isinstance(v, DataAccessResult):
            raise BenchFault("meter port", f"register {o}: {v.name.lower()}")
        if isinstance(v.value, bool) or not isinstance(v.value, int | float):
            raise BenchFault("meter port", f"register {o} holds {v.tag.name.lower()}, not a number")
        wh[o] = float(v.value) * step_wh[o]
    return _Read((t0 + t1) / 2, (t1 - t0) / 2, wh)


def _run_switch(session: RunContext, task: Step, test: TouTest, sw: _Switch, idle: PointSpec) -> list[PositionOutcome]:
    bench, clock = session.bench, session.bench.clock
    runner = runner_of(session)
    zone = test.zone
    runner.energise(task.spec)  # the load, steady before any clock is set
    state = _programmed(session, test, task.positions)
    regs = _registers(test)
    obis = [*regs.values(), test.total_register]
    broken: dict[int, str] = {}
    for p in task.positions:
        s = state[p]
        if not s.usable:
            broken[p] = f"calendar not programmed: {s.refused or s.broken}"
    set_at: dict[int, tuple[float, float]] = {}  # bench time the clock was set (middle, ± half)
    reads: dict[int, list[_Read]] = {}
    ref_wh, ref_s = 0.0, 0.0

    def set_back() -> dict[int, str]:
        return set_clocks_back(bench, set_at, lambda port, utc: set_clock_local(port, zone, utc))

    def read_all(label: str) -> None:
        for p in set_at:
            if p in broken:
                continue
            try:
                reads.setdefault(p, []).append(_read(dlms_port(bench, p), clock, obis, state[p].step_wh))
            except BenchFault as exc:
                broken[p] = f"registers not read ({label}): {exc}"

    try:
        start = (sw.utc - dt.timedelta(seconds=test.lead_s))
        for p in task.positions:
            if p in broken:
                continue
            try:
                port = dlms_port(bench, p)
                t0 = clock.now()
                set_clock_local(port, zone, start)
                t1 = clock.now()
                set_at[p] = ((t0 + t1) / 2, (t1 - t0) / 2)
            except BenchFault as exc:
                broken[p] = f"clock not set before the switch: {exc}"
        if set_at:
            ref = bench.reference
            ref.start_integration()
            r0 = clock.now()
            read_all("at the start")
            first, last = min(t for t, _ in set_at.values()), max(t for t, _ in set_at.values())
            clock.sleep(max(first + test.lead_s - test.split_s - clock.now(), 0.0))
            read_all(f"{test.split_s:g} s before the switch")
            clock.sleep(max(last + test.lead_s + test.split_s - clock.now(), 0.0))
            read_all(f"{test.split_s:g} s after the switch")
            clock.sleep(max(last + test.lead_s + test.after_s - clock.now(), 0.0))
            read_all("at the end")
            ref_wh, ref_s = float(ref.read([("WH", "SIGMA")])[0]), clock.now() - r0
        runner.energise(idle)
    except Exception:
        # a meter must not leave the bench with its clock months off; a Ctrl-C or SIGTERM skips this (the source
        # goes off first, and a dead port would only delay it)
        with contextlib.suppress(Exception):
            runner.energise(idle)
            set_back()
        raise
    for p, why in set_back().items():
        broken.setdefault(p, why)
    out = []
    for p in task.positions:
        serial = bench.meter(p).spec.serial
        rs = reads.get(p, [])
        if p in broken or len(rs) != 4:
            out.append(PositionOutcome(p, serial, 0, 0, None, 0.0, "broken", broken.get(p, "registers not read")))
            continue
        o = PositionOutcome(p, serial, 0, 0, None, rs[3].t - rs[0].t, None)
        o.extra.update(_judged(test, sw, regs, rs, set_at[p], state[p].step_wh, ref_wh, ref_s))
        if o.extra["reads_late"]:  # the bench's timing, not the meter: no result
            o.verdict, o.reason = "broken", (f"the registers were not read within ±{test.max_switch_error_s:g} s"
                                             f" of the switch ({test.split_s:g} s planned): raise split_s")
        out.append(o)
    return out


def _judged(test: TouTest, sw: _Switch, regs: dict[int, str], rs: list[_Read], set_at: tuple[float, float],
            step_wh: dict[str, float], ref_wh: float, ref_s: float) -> dict[str, Any]:
    r0, ra, rb, r1 = rs
    old, new, total = regs[sw.old], regs[sw.new], test.total_register

    def d(a: _Read, b: _Read, o: str) -> float:
        return round(b.wh[o] - a.wh[o], 6)

    expected = set_at[0] + test.lead_s
    late = ra.t >= expected - test.max_switch_error_s or rb.t <= expected + test.max_switch_error_s
    others = {f"T{n}": d(r0, r1, o) for n, o in regs.items() if n not in (sw.old, sw.new) and d(r0, r1, o) != 0}
    total_wh = d(r0, r1, total)
    sum_wh = round(sum(d(r0, r1, o) for o in regs.values()), 6)
    window = r1.t - r0.t
    reference = ref_wh * window / ref_s if ref_s > 0 else 0.0
    step = step_wh[total]
    x: dict[str, Any] = {
        "tariff_old": sw.old, "tariff_new": sw.new, "register_old": old, "register_new": new,
        "switch_local": f"{sw.local:%Y-%m-%d %H:%M:%S}", "switch_utc": utc_text(sw.utc),
        "before_old_wh": d(r0, ra, old), "before_new_wh": d(r0, ra, new),
        "split_old_wh": d(ra, rb, old), "split_new_wh": d(ra, rb, new),
        "after_old_wh": d(rb, r1, old), "after_new_wh": d(rb, r1, new),
        "before_s": round(ra.t - r0.t, 3), "after_s": round(r1.t - rb.t, 3),
        "other_tariffs": ", ".join(f"{k} +{v:g} Wh" for k, v in others.items()),
        "other_tariffs_advance_wh": round(sum(abs(v) for v in others.values()), 6),
        "total_advance_wh": total_wh, "sum_advance_wh": sum_wh, "sum_steps": len(regs),
        "step_wh": step, "reference_wh": round(reference, 4), "reads_late": late,
        "energy_error_pct": None, "resolution_pct": None, "switch_error_s": None, "switch_uncertainty_s": None,
    }
    if reference > 0:
        x["energy_error_pct"] = round((total_wh - reference) / reference * 100.0, 4)
        x["resolution_pct"] = round(100.0 * step / reference, 4)
    split = x["split_old_wh"] + x["split_new_wh"]
    if split > 0 and rb.t > ra.t:
        rate = split / (rb.t - ra.t)  # Wh/s, steady: the meter's own rate, its error cancels
        measured = ra.t + x["split_old_wh"] / rate
        # rectangular bounds: a register step on the split, the read and clock-set instants
        u = math.sqrt(((step_wh[old] / rate) ** 2 + ra.half ** 2 + rb.half ** 2 + set_at[1] ** 2) / 3)
        x.update(switch_error_s=round(measured - expected, 3), switch_uncertainty_s=round(2 * u, 3))
    return x


def _switch_measurements(o: PositionOutcome, test: TouTest, sw: _Switch, class_limit_pct: float, rule: str,
                         conditional_pass: str) -> list[Measurement]:
    x = o.extra
    at = f"{sw.local:%Y-%m-%d %H:%M} ({x['switch_utc']})"
    t_old, t_new = f"tariff {sw.old} ({x['register_old']})", f"tariff {sw.new} ({x['register_new']})"
    step = x["step_wh"]
    split = (f"{t_old} +{x['before_old_wh']:g} / +{x['split_old_wh']:g} / +{x['after_old_wh']:g} Wh, {t_new}"
             f" +{x['before_new_wh']:g} / +{x['split_new_wh']:g} / +{x['after_new_wh']:g} Wh before / across / after"
             " the switch")
    others = x["other_tariffs"]
    out = [
        Measurement("other tariff registers", x["other_tariffs_advance_wh"], "Wh", upper=0,
                    text=lambda ok: "no other tariff register advanced" if ok
                    else f"other tariff registers advanced across the {at} switch: {others}"),
        Measurement("new tariff before the switch", x["before_new_wh"], "Wh", upper=0,
                    text=lambda ok: f"{t_new} still before {at}" if ok
                    else f"{t_new} advanced {x['before_new_wh']:g} Wh in the {x['before_s']:g} s before the {at}"
                         f" switch: the meter was in tariff {sw.new} too early ({split})"),
        Measurement("old tariff before the switch", x["before_old_wh"], "Wh", lower=step,
                    text=lambda ok: f"{t_old} advanced before {at}" if ok
                    else f"{t_old} registered nothing in the {x['before_s']:g} s before the {at} switch ({split})"),
        Measurement("old tariff after the switch", x["after_old_wh"], "Wh", upper=0,
                    text=lambda ok: f"{t_old} still after {at}" if ok
                    else f"{t_old} advanced {x['after_old_wh']:g} Wh from {test.split_s:g} s after the {at} switch:"
                         f" the meter did not switch to tariff {sw.new} ({split})"),
        Measurement("new tariff after the switch", x["after_new_wh"], "Wh", lower=step,
                    text=lambda ok: f"{t_new} advanced after {at}" if ok
                    else f"{t_new} registered nothing after the {at} switch ({split})"),
        Measurement.within("total − sum of tariffs", round(x["total_advance_wh"] - x["sum_advance_wh"], 6),
                           x["sum_steps"] * step, "Wh", check_uncertainty=False,
                           suffix=f" ({test.total_register} +{x['total_advance_wh']:g} Wh, tariff registers"
                                  f" +{x['sum_advance_wh']:g} Wh; one register step each)"),
    ]
    if x["energy_error_pct"] is None:
        out.append(Measurement("energy error", None, "%", text="no reference energy: nothing to compare"))
    else:
        out.append(Measurement.within(
            "energy error", x["energy_error_pct"], class_limit_pct + x["resolution_pct"], rule=rule,
            conditional_pass=conditional_pass, check_uncertainty=False,
            suffix=f" ({test.total_register} +{x['total_advance_wh']:g} Wh, reference {x['reference_wh']:g} Wh;"
                   f" limit = class {class_limit_pct:g} % + one register step {x['resolution_pct']:g} %)"))
    out.append(Measurement.within(
        f"switch T{sw.old}→T{sw.new}", x["switch_error_s"], test.max_switch_error_s, "s",
        uncertainty=x["switch_uncertainty_s"], rule=rule, conditional_pass=conditional_pass,
        remedy="test at a higher current (a register step is less time)",
        suffix=f" against the calendar's {at} ({split})"))
    return out


__all__ = ["CalendarSpec", "Season", "SpecialDay", "SwitchPoint", "TouTest", "tou_tasks"]
