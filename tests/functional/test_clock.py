"""The meter clock over its port: tick timing, setting, drift — against a fake meter whose clock is known exactly.

The fake port answers ``0.9.1``/``0.9.2`` from a clock ``meter = reference + offset + rate × t`` and records
writes with the bench time they arrived, so every expected value is worked out by hand from those numbers.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from hil.core.plan import load_plan
from hil.kinds.functional.clock import (
    ClockUnreadable,
    drift_s_per_day,
    parse_meter_time,
    read_at_tick,
    set_to_reference,
)
from hil.kinds.functional.model import ClockTest, TariffTest
from instruments.yamlconfig import ConfigError

EPOCH = datetime(2026, 3, 2, 9, 15, 30, 250000, tzinfo=UTC)  # reference time at bench time 0


class Clock:
    """Bench time that only ``sleep`` moves; the reference time is EPOCH + now."""

    def __init__(self, now: float = 0.0) -> None:
        self.t = now

    def now(self) -> float:
        return self.t

    def utc(self) -> datetime:
        return EPOCH + timedelta(seconds=self.t)

    def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)


class MeterPort:
    """A meter clock ``offset_s`` ahead of the reference at t = 0, running ``ppm`` fast, shown in ``zone``.
    Each read takes ``latency_s`` of bench time (the meter samples its clock in the middle)."""

    def __init__(self, clock: Clock, offset_s: float, ppm: float = 0.0, zone: str = "UTC",
                 latency_s: float = 0.0, stopped: bool = False) -> None:
        self.clock, self.offset, self.rate = clock, offset_s, 1 + ppm * 1e-6
        self.zone, self.latency, self.stopped = ZoneInfo(zone), latency_s, stopped
        self.base_t = 0.0
        self.writes: list[tuple[float, str, str]] = []

    def meter_time(self, t: float) -> datetime:
        elapsed = 0.0 if self.stopped else (t - self.base_t) * self.rate
        return (EPOCH + timedelta(seconds=self.base_t + self.offset + elapsed)).astimezone(self.zone)

    def read(self, address: str) -> str:
        self.clock.sleep(self.latency / 2)
        now = self.meter_time(self.clock.t)
        self.clock.sleep(self.latency / 2)
        return now.strftime("%H:%M:%S") if address == "0.9.1" else now.strftime("%y-%m-%d")

    def write(self, address: str, value: str) -> None:
        t = self.clock.t
        self.writes.append((t, address, value))
        cur = self.meter_time(t)
        if address == "0.9.1":
            hh, mm, ss = (int(x) for x in value.split(":"))
            new = cur.replace(hour=hh, minute=mm, second=ss, microsecond=0)
        else:
            yy, mo, dd = (int(x) for x in value.split("-"))
            new = cur.replace(year=2000 + yy, month=mo, day=dd)
        # the meter's clock restarts from ``new`` at bench time t
        self.base_t, self.offset = t, (new - EPOCH).total_seconds() - t


def test_offset_found_at_the_tick_within_half_a_poll() -> None:
    clock = Clock()
    port = MeterPort(clock, offset_s=3.6)  # reference 09:15:30.250 → meter 09:15:33.850; ticks at t = 0.15, 1.15 …
    r = read_at_tick(port, clock, ZoneInfo("UTC"), poll_s=0.05)
    assert r.offset_s == pytest.approx(3.6, abs=0.025 + 1e-9)
    assert r.half_width_s == pytest.approx(0.025)
    assert r.meter_time == datetime(2026, 3, 2, 9, 15, 34, tzinfo=UTC)  # the second the meter ticked into
    assert 0.15 - 0.025 - 1e-9 <= r.bench_time_s <= 0.15 + 0.025 + 1e-9
    # a slow port widens the interval by one exchange: the bound still holds
    clock2 = Clock()
    slow = MeterPort(clock2, offset_s=-1.3, latency_s=0.2)
    r2 = read_at_tick(slow, clock2, ZoneInfo("UTC"), poll_s=0.05)
    assert r2.half_width_s == pytest.approx((0.05 + 0.2 + 0.2) / 2)
    assert abs(r2.offset_s - (-1.3)) <= r2.half_width_s + 1e-9


def test_meter_time_in_its_own_zone() -> None:
    # Berlin in March is UTC+1: 10:15:33 local is 09:15:33 UTC
    t = parse_meter_time("10:15:33", "26-03-02", ZoneInfo("Europe/Berlin"))
    assert t.astimezone(UTC) == datetime(2026, 3, 2, 9, 15, 33, tzinfo=UTC)
    clock = Clock()
    port = MeterPort(clock, offset_s=0.7, zone="Europe/Berlin")
    r = read_at_tick(port, clock, ZoneInfo("Europe/Berlin"), poll_s=0.01)
    assert r.offset_s == pytest.approx(0.7, abs=0.005 + 1e-9)
    with pytest.raises(ClockUnreadable):
        parse_meter_time("25:61:00", "26-03-02", ZoneInfo("UTC"))


def test_a_stopped_clock_is_reported_not_waited_for_forever() -> None:
    clock = Clock()
    with pytest.raises(ClockUnreadable, match="stayed at"):
        read_at_tick(MeterPort(clock, 0.0, stopped=True), clock, ZoneInfo("UTC"), poll_s=0.1)
    assert clock.t < 5.0


def test_set_writes_the_time_on_the_whole_second_then_the_date() -> None:
    clock = Clock()
    port = MeterPort(clock, offset_s=-3725.4)  # an hour and a bit behind
    set_to = set_to_reference(port, clock, ZoneInfo("UTC"))
    (t_time, a_time, v_time), (t_date, a_date, v_date) = port.writes
    # the next whole reference second after 09:15:30.25, plus one: 09:15:32 at bench time 1.75
    assert set_to == datetime(2026, 3, 2, 9, 15, 32, tzinfo=UTC)
    assert (a_time, v_time) == ("0.9.1", "09:15:32") and t_time == pytest.approx(1.75)
    assert (a_date, v_date) == ("0.9.2", "26-03-02") and t_date >= t_time
    r = read_at_tick(port, clock, ZoneInfo("UTC"), poll_s=0.02)
    assert abs(r.offset_s) <= r.half_width_s + 1e-9


@pytest.mark.parametrize("meter_offset_s", [0.0, -3 * 3600.0 - 57.0, 86400.0 - 2.0])
def test_set_near_midnight_lands_on_the_right_day(meter_offset_s: float) -> None:
    """23:59:57.5 reference time (Berlin, UTC+1): the target moves just past midnight, and whatever the meter
    showed — right, hours behind, or a day ahead at 23:59:55 — its clock reads the reference time afterwards."""
    clock = Clock(now=(datetime(2026, 3, 2, 22, 59, 57, 500000, tzinfo=UTC) - EPOCH).total_seconds())
    port = MeterPort(clock, offset_s=meter_offset_s, zone="Europe/Berlin")
    set_to = set_to_reference(port, clock, ZoneInfo("Europe/Berlin"))
    assert set_to.astimezone(ZoneInfo("Europe/Berlin")).time().isoformat() == "00:00:09"
    assert [v for _, _, v in port.writes] == ["00:00:09", "26-03-03"]
    r = read_at_tick(port, clock, ZoneInfo("Europe/Berlin"), poll_s=0.02)
    assert abs(r.offset_s) <= r.half_width_s + 1e-9  # not a day off


def test_drift_by_hand() -> None:
    clock = Clock()
    port = MeterPort(clock, offset_s=0.4, ppm=12.0)  # 12 ppm = 1.0368 s/day
    a = read_at_tick(port, clock, ZoneInfo("UTC"), poll_s=0.01)
    clock.sleep(3 * 86400)
    b = read_at_tick(port, clock, ZoneInfo("UTC"), poll_s=0.01)
    drift, u = drift_s_per_day(a, b)
    assert drift == pytest.approx(12e-6 * 86400, abs=(0.005 + 0.005) / 3)
    # rectangular half widths 0.005 s each, k = 2, over 3 days
    assert u == pytest.approx(2 * math.hypot(0.005, 0.005) / math.sqrt(3) / 3, rel=1e-3)
    with pytest.raises(ValueError):
        drift_s_per_day(b, a)


def test_plan_models_refuse_what_cannot_run() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        ClockTest.model_validate({"id": "c", "kind": "clock", "meter_timezone": "Mars/Olympus"})
    with pytest.raises(ValidationError, match="greater than 0"):
        ClockTest.model_validate({"id": "c", "kind": "clock", "duration_h": 0})
    base = {"id": "t", "kind": "tariff"}
    with pytest.raises(ValidationError, match="hh:mm"):
        TariffTest.model_validate({**base, "schedule": [{"at": "6:00", "tariff": 1}, {"at": "22:00", "tariff": 2}]})
    with pytest.raises(ValidationError, match="same time"):
        TariffTest.model_validate({**base, "schedule": [{"at": "06:00", "tariff": 1}, {"at": "06:00", "tariff": 2}]})
    with pytest.raises(ValidationError, match="no register for tariff 3"):
        TariffTest.model_validate({**base, "schedule": [{"at": "06:00", "tariff": 1}, {"at": "22:00", "tariff": 3}]})
    with pytest.raises(ValidationError, match="no switch"):
        TariffTest.model_validate({**base, "schedule": [{"at": "06:00", "tariff": 1}, {"at": "22:00", "tariff": 1}]})
    t = TariffTest.model_validate({**base, "schedule": [{"at": "22:00", "tariff": 2}, {"at": "06:00", "tariff": 1},
                                                        {"at": "12:00", "tariff": 1}]})
    # 12:00 keeps tariff 1: no switch there; the others are switches, each with the tariff before it
    assert [(s.at, s.tariff, before) for s, before in t.switches()] == [("06:00", 1, 2), ("22:00", 2, 1)]


def test_bad_functional_plan_names_file_line_and_field(tmp_path: Path) -> None:
    plan = tmp_path / "bad.yaml"
    plan.write_text('plan: p\nstandard: IEC 62053-21\nedition: "2020"\ntests:\n  - id: t\n    kind: tariff\n'
                    '    schedule:\n      - {at: "06:00", tariff: 1}\n      - {at: "25:00", tariff: 2}\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_plan(plan)
    assert err.value.file.endswith("bad.yaml") and err.value.line == 9
    assert err.value.field == "tests[0].schedule[1].at" and "hh:mm" in err.value.message


def test_guard_band_on_a_value_in_its_own_unit() -> None:
    from hil.core.measurement import judge_one
    from hil.kinds.functional.tasks import _value
    from hil.measure.accuracy import PositionOutcome

    def judged(value: float, u: float, rule: str, conditional: str = "fail") -> tuple[str, str | None, str]:
        o = PositionOutcome(1, "S", 0, 0, None, 0.0, None, extra={"value": value, "value_uncertainty": u})
        j = judge_one(_value(o, "drift", 0.5, "s/day", rule, "measure longer", conditional))
        return j.verdict, j.outcome, j.reason

    # 0.45 within ±0.5 but 0.45 + 0.1 > 0.5: a conditional pass (ILAC-G8, w = U)
    assert judged(0.45, 0.1, "simple") == (
        "pass", "pass", "drift +0.450 s/day within ±0.5 s/day (U = 0.1 s/day, pass, simple)")
    verdict, outcome, why = judged(0.45, 0.1, "guard_band")
    assert (verdict, outcome) == ("fail", "conditional_pass") and "within ±0.5 s/day" in why
    assert judged(0.45, 0.1, "guard_band", "pass")[:2] == ("pass", "conditional_pass")
    assert judged(-0.3, 0.1, "guard_band")[:2] == ("pass", "pass")  # 0.3 + 0.1 ≤ 0.5
    assert judged(0.55, 0.1, "guard_band", "pass")[:2] == ("fail", "conditional_fail")  # never accepted
    # U = 0.2 > 0.5 / 5: said so, with the remedy
    assert "exceeds 1/5 of the limit: measure longer" in judged(0.1, 0.2, "simple")[2]
