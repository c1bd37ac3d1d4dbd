"""Activity-calendar evaluation (world/calendar.py) against a calendar worked out by hand.

The calendar: winter from 1 October, summer from 1 April (every year). Winter weekdays (day 1): tariff 2 from
00:00, tariff 1 06:00–22:00, tariff 2 from 22:00; summer weekdays (day 3): tariff 2, tariff 1 07:00–21:00; weekend
days (day 2): tariff 3 all day; day 4 (a holiday profile) has a single action at 08:00 (tariff 4), so before 08:00
the tariff of the day before stays in force. Special days: 1 May every year and 25 December 2026 → day 2, the last
day of every month → day 4.

Weekdays used (2026): 1 January Thursday, 5 January Monday, 10 January Saturday, 30 January Friday, 30 March
Monday, 31 March Tuesday, 1 April Wednesday, 1 May Friday, 29 September Tuesday, 1 October Thursday, 25 December
Friday; 2027: 24 December Friday, 25 December Saturday.
"""

from __future__ import annotations

import datetime as dt

import pytest

from instruments.simulators.world.calendar import (
    Action,
    Calendar,
    DatePattern,
    Season,
    SeasonStart,
    SpecialDay,
    Week,
)
from instruments.simulators.world.dst import LAST

S = b"\x00\x00\x0a\x00\x64\xff"  # the tariffication script table 0.0.10.0.100.255


def at(h: int, m: int = 0) -> float:
    return h * 3600.0 + m * 60.0


CAL = Calendar(
    name=b"TOU-2026",
    seasons=(Season(b"winter", SeasonStart(10, 1), b"W"), Season(b"summer", SeasonStart(4, 1), b"S")),
    weeks=(Week(b"W", (1, 1, 1, 1, 1, 2, 2)), Week(b"S", (3, 3, 3, 3, 3, 2, 2))),
    days={
        1: (Action(0, S, 2), Action(at(6), S, 1), Action(at(22), S, 2)),
        2: (Action(0, S, 3),),
        3: (Action(0, S, 2), Action(at(7), S, 1), Action(at(21), S, 2)),
        4: (Action(at(8), S, 4),),
    },
)
SPECIAL = (SpecialDay(1, DatePattern(None, 5, 1), 2), SpecialDay(2, DatePattern(2026, 12, 25), 2),
           SpecialDay(3, DatePattern(None, None, LAST), 4))


def d(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second)


@pytest.mark.parametrize(("when", "selector"), [
    (d(2026, 1, 5, 5, 59, 59), 2),
    (d(2026, 1, 5, 6, 0, 0), 1),  # the action's start belongs to it
    (d(2026, 1, 5, 21, 59, 59), 1),
    (d(2026, 1, 5, 22, 0, 0), 2),
    (d(2026, 1, 10, 12), 3),  # Saturday
    (d(2026, 3, 30, 6, 30), 1),  # winter weekday (Monday)
    (d(2026, 4, 1, 6, 30), 2),  # summer from 1 April: weekday tariff 1 only from 07:00
    (d(2026, 4, 1, 7, 0), 1),
    (d(2026, 9, 29, 21, 30), 2),  # summer (a Tuesday): tariff 2 from 21:00
    (d(2026, 10, 1, 21, 30), 1),  # winter again: tariff 1 until 22:00
    (d(2026, 5, 1, 12), 3),  # 1 May, a Friday: special day → day 2
    (d(2026, 12, 25, 12), 3),
    (d(2027, 12, 24, 12), 1),  # a Friday: an ordinary winter weekday (the 25 December entry is for 2026 only)
    (d(2027, 12, 25, 12), 3),  # a Saturday
])
def test_selector_in_force(when: dt.datetime, selector: int) -> None:
    assert CAL.selector_at(when, SPECIAL) == selector


def test_before_the_first_action_the_day_before_stays_in_force() -> None:
    # 31 March 2026 (Tuesday) is the last day of the month → day 4: one action at 08:00. Before it, the last action
    # of 30 March (a winter weekday, tariff 2 from 22:00) is still in force
    assert CAL.selector_at(d(2026, 3, 31, 7, 59), SPECIAL) == 2
    assert CAL.selector_at(d(2026, 3, 31, 8, 0), SPECIAL) == 4
    # 1 April 00:00: a summer weekday starts with tariff 2
    assert CAL.selector_at(d(2026, 4, 1, 0, 0), SPECIAL) == 2


def test_next_change_by_hand() -> None:
    assert CAL.next_change(d(2026, 1, 5, 5), 2, SPECIAL) == (d(2026, 1, 5, 6), 1)
    assert CAL.next_change(d(2026, 1, 5, 6), 1, SPECIAL) == (d(2026, 1, 5, 22), 2)  # strictly after
    # Friday 22:00 (tariff 2) → Saturday 00:00 tariff 3 → Monday 06:00 tariff 1 (Monday 00:00 is tariff 2 = a change)
    assert CAL.next_change(d(2026, 1, 9, 22), 2, SPECIAL) == (d(2026, 1, 10, 0), 3)
    assert CAL.next_change(d(2026, 1, 10, 0), 3, SPECIAL) == (d(2026, 1, 12, 0), 2)
    # midnight into a day that starts with the tariff already in force is no change
    assert CAL.next_change(d(2026, 1, 6, 22), 2, SPECIAL) == (d(2026, 1, 7, 6), 1)
    # the last day of January (a Saturday) is day 4, not the weekend's day 2: Friday's 22:00 tariff 2 runs on
    # until 08:00, then tariff 4
    assert CAL.next_change(d(2026, 1, 30, 22), 2, SPECIAL) == (d(2026, 1, 31, 8), 4)
    # the season change: Tuesday 31 March 08:00 tariff 4 → Wednesday 1 April 00:00 tariff 2 (summer weekday)
    assert CAL.next_change(d(2026, 3, 31, 8), 4, SPECIAL) == (d(2026, 4, 1, 0), 2)
    assert CAL.next_change(d(2026, 4, 1, 0), 2, SPECIAL) == (d(2026, 4, 1, 7), 1)


def test_a_season_starting_mid_day_switches_at_its_start() -> None:
    cal = Calendar(b"x", (Season(b"a", SeasonStart(1, 1), b"A"), Season(b"b", SeasonStart(6, 1, 12), b"B")),
                   (Week(b"A", (1,) * 7), Week(b"B", (2,) * 7)),
                   {1: (Action(0, S, 1),), 2: (Action(0, S, 2),)})
    assert cal.selector_at(d(2026, 6, 1, 11, 59)) == 1
    assert cal.selector_at(d(2026, 6, 1, 12)) == 2
    assert cal.next_change(d(2026, 5, 31, 23), 1) == (d(2026, 6, 1, 12), 2)
    # the year wraps: season a from 1 January again
    assert cal.next_change(d(2026, 12, 31, 23), 2) == (d(2027, 1, 1), 1)


def test_no_season_in_force_means_no_script_ran() -> None:
    cal = Calendar(b"x", (Season(b"a", SeasonStart(6, 1, year=2027), b"A"),), (Week(b"A", (1,) * 7),),
                   {1: (Action(0, S, 1),)})
    assert cal.selector_at(d(2026, 12, 1)) is None
    assert cal.selector_at(d(2027, 6, 1)) == 1
    assert cal.next_change(d(2026, 12, 1), None) == (d(2027, 6, 1), 1)
    assert Calendar().selector_at(d(2026, 1, 1)) is None
    assert Calendar().next_change(d(2026, 1, 1), 1, horizon_days=10) is None


def test_date_patterns_with_wildcards() -> None:
    assert DatePattern(None, 5, 1).matches(dt.date(2031, 5, 1))
    assert not DatePattern(2026, 5, 1).matches(dt.date(2027, 5, 1))
    assert DatePattern(None, None, LAST).matches(dt.date(2028, 2, 29))
    assert not DatePattern(None, None, LAST).matches(dt.date(2028, 2, 28))
    assert DatePattern(None, None, None, 7).matches(dt.date(2026, 3, 29))  # every Sunday


def test_actions_out_of_order_are_refused() -> None:
    with pytest.raises(ValueError, match="order"):
        Calendar(days={1: (Action(at(6), S, 1), Action(0, S, 2))})
