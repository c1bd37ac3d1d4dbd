"""Time-of-use calendar evaluation (Blue Book Activity Calendar IC 20, Special Days Table IC 11): which script
selector is in force at a local time, and when it next changes. Pure: local times are naive datetimes of the
meter's wall clock (DST included), nothing here knows UTC, the bench or DLMS.

Rules (Blue Book 4.5.5, 4.5.6):

- the season in force is the one whose ``season_start`` is the latest at or before the local time (a start with a
  wildcard year recurs every year, so before the first start of a year the last season of the year before runs);
- the season names a week profile, the week profile a day_id for each weekday; a special day whose date matches
  replaces that day_id for the whole day (the lowest index wins when several match);
- a day profile is a list of actions {start_time, script, selector}; the action in force is the latest one started
  at or before the time of day. Before the first action of a day the last action of the day before stays in force
  (a script runs at its start time and its effect lasts until the next one runs).

No season, no week or no day profile in force gives ``None``: no script has run, the tariff stays as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from instruments.simulators.world.dst import LAST, SECOND_LAST, resolve_date

#: how far ahead a next change is looked for (a calendar whose selector never changes gives none)
HORIZON_DAYS = 370
#: how far back a day without an action before the time of day looks for the action still in force
_LOOKBACK_DAYS = 400


@dataclass(frozen=True)
class DatePattern:
    """A COSEM date with wildcards (None): year, month 1…12, day 1…31 / LAST / SECOND_LAST, weekday 1…7."""

    year: int | None = None
    month: int | None = None
    day: int | None = None
    weekday: int | None = None

    def matches(self, d: dt.date) -> bool:
        if self.year is not None and d.year != self.year:
            return False
        if self.month is not None and d.month != self.month:
            return False
        if self.weekday is not None and d.isoweekday() != self.weekday:
            return False
        if self.day is None:
            return True
        if self.day in (LAST, SECOND_LAST):
            return d == resolve_date(d.year, d.month, self.day, None)
        return d.day == self.day


@dataclass(frozen=True)
class SeasonStart:
    """season_start: month and day (1…31, LAST, SECOND_LAST, with an optional weekday as in a DST rule), a time of
    day; ``year`` None recurs every year."""

    month: int
    day: int | None
    hour: int = 0
    minute: int = 0
    second: int = 0
    year: int | None = None
    weekday: int | None = None

    def at(self, year: int) -> dt.datetime | None:
        if self.year is not None and self.year != year:
            return None
        day = resolve_date(year, self.month, self.day, self.weekday)
        if day is None:
            return None
        return dt.datetime(day.year, day.month, day.day, self.hour, self.minute, self.second)


@dataclass(frozen=True)
class Season:
    name: bytes
    start: SeasonStart
    week: bytes


@dataclass(frozen=True)
class Week:
    name: bytes
    #: day_id of Monday … Sunday
    days: tuple[int, int, int, int, int, int, int]


@dataclass(frozen=True)
class Action:
    """One day_schedule entry: start (seconds of the day, hundredths allowed), script and selector."""

    start_s: float
    script: bytes
    selector: int


@dataclass(frozen=True)
class SpecialDay:
    index: int
    date: DatePattern
    day_id: int


@dataclass(frozen=True)
class Calendar:
    """An Activity Calendar's active or passive set of tables."""

    name: bytes = b""
    seasons: tuple[Season, ...] = ()
    weeks: tuple[Week, ...] = ()
    days: dict[int, tuple[Action, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for day_id, actions in self.days.items():
            if list(actions) != sorted(actions, key=lambda a: a.start_s):
                raise ValueError(f"day profile {day_id}: actions must be in order of start time")

    @property
    def empty(self) -> bool:
        return not self.seasons

    def season_at(self, local: dt.datetime) -> Season | None:
        best: tuple[dt.datetime, Season] | None = None
        for season in self.seasons:
            for year in (local.year, local.year - 1):
                start = season.start.at(year)
                if start is not None and start <= local and (best is None or start > best[0]):
                    best = (start, season)
                    break
        return None if best is None else best[1]

    def day_id_at(self, local: dt.datetime, specials: Iterable[SpecialDay] = ()) -> int | None:
        for sd in sorted(specials, key=lambda s: s.index):
            if sd.date.matches(local.date()):
                return sd.day_id
        season = self.season_at(local)
        if season is None:
            return None
        week = next((w for w in self.weeks if w.name == season.week), None)
        return None if week is None else week.days[local.isoweekday() - 1]

    def action_at(self, local: dt.datetime, specials: Iterable[SpecialDay] = ()) -> Action | None:
        """The action in force at ``local``: today's latest started one, else the last one of an earlier day."""
        specials = tuple(specials)
        midnight = dt.datetime(local.year, local.month, local.day)
        tod = (local - midnight).total_seconds()
        day_id = self.day_id_at(local, specials)
        started = [a for a in self.days.get(day_id, ()) if a.start_s <= tod] if day_id is not None else []
        if started:
            return started[-1]
        for back in range(1, _LOOKBACK_DAYS + 1):
            last_instant = midnight - dt.timedelta(days=back - 1, microseconds=1)
            day_id = self.day_id_at(last_instant, specials)
            actions = self.days.get(day_id, ()) if day_id is not None else ()
            if actions:
                return actions[-1]
            if self.season_at(last_instant) is None:
                return None
        return None

    def selector_at(self, local: dt.datetime, specials: Iterable[SpecialDay] = ()) -> int | None:
        action = self.action_at(local, specials)
        return None if action is None else action.selector

    def _candidates(self, day: dt.date) -> list[dt.datetime]:
        """Every instant of ``day`` at which the selector may change: midnight, the start of any action, and a
        season starting that day (a superset: the change points of the selector are among them)."""
        midnight = dt.datetime(day.year, day.month, day.day)
        starts = {0.0} | {a.start_s for actions in self.days.values() for a in actions}
        out = {midnight + dt.timedelta(seconds=s) for s in starts}
        for season in self.seasons:
            start = season.start.at(day.year)
            if start is not None and start.date() == day:
                out.add(start)
        return sorted(out)

    def next_change(self, local: dt.datetime, current: int | None, specials: Iterable[SpecialDay] = (),
                    horizon_days: int = HORIZON_DAYS) -> tuple[dt.datetime, int] | None:
        """The first local instant strictly after ``local`` at which a selector other than ``current`` comes into
        force, with that selector (None: none within the horizon)."""
        specials = tuple(specials)
        day = local.date()
        for _ in range(horizon_days + 1):
            for when in self._candidates(day):
                if when <= local:
                    continue
                selector = self.selector_at(when, specials)
                if selector is not None and selector != current:
                    return when, selector
            day += dt.timedelta(days=1)
        return None
