"""The ``clock_dst`` kind on the default simulated bench (seed 2), a small plan run by pytest as a subprocess (as on
hardware), every verdict and value checked against the simulator's truth and instants worked out by hand.

The plan writes CET (time zone −60) with the EU rule (last Sunday of March 02:00 → last Sunday of October 03:00,
deviation 60) and runs across both switches of 2026. By hand: 31 March 2026 is a Tuesday, so the last Sunday of
March is the 29th; 31 October a Saturday, so the last Sunday of October is the 25th. DST begins 29 March 02:00 CET =
01:00 UTC (clock 02:00 → 03:00, deviation −60 → −120, status bit 0x80 set) and ends 25 October 03:00 CEST = 01:00 UTC
(03:00 → 02:00, −120 → −60, bit cleared), as Directive 2000/84/EC says (01:00 UTC both times). Position 2
(``dst_rule_wrong``) takes the second-last Sunday for the last one: 22 March and 18 October, a week early — at the
rule's instants it has already switched, and the kind finds when it did.
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
from tests.dlms.conftest import StepRun

FAULTY = 2
PLAN = """\
plan: clock_dst kind on the default bench
standard: IEC 62053-21
edition: "2020"
class: "1"
tests:
  - id: clock_dst
    kind: clock_dst
    time_zone_min: -60
    dst: {deviation_min: 60, begin: {month: 3, day: last, weekday: sunday, time: "02:00"},
          end: {month: 10, day: last, weekday: sunday, time: "03:00"}}
    year: 2026
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[pd.DataFrame, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("clock_dst_kind")
    plan = tmp / "clock_dst_plan.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    with simulated_bench(seed=2, write_to=tmp / "bench.yaml") as (rb, _):
        cmd = [sys.executable, "-m", "pytest", str(plan), "--bench", str(tmp / "bench.yaml"), "--run-dir",
               str(tmp / "run"), "-p", "no:cacheprovider", "-q"]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp, timeout=300)
        assert p.returncode == 1, p.stdout + p.stderr  # position 2 fails
        after = rb.call(lambda: rb.bench.world.truth())
    yield read_results(tmp / "run"), after


def test_clock_set_against_the_bench_clock(run: tuple[pd.DataFrame, dict[str, Any]]) -> None:
    df, after = run
    rows = df[df["point"] == "clock set"].set_index("position")
    assert sorted(rows.index) == list(range(1, 13))
    for pos, r in rows.iterrows():
        assert r["verdict"] == "pass", (pos, r["reason"])
        assert r["quantity"] == "offset after setting" and abs(r["value"]) <= 0.02  # hundredths both ways
        # 5 January: winter, CET for every meter (position 2's DST runs 22 March – 18 October)
        assert r["expected_deviation"] == -60 and "deviation -60 min, status 0x00" in r["clock_read"]
        tou = after["meters"][str(pos)]["time_of_use"]
        assert tou["time_zone_min"] == -60 and tou["dst_enabled"] and not tou["dst_active"]


@pytest.mark.parametrize(("point", "instant", "before", "after", "found"), [
    ("DST begin 2026", "2026-03-29T01:00:00.000Z", ("2026-03-29 01:59:58", -60, "0x00"),
     ("2026-03-29 03:00:30", -120, "0x80"), "its DST began at 2026-03-22T01:00:00.000Z, 7 d before"),
    ("DST end 2026", "2026-10-25T01:00:00.000Z", ("2026-10-25 02:59:58", -120, "0x80"),
     ("2026-10-25 02:00:30", -60, "0x00"), "its DST ended at 2026-10-18T01:00:00.000Z, 7 d before"),
])
def test_each_switch_at_the_rule_instant_and_position_2_a_week_early(
        run: tuple[pd.DataFrame, dict[str, Any]], point: str, instant: str, before: tuple[str, int, str],
        after: tuple[str, int, str], found: str) -> None:
    df, _ = run
    rows = df[df["point"] == point].set_index("position")
    assert sorted(rows.index) == list(range(1, 13))
    for pos, r in rows.iterrows():
        assert r["rule_instant"] == instant
        # the first read comes 4.5 polls (1.125 s) before the instant, the last 30 s after it
        assert r["read_before_s"] == pytest.approx(-1.125) and r["read_after_s"] == pytest.approx(30.0)
        if pos == FAULTY:  # already switched a week before
            assert r["verdict"] == "fail" and r["quantity"] == "state before the switch", r["reason"]
            assert f"no switch at the rule's {point[:-5]} {instant}" in r["reason"] and found in r["reason"]
            assert r["read_before"].startswith(after[0][:11]) and f"deviation {after[1]} min" in r["read_before"]
            continue
        assert r["verdict"] == "pass", (pos, r["reason"])
        # (a clock a few ppm slow reads 0.1 ms behind, so one second less where whole seconds are shown)
        for read, (local, dev, status) in ((r["read_before"], before), (r["read_after"], after)):
            stamp, rest = read[:19], read[19:]
            off = (dt.datetime.fromisoformat(stamp) - dt.datetime.fromisoformat(local)).total_seconds()
            assert off in (0, -1) and rest.startswith(f" deviation {dev} min, status {status}"), read
        assert r["quantity"] == f"{point[:-5]} instant" and r["unit"] == "s" and r["upper_limit"] == 1.0
        assert r["value"] == pytest.approx(0.0, abs=1e-9)  # the meters' clocks switch exactly on the virtual clock
        assert list(r["switch_between_s"]) == [-0.125, 0.125]  # between the reads half a poll either side
        assert r["value_uncertainty"] == pytest.approx(2 * 0.125 / 3 ** 0.5, abs=1e-3)
        assert abs(r["local_after_error_s"]) <= 0.01 and abs(r["utc_step_s"]) <= 0.01  # hundredths


def test_the_clocks_are_back_on_the_reference_time(run: tuple[pd.DataFrame, dict[str, Any]]) -> None:
    _, after = run
    now = dt.datetime.fromisoformat(after["datetime"])
    for pos, m in after["meters"].items():
        assert abs((dt.datetime.fromisoformat(m["clock"]) - now).total_seconds()) < 0.05, pos


def test_clocks_set_back_when_a_switch_step_is_interrupted(tmp_path: Path) -> None:
    from hil.bench import Bench
    from hil.core.expand import expand_plan
    from hil.core.plan import MeasureOptions, load_plan
    from hil.standards import default_library

    plan_path = tmp_path / "plan.yaml"
    plan_path.write_text(PLAN, encoding="utf-8")
    with simulated_bench(seed=2, write_to=tmp_path / "bench.yaml") as (rb, bench_file):
        steps = expand_plan(load_plan(plan_path), bench_file, default_library())
        with Bench.open(tmp_path / "bench.yaml") as bench:
            session: Any = StepRun(bench, MeasureOptions())
            steps[0].run(session, steps[0])
            real_sleep = bench.clock.sleep

            def sleep(seconds: float) -> None:
                if seconds > 20:  # the wait towards the first read, every clock set 30 s before the switch
                    raise RuntimeError("stop requested")
                real_sleep(seconds)

            bench.clock.sleep = sleep
            with pytest.raises(RuntimeError, match="stop requested"):
                steps[1].run(session, steps[1])
            truth = rb.call(lambda: rb.bench.world.truth())
    now = dt.datetime.fromisoformat(truth["datetime"])
    for pos, m in truth["meters"].items():  # not 29 March: back on the reference time of 5 January
        assert abs((dt.datetime.fromisoformat(m["clock"]) - now).total_seconds()) < 0.05, pos




def test_rule_instants_by_hand() -> None:
    """The bench's own arithmetic of a rule: the EU rule for CET, and the US rule for US Eastern (second Sunday of
    March 02:00 EST → first Sunday of November 02:00 EDT; time zone +300: 2026-03-08 07:00 UTC and 2026-11-01 06:00
    UTC, 1 March and 1 November 2026 being Sundays)."""
    from hil.kinds.dlms.timekeeping import DstRule, Zone

    utc = dt.UTC
    eu = Zone(-60, DstRule())
    assert eu.begin_end(2026) == (dt.datetime(2026, 3, 29, 1, tzinfo=utc), dt.datetime(2026, 10, 25, 1, tzinfo=utc))
    assert eu.begin_end(2027) == (dt.datetime(2027, 3, 28, 1, tzinfo=utc), dt.datetime(2027, 10, 31, 1, tzinfo=utc))
    assert eu.deviation(dt.datetime(2026, 3, 29, 0, 59, 59, tzinfo=utc)) == -60
    assert eu.deviation(dt.datetime(2026, 3, 29, 1, tzinfo=utc)) == -120
    assert eu.local(dt.datetime(2026, 10, 25, 0, 30, tzinfo=utc)).strftime("%H:%M %z") == "02:30 +0200"
    assert eu.local(dt.datetime(2026, 10, 25, 1, 30, tzinfo=utc)).strftime("%H:%M %z") == "02:30 +0100"
    us = Zone(300, DstRule.model_validate({"begin": {"month": 3, "day": 8, "weekday": 7, "time": "02:00"},
                                            "end": {"month": 11, "weekday": "sunday", "time": "02:00"}}))
    assert us.begin_end(2026) == (dt.datetime(2026, 3, 8, 7, tzinfo=utc), dt.datetime(2026, 11, 1, 6, tzinfo=utc))
    assert us.rule is not None and us.rule.begin.cosem().encode().hex() == "ffff030807020000008000ff"
    assert DstRule().begin.text() == "last Sunday of March 02:00"


@pytest.mark.parametrize(("changes", "message"), [
    ({"dst": {"enabled": False}}, "there is no DST switch to test"),
    ({"dst": {"begin": {"month": 3, "time": "02:00"}}}, "a DST switch needs a day of month or a weekday"),
    ({"dst": {"begin": {"month": 13, "day": 1}}}, "less than or equal to 12"),
    ({"dst": {"begin": {"month": 3, "day": "last", "weekday": "sun"}}}, "weekday 'sun'"),
    ({"dst": {"begin": {"month": 3, "day": "last", "weekday": 7, "time": 120}}}, "must be a quoted string"),
    ({"lead_s": 2}, "greater than or equal to 5"),
    ({"poll_s": 4, "lead_s": 5}, "lead_s 5 s must be more than 7 s"),
    ({"switches": ["begin", "begin"]}, "each of begin / end once"),
])
def test_plan_errors_name_the_problem(changes: dict[str, Any], message: str) -> None:
    from hil.kinds.dlms.clock_dst import ClockDstTest

    with pytest.raises(ValidationError) as err:
        ClockDstTest.model_validate({"id": "c", "kind": "clock_dst", **changes})
    assert message in str(err.value)
