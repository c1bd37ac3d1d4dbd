"""The ``tou`` kind on the default simulated bench (seed 2), a small plan run by pytest as a subprocess (as on
hardware), every verdict and value checked against the simulator's truth and figures worked out by hand.

The plan: CET (time zone −60) with the EU DST rule (last Sunday of March 02:00 CET → last Sunday of October 03:00
CEST, both 01:00 UTC: 29 March and 25 October 2026, Directive 2000/84/EC); a winter and a summer season (from
1 October / 1 April), workdays T2 / T1 from 06:00 (winter) or 07:00 (summer) / T2 from 22:00 (winter) or 21:00
(summer), weekends T3, a holiday profile T4 as the special day Tuesday 6 January 2026. Dates by hand: 1 January
2026 is a Thursday, so 5 January a Monday, 6 January a Tuesday, 25 March and 1 April Wednesdays.

Switch points and their instants by hand:

- Tue 6 Jan 00:00 CET (T2 → T4, Monday's night tariff to the holiday's) = 5 Jan 23:00 UTC;
- Wed 25 Mar 06:00 CET (T2 → T1, winter, the week before DST) = 05:00 UTC; position 2 (``dst_rule_wrong``) has been
  in CEST since 22 March, so at 04:59 UTC its clock reads 06:59 and it is in T1 already: it fails by that name;
- Wed 1 Apr 07:00 CEST (T2 → T1, the first workday switch of the summer season; the winter profile would have
  switched at 06:00) = 05:00 UTC.

Energy by hand at Imax, PF 1: P = 3 × 230 V × 60 A = 41 400 W. The clock is set 60 s before the switch (lead_s)
under the settled load and the registers are read at once, 10 s before, 10 s after and 60 s after the switch: the
old tariff gets P × 50 s = 575 Wh before, the new one P × 50 s = 575 Wh after, the 20 s around the switch 230 Wh
(115 + 115), the window 120 s P × 120 s = 1380 Wh; each meter registers that × (1 + its true error at Imax),
truncated to whole Wh (one register step 1 Wh = 1/11.5 s at 11.5 Wh/s).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from hil.results import read_results
from hil.simbench import simulated_bench
from tests.dlms.conftest import StepRun, truth_at

FAULTY = 2
P_W = 3 * 230.0 * 60.0  # 41 400 W
BEFORE_WH = P_W * 50 / 3600  # 575 Wh
SPLIT_WH = P_W * 20 / 3600  # 230 Wh
WINDOW_WH = P_W * 120 / 3600  # 1380 Wh
CALENDAR: dict[str, Any] = {
    "name": "MHIL-TOU",
    "seasons": [{"name": "winter", "start": "10-01", "week": "winter"},
                {"name": "summer", "start": "04-01", "week": "summer"}],
    "weeks": {"winter": ["wd_winter"] * 5 + ["weekend"] * 2, "summer": ["wd_summer"] * 5 + ["weekend"] * 2},
    "days": {"wd_winter": {"00:00": 2, "06:00": 1, "22:00": 2}, "wd_summer": {"00:00": 2, "07:00": 1, "21:00": 2},
             "weekend": {"00:00": 3}, "holiday": {"00:00": 4}},
    "special_days": [{"date": "2026-01-06", "day": "holiday"}],
}
EU: dict[str, Any] = {"begin": {"month": 3, "day": "last", "weekday": "sunday", "time": "02:00"},
      "end": {"month": 10, "day": "last", "weekday": "sunday", "time": "03:00"}}
PLAN = f"""\
plan: tou kind on the default bench
standard: IEC 62053-21
edition: "2020"
class: "1"
tests:
  - id: tou
    kind: tou
    time_zone_min: -60
    dst: {EU!r}
    calendar: {CALENDAR!r}
    switches:
      - {{at: "2026-01-06 00:00", label: special day}}
      - {{at: "2026-03-25 06:00", label: week before DST}}
      - {{at: "2026-04-01 07:00", label: summer season}}
"""
POINTS = {  # point id: (UTC instant by hand, old tariff, new tariff)
    "switch Tue 2026-01-06 00:00 T2→T4 (special day)": ("2026-01-05T23:00:00.000Z", 2, 4),
    "switch Wed 2026-03-25 06:00 T2→T1 (week before DST)": ("2026-03-25T05:00:00.000Z", 2, 1),
    "switch Wed 2026-04-01 07:00 T2→T1 (summer season)": ("2026-04-01T05:00:00.000Z", 2, 1),
}
DST_WEEK = "switch Wed 2026-03-25 06:00 T2→T1 (week before DST)"




@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("tou_kind")
    plan = tmp / "tou_plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    with simulated_bench(seed=2, write_to=tmp / "bench.yaml") as (rb, _):
        cmd = [sys.executable, "-m", "pytest", str(plan), "--bench", str(tmp / "bench.yaml"), "--run-dir",
               str(tmp / "run"), "-p", "no:cacheprovider", "-q"]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=300)
        assert p.returncode == 1, p.stdout + p.stderr  # position 2 fails
        after = rb.call(lambda: rb.bench.world.truth())  # as the run left the meters
        at_imax = rb.call(lambda: truth_at(rb.bench.world, 60.0))
    yield read_results(tmp / "run"), after, at_imax["meters"]


def test_the_calendar_is_written_and_read_back(run: tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]) -> None:
    df, after, _ = run
    rows = df[df["point"] == "calendar MHIL-TOU written and activated"].set_index("position")
    assert sorted(rows.index) == list(range(1, 13))
    for pos, r in rows.iterrows():
        assert r["verdict"] == "pass", (pos, r["reason"])
        assert r["quantity"] == "offset after setting" and abs(r["value"]) <= 0.02  # hundredths on both sides
        tou = after["meters"][str(pos)]["time_of_use"]
        assert tou["calendar_active"] == "MHIL-TOU" and tou["time_zone_min"] == -60 and tou["dst_enabled"]


def test_good_meters_pass_and_position_2_fails_by_name(run: tuple[pd.DataFrame, dict[str, Any],
                                                                  dict[str, Any]]) -> None:
    df, _, _ = run
    for point, (utc, old, new) in POINTS.items():
        rows = df[df["point"] == point].set_index("position")
        assert sorted(rows.index) == list(range(1, 13)), point
        for pos, r in rows.iterrows():
            assert r["switch_utc"] == utc and (r["tariff_old"], r["tariff_new"]) == (old, new)
            if pos == FAULTY and point == DST_WEEK:
                assert r["verdict"] == "fail" and r["quantity"] == "new tariff before the switch", r["reason"]
                assert "tariff 1 (1.0.1.8.1.255) advanced" in r["reason"] and "too early" in r["reason"]
                continue
            assert r["verdict"] == "pass", (point, pos, r["reason"])
            assert r["quantity"] == f"switch T{old}→T{new}" and r["unit"] == "s"
            assert abs(r["value"]) <= 1 / 11.5 + 1e-3  # one register step at 11.5 Wh/s
            assert r["upper_limit"] == 2.0 and r["other_tariffs_advance_wh"] == 0


def test_tariff_energies_by_hand(run: tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]) -> None:
    df, _, meters = run
    for _, r in df[df["point"].isin(POINTS)].iterrows():
        k = 1 + meters[str(r["position"])]["error_pct"] / 100  # what the meter registers of P × t
        assert r["reference_wh"] == pytest.approx(WINDOW_WH, rel=2e-4)  # the simulated reference's class 0.02
        assert abs(r["total_advance_wh"] - WINDOW_WH * k) <= 1.0 + 1e-6
        assert abs(r["energy_error_pct"] - (k - 1) * 100) <= 100 / WINDOW_WH + 0.02  # a step + the reference
        assert r["resolution_pct"] == pytest.approx(100 / WINDOW_WH, abs=1e-4)  # 0.0725 %
        assert abs(r["split_old_wh"] + r["split_new_wh"] - SPLIT_WH * k) <= 2.0 + 1e-6
        if r["position"] == FAULTY and r["point"] == DST_WEEK:  # tariff 1 since 04:00 UTC: all of it in T1
            assert abs(r["before_new_wh"] - BEFORE_WH * k) <= 1.0 + 1e-6
            assert r["before_old_wh"] == 0 and r["split_old_wh"] == 0 and r["after_old_wh"] == 0
            continue
        assert abs(r["before_old_wh"] - BEFORE_WH * k) <= 1.0 + 1e-6 and r["before_new_wh"] == 0
        assert abs(r["after_new_wh"] - BEFORE_WH * k) <= 1.0 + 1e-6 and r["after_old_wh"] == 0
        assert abs(r["split_old_wh"] - SPLIT_WH / 2 * k) <= 1.0 + 1e-6  # the switch in the middle


def test_the_clocks_are_back_on_the_reference_time(run: tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]) -> None:
    _, after, _ = run
    now = dt.datetime.fromisoformat(after["datetime"])
    for pos, m in after["meters"].items():
        assert abs((dt.datetime.fromisoformat(m["clock"]) - now).total_seconds()) < 0.05, pos


def test_clocks_set_back_when_a_switch_step_is_interrupted(tmp_path: Path) -> None:
    """An exception in the middle of a switch (here the bench clock's sleep): the source back to no current and every
    meter's clock back on the reference time before the exception goes on."""
    from hil.bench import Bench
    from hil.core.expand import expand_plan
    from hil.core.plan import MeasureOptions, load_plan
    from hil.standards import default_library

    plan_path = tmp_path / "tou_plan.yaml"
    plan_path.write_text(PLAN, encoding="utf-8")
    with simulated_bench(seed=2, write_to=tmp_path / "bench.yaml") as (rb, bench_file):
        steps = expand_plan(load_plan(plan_path), bench_file, default_library())
        with Bench.open(tmp_path / "bench.yaml") as bench:
            session: Any = StepRun(bench, MeasureOptions())
            steps[0].run(session, steps[0])  # programmed
            real_sleep = bench.clock.sleep

            def sleep(seconds: float) -> None:
                if seconds > 30:  # the wait towards the switch, after every clock was set 60 s before it
                    raise RuntimeError("stop requested")
                real_sleep(seconds)

            bench.clock.sleep = sleep
            with pytest.raises(RuntimeError, match="stop requested"):
                steps[1].run(session, steps[1])
            truth = rb.call(lambda: rb.bench.world.truth())
    now = dt.datetime.fromisoformat(truth["datetime"])
    for pos, m in truth["meters"].items():
        assert abs((dt.datetime.fromisoformat(m["clock"]) - now).total_seconds()) < 0.05, pos
    assert all(ph["current"] == 0 for ph in truth["source"]["phases"].values())




def _tou(**changes: Any) -> dict[str, Any]:
    test: dict[str, Any] = {"id": "t", "kind": "tou", "time_zone_min": -60, "dst": EU, "calendar": CALENDAR,
                            "switches": [{"at": "2026-01-07 06:00"}]}
    test.update(changes)
    return test


@pytest.mark.parametrize(("changes", "message"), [
    ({"switches": [{"at": "2026-01-07 07:00"}]}, "the calendar does not change tariff then (tariff 1 before, 1"),
    ({"switches": [{"at": "2026-03-29 02:30"}]}, "is not one instant: DST skips it"),
    ({"switches": [{"at": "2026-10-25 02:30"}]}, "DST repeats it"),
    ({"switches": [{"at": "2026-01-07 06:00"}], "lead_s": 30000},
     "switches again within its window (2026-01-07 00:00:00 (tariff 4 → 2))"),
    ({"calendar": {**CALENDAR, "days": {**CALENDAR["days"], "weekend": {360: 3}}}}, "must be a quoted string"),
    ({"calendar": {**CALENDAR, "weeks": {"winter": ["wd_winter"] * 6, "summer": CALENDAR["weeks"]["summer"]}}},
     "7 day profiles (Monday … Sunday), got 6"),
    ({"calendar": {**CALENDAR, "seasons": [{"name": "winter", "start": "10-01", "week": "nope"}]}},
     "no week profile 'nope'"),
    ({"split_s": 1}, "split_s 1 s must be more than max_switch_error_s 2 s"),
])
def test_plan_errors_name_the_problem(changes: dict[str, Any], message: str) -> None:
    from hil.kinds.dlms.tou import TouTest

    with pytest.raises(ValidationError) as err:
        TouTest.model_validate(_tou(**changes))
    assert message in str(err.value)


def test_the_calendar_by_hand() -> None:
    """The kind's own evaluation (Blue Book 4.5.5: season by its latest start, a special day replaces the day
    profile, before a day's first action the day before's last one stays in force)."""
    from hil.kinds.dlms.tou import TouTest

    cal = TouTest.model_validate(_tou()).calendar
    at = dt.datetime
    assert cal.tariff_at(at(2026, 1, 5, 5, 59)) == 2 and cal.tariff_at(at(2026, 1, 5, 6)) == 1  # Monday, winter
    assert cal.tariff_at(at(2026, 1, 6, 12)) == 4  # the special day
    assert cal.tariff_at(at(2026, 1, 10, 12)) == 3  # Saturday
    assert cal.tariff_at(at(2026, 4, 1, 6, 30)) == 2 and cal.tariff_at(at(2026, 4, 1, 7)) == 1  # summer from 1 April
    assert cal.tariff_at(at(2026, 10, 1, 6, 30)) == 1  # winter again from 1 October (a Thursday)
    assert cal.changes(at(2026, 1, 5, 23), at(2026, 1, 7, 7)) == [
        (at(2026, 1, 6), 2, 4), (at(2026, 1, 7), 4, 2), (at(2026, 1, 7, 6), 2, 1)]
