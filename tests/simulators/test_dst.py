"""The DST rule of a meter's clock (world/dst.py), against dates worked out by hand from a calendar.

2026: March has Sundays 1, 8, 15, 22, 29 (1 March 2026 is a Sunday); October has Sundays 4, 11, 18, 25. So the
last Sunday of March is the 29th, of October the 25th; the EU switches at 01:00 UTC (Directive 2000/84/EC), i.e.
02:00 CET → 03:00 CEST and 03:00 CEST → 02:00 CET. 2027: last Sundays 28 March and 31 October.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from instruments.simulators.world import dst
from instruments.simulators.world.config import DlmsConfig
from instruments.simulators.world.dst import LAST, SECOND_LAST, DstSettings, SwitchRule, resolve_date

CET = DstSettings(time_zone_min=-60, enabled=True, deviation_min=60)


def utc(year: int, month: int, day: int, hour: int = 0) -> float:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC).timestamp()


@pytest.mark.parametrize(("year", "month", "day", "weekday", "expected"), [
    (2026, 3, LAST, 7, dt.date(2026, 3, 29)),
    (2026, 10, LAST, 7, dt.date(2026, 10, 25)),
    (2026, 3, SECOND_LAST, 7, dt.date(2026, 3, 22)),
    (2027, 3, LAST, 7, dt.date(2027, 3, 28)),
    (2027, 10, LAST, 7, dt.date(2027, 10, 31)),  # the last day of the month is itself a Sunday
    (2026, 2, LAST, None, dt.date(2026, 2, 28)),
    (2028, 2, LAST, None, dt.date(2028, 2, 29)),  # leap year
    (2026, 2, SECOND_LAST, None, dt.date(2026, 2, 27)),
    (2026, 3, 8, 7, dt.date(2026, 3, 8)),  # US rule: second Sunday of March = first Sunday on or after the 8th
    (2026, 11, 1, 7, dt.date(2026, 11, 1)),  # first Sunday of November 2026 is the 1st
    (2026, 11, None, 7, dt.date(2026, 11, 1)),
    (2026, 4, 31, None, None),  # no 31 April
])
def test_date_patterns(year: int, month: int, day: int | None, weekday: int | None, expected: dt.date | None) -> None:
    assert resolve_date(year, month, day, weekday) == expected


def test_the_faulty_firmware_counts_one_week_too_far_back() -> None:
    assert resolve_date(2026, 3, LAST, 7, wrong=True) == dt.date(2026, 3, 22)
    assert resolve_date(2026, 10, LAST, 7, wrong=True) == dt.date(2026, 10, 18)


def test_eu_transitions_2026_by_hand() -> None:
    assert dst.transitions(CET, 2026) == [(utc(2026, 3, 29, 1), True), (utc(2026, 10, 25, 1), False)]
    assert dst.transitions(CET, 2027) == [(utc(2027, 3, 28, 1), True), (utc(2027, 10, 31, 1), False)]


def test_deviation_status_and_next_switch_around_the_instants() -> None:
    begin, end = utc(2026, 3, 29, 1), utc(2026, 10, 25, 1)
    assert (dst.active(CET, begin - 1), dst.active(CET, begin)) == (False, True)
    assert (dst.deviation(CET, begin - 1), dst.deviation(CET, begin)) == (-60, -120)
    assert (dst.active(CET, end - 1), dst.active(CET, end)) == (True, False)
    assert (dst.deviation(CET, end - 1), dst.deviation(CET, end)) == (-120, -60)
    assert dst.next_transition(CET, begin - 1) == begin
    assert dst.next_transition(CET, begin) == end  # strictly after
    assert dst.next_transition(CET, end) == utc(2027, 3, 28, 1)
    # local wall clock: 01:59:59 CET is followed by 03:00:00 CEST
    assert dst.local_of(begin - 1, -60) == dt.datetime(2026, 3, 29, 1, 59, 59)
    assert dst.local_of(begin, -120) == dt.datetime(2026, 3, 29, 3, 0, 0)
    assert dst.local_of(end - 1, -120) == dt.datetime(2026, 10, 25, 2, 59, 59)
    assert dst.local_of(end, -60) == dt.datetime(2026, 10, 25, 2, 0, 0)


def test_disabled_dst_and_the_wrong_rule() -> None:
    off = DstSettings(time_zone_min=-60, enabled=False)
    assert not dst.active(off, utc(2026, 7, 1))
    assert dst.deviation(off, utc(2026, 7, 1)) == -60
    assert dst.next_transition(off, utc(2026, 1, 1)) == float("inf")
    wrong = DstSettings(time_zone_min=-60, enabled=True, wrong_rule=True)
    assert dst.transitions(wrong, 2026) == [(utc(2026, 3, 22, 1), True), (utc(2026, 10, 18, 1), False)]
    assert dst.active(wrong, utc(2026, 3, 25)) and not dst.active(CET, utc(2026, 3, 25))


def test_southern_hemisphere_rule_wraps_the_year() -> None:
    """Begin in October, end in April (e.g. 1st Sunday of October 02:00 → 1st Sunday of April 03:00, AEST +600)."""
    s = DstSettings(time_zone_min=-600, enabled=True, deviation_min=60, begin=SwitchRule(10, 1, 7, 2),
                    end=SwitchRule(4, 1, 7, 3))
    # 4 October 2026 is the first Sunday: 02:00 AEST = 16:00 UTC on the 3rd; 5 April 2026 03:00 AEDT = 16:00 UTC 4th
    assert dst.active(s, utc(2026, 1, 15))
    assert not dst.active(s, utc(2026, 6, 15))
    assert dst.next_transition(s, utc(2026, 6, 15)) == utc(2026, 10, 3, 16)
    assert dst.next_transition(s, utc(2026, 1, 15)) == utc(2026, 4, 4, 16)


@pytest.mark.parametrize("bad", [
    {"month": 13, "day": LAST, "weekday": 7, "hour": 2},
    {"month": 3, "day": None, "weekday": None, "hour": 2},
    {"month": 3, "day": 0xE0, "weekday": 7, "hour": 2},
    {"month": 3, "day": LAST, "weekday": 8, "hour": 2},
    {"month": 3, "day": LAST, "weekday": 7, "hour": 24},
])
def test_an_impossible_rule_is_refused(bad: dict[str, int | None]) -> None:
    with pytest.raises(ValueError):
        SwitchRule(**bad)  # type: ignore[arg-type]


def test_the_bench_file_keeps_dst_off_unless_configured(worlds: Any) -> None:
    """Default DlmsConfig: time zone 0, DST disabled (the EU rule for CET ready); a rule and the fault from YAML."""
    cfg = DlmsConfig()
    assert (cfg.time_zone_min, cfg.dst_enabled, cfg.dst_deviation_min) == (0, False, 60)
    world = worlds.world(meter={"dlms": {"time_zone_min": -60, "dst_enabled": True,
                                         "dst_begin": {"month": 3, "day": "second_last", "weekday": 7, "time": "02:00"},
                                         "dst_end": {"month": 10, "day": 25, "weekday": None, "time": "03:00:00"}}},
                         behaviour={"dst_rule_wrong": True})
    s = world.meters[1].tou.settings
    assert s.begin == SwitchRule(3, SECOND_LAST, 7, 2) and s.end == SwitchRule(10, 25, None, 3)
    assert s.wrong_rule and s.enabled and s.time_zone_min == -60
    plain = worlds.world().meters[1].tou
    assert not plain.engaged and plain.deviation_now() == 0
    with pytest.raises(ValueError, match="day of month or a weekday"):
        DlmsConfig.model_validate({"dst_begin": {"month": 3, "day": None, "weekday": None, "time": "02:00"}})
