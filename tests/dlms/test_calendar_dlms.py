"""Activity calendar, special days, tariff scripts and DST over DLMS (TCP wrapper, MeterHIL's DlmsPort, management
client with HLS-GMAC), against the simulator's truth and against energies and instants worked out by hand.

Bench: tests/dlms/tou_bench.py (no clock drift; CET; epoch Friday 27 March 2026 12:00 UTC). Dates by hand: 28 March
2026 Saturday, 29 March Sunday (the last of March: DST from 01:00 UTC), 30 March Monday, 31 March Tuesday;
18 October Sunday (second-last), 25 October Sunday (last: DST ends 01:00 UTC).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from typing import Any

import pytest

from instruments.dlms.apdu import DataAccessResult
from instruments.dlms.axdr import Data
from instruments.dlms.cosem import CosemDateTime, Obis
from instruments.drivers.dlms import DlmsFault
from instruments.simulators.bench import RunningBench
from tests.dlms.tou_bench import CLOCK, Port, advance, advance_to, energise, now, opener, running_bench, utc
from tests.helpers import Opener, truth

CALENDAR = "0.0.13.0.0.255"
SCRIPTS = "0.0.10.0.100.255"
SPECIAL_DAYS = "0.0.11.0.0.255"
ACTIVE_TARIFF = "0.0.96.14.0.255"
S = bytes(Obis.parse(SCRIPTS))
TARIFFS = ("1.8.1", "1.8.2", "1.8.3", "1.8.4")


@pytest.fixture
def sim() -> Iterator[RunningBench]:
    yield from running_bench()


@pytest.fixture
def port(sim: RunningBench) -> Iterator[Port]:
    open_, opened = opener(sim)
    yield open_
    for p in opened:
        p.close()
        p.transport.close()


# -- encodings of a calendar as a client writes it (Blue Book 4.5.5) ------------------------------------------
def season(name: bytes, month: int, day: int, week: bytes) -> Data:
    start = CosemDateTime(None, month, day, None, 0, 0, 0, 0, None, None)
    return Data.structure([Data.octets(name), start.to_data(), Data.octets(week)])


def week(name: bytes, *days: int) -> Data:
    return Data.structure([Data.octets(name), *(Data.uint8(d) for d in days)])


def day(day_id: int, *actions: tuple[int, int, int]) -> Data:
    return Data.structure([Data.uint8(day_id), Data.array(
        Data.structure([Data.octets(bytes([h, m, 0, 0])), Data.octets(S), Data.uint16(sel)]) for h, m, sel in actions)])


def special(index: int, year: int, month: int, mday: int, day_id: int) -> Data:
    date = year.to_bytes(2, "big") + bytes([month, mday, 0xFF])
    return Data.structure([Data.uint16(index), Data.octets(date), Data.uint8(day_id)])


def local_dt(*args: int, deviation: int | None = None) -> Data:
    y, mo, d, h, mi = args
    return CosemDateTime(y, mo, d, None, h, mi, 0, 0, deviation, None).to_data()


def write_passive(m: Any, name: bytes, seasons: list[Data], weeks: list[Data], days: list[Data]) -> None:
    m.set(20, CALENDAR, 6, Data.octets(name))
    m.set(20, CALENDAR, 7, Data.array(seasons))
    m.set(20, CALENDAR, 8, Data.array(weeks))
    m.set(20, CALENDAR, 9, Data.array(days))


def registers(control: Any, position: int) -> dict[str, float]:
    regs: dict[str, float] = truth(control)["meters"][str(position)]["registers"]
    return {k: regs.get(k, 0.0) for k in ("1.8.0", *TARIFFS)}


def registered_kw(control: Any, position: int) -> float:
    t = truth(control)
    true_w = sum(ph["active_power"] for ph in t["source"]["phases"].values())
    return float(true_w * (1 + t["meters"][str(position)]["error_pct"] / 100) / 1000)


def _wh(kwh: float) -> int:
    return math.floor(round(kwh * 1000.0, 6))


def test_a_written_calendar_drives_the_tariff_registers_in_its_windows(port: Port, visa: Opener) -> None:
    """Two seasons (winter weekdays 06–22 T1 else T2, weekends T3; spring from 28 March: T4 08–20 else T2), a
    special day (Monday 30 March: the weekend profile), activation at 18:00 local of Friday 27 March; DST begins on
    Sunday 29 March at 01:00 UTC, so the spring windows move by one hour in UTC."""
    _, control = energise(visa)
    advance_to(control, utc(2026, 3, 27, 13))
    m = port(1)
    write_passive(m, b"SPRING26",
                  [season(b"winter", 10, 1, b"W"), season(b"spring", 3, 28, b"S")],
                  [week(b"W", 1, 1, 1, 1, 1, 2, 2), week(b"S", 3, 3, 3, 3, 3, 3, 3)],
                  [day(1, (0, 0, 2), (6, 0, 1), (22, 0, 2)), day(2, (0, 0, 3)),
                   day(3, (0, 0, 2), (8, 0, 4), (20, 0, 2))])
    m.action(11, SPECIAL_DAYS, 1, special(1, 2026, 3, 30, 2))
    m.set(20, CALENDAR, 10, local_dt(2026, 3, 27, 18, 0))  # no deviation: the meter's local time (CET)
    assert m.get(20, CALENDAR, 6).value == b"SPRING26" and m.get(20, CALENDAR, 2).value == b""
    assert m.get(20, CALENDAR, 9).plain() == [
        [1, [[bytes([0, 0, 0, 0]), S, 2], [bytes([6, 0, 0, 0]), S, 1], [bytes([22, 0, 0, 0]), S, 2]]],
        [2, [[bytes([0, 0, 0, 0]), S, 3]]],
        [3, [[bytes([0, 0, 0, 0]), S, 2], [bytes([8, 0, 0, 0]), S, 4], [bytes([20, 0, 0, 0]), S, 2]]]]
    assert m.get(11, SPECIAL_DAYS, 2).plain() == [[1, bytes([0x07, 0xEA, 3, 30, 0xFF]), 2]]
    # (end of the stretch in UTC, the tariff over it): worked out from the tables and the DST rule by hand
    stretches = [
        (utc(2026, 3, 27, 17), "1.8.1"),  # fixed schedule (06–22 UTC) until the activation at 18:00 CET
        (utc(2026, 3, 27, 21), "1.8.1"),  # winter Friday, day 1: T1 until 22:00 CET
        (utc(2026, 3, 28, 7), "1.8.2"),  # T2; spring from Saturday 00:00 CET (day 3 starts with T2 as well)
        (utc(2026, 3, 28, 19), "1.8.4"),  # spring 08:00–20:00 CET
        (utc(2026, 3, 29, 6), "1.8.2"),  # until 08:00 CEST (DST began at 01:00 UTC)
        (utc(2026, 3, 29, 18), "1.8.4"),  # 08:00–20:00 CEST
        (utc(2026, 3, 29, 22), "1.8.2"),  # until Monday 00:00 CEST
        (utc(2026, 3, 30, 22), "1.8.3"),  # Monday 30 March, the special day: day 2 all day
        (utc(2026, 3, 31, 6), "1.8.2"),  # Tuesday: spring day 3 again
        (utc(2026, 3, 31, 7), "1.8.4"),
    ]
    kw = registered_kw(control, 1)
    before, start = registers(control, 1), now(control)
    for end, tariff in stretches:
        advance_to(control, end)
        after = registers(control, 1)
        delta = {k: after[k] - before[k] for k in after}
        hours = (end - start).total_seconds() / 3600
        assert delta["1.8.0"] == pytest.approx(kw * hours, abs=0.001), end  # the energy by hand, to 1 Wh
        for reg in TARIFFS:  # only the tariff of the stretch advanced, by all of it: the switches were exact
            assert delta[reg] == pytest.approx(delta["1.8.0"] if reg == tariff else 0.0, abs=1e-9), (end, reg)
        for reg in TARIFFS:  # and the meter shows it over DLMS
            assert m.register(f"1.0.1.8.{reg[-1]}.255").value == _wh(after[reg])
        before, start = after, end
    assert m.get(20, CALENDAR, 2).value == b"SPRING26"  # active since 18:00 CET
    assert m.get(20, CALENDAR, 5) == m.get(20, CALENDAR, 9)
    assert m.get(1, ACTIVE_TARIFF, 2).value == 4
    standard = m.profile("0.0.99.98.0.255").rows
    activated = [r for r in standard if r[1] == 9]  # TOU activated
    assert [r[0] for r in activated] == [utc(2026, 3, 27, 17)]


def test_activation_by_method_script_execution_and_special_days(port: Port, visa: Opener) -> None:
    """Position 4 (CET, no DST): one season, every day T3 from 00:00 and T4 from 12:00 local."""
    _, control = energise(visa)
    advance_to(control, utc(2026, 3, 27, 13))
    m = port(4)
    write_passive(m, b"FLAT", [season(b"all", 1, 1, b"A")], [week(b"A", *([1] * 7))], [day(1, (0, 0, 3), (12, 0, 4))])
    assert m.get(1, ACTIVE_TARIFF, 2).value == 1  # the fixed schedule still runs
    m.action(20, CALENDAR, 1, Data.int8(0))  # activate_passive_calendar now: 14:00 CET → T4
    assert m.get(1, ACTIVE_TARIFF, 2).value == 4
    before = registers(control, 4)
    advance_to(control, utc(2026, 3, 27, 23))  # midnight CET → T3
    after = registers(control, 4)
    assert after["1.8.4"] - before["1.8.4"] == pytest.approx(after["1.8.0"] - before["1.8.0"], abs=1e-9)
    assert m.get(1, ACTIVE_TARIFF, 2).value == 3
    m.action(9, SCRIPTS, 1, Data.uint16(2))  # run script 2 by hand: tariff 2 until the calendar's next change
    assert m.get(1, ACTIVE_TARIFF, 2).value == 2
    before = registers(control, 4)
    advance_to(control, utc(2026, 3, 28, 11))  # 12:00 CET: T4
    after = registers(control, 4)
    assert after["1.8.2"] - before["1.8.2"] == pytest.approx(after["1.8.0"] - before["1.8.0"], abs=1e-9)
    assert after["1.8.3"] == before["1.8.3"]
    assert m.get(1, ACTIVE_TARIFF, 2).value == 4
    # special days: insert, replace by index, delete; a special day on the next day switches it to day 2 (none:
    # before its first action the tariff of the day before stays)
    m.action(11, SPECIAL_DAYS, 1, special(7, 2026, 3, 29, 9))
    m.action(11, SPECIAL_DAYS, 1, special(3, 0xFFFF, 12, 25, 1))
    m.action(11, SPECIAL_DAYS, 1, special(7, 2026, 3, 30, 9))  # replaces index 7
    assert m.get(11, SPECIAL_DAYS, 2).plain() == [[3, bytes([0xFF, 0xFF, 12, 25, 0xFF]), 1],
                                                  [7, bytes([0x07, 0xEA, 3, 30, 0xFF]), 9]]
    m.action(11, SPECIAL_DAYS, 2, Data.uint16(3))
    assert [e[0] for e in m.get(11, SPECIAL_DAYS, 2).plain()] == [7]
    advance_to(control, utc(2026, 3, 29, 23, 30))  # Monday 30 March 00:30 CET: day 9 has no action, T4 stays
    assert m.get(1, ACTIVE_TARIFF, 2).value == 4
    scripts = m.get(9, SCRIPTS, 2).plain()
    assert [s[0] for s in scripts] == [1, 2, 3, 4]
    assert scripts[2][1] == [[1, 1, bytes(Obis.parse(ACTIVE_TARIFF)), 2, 3]]


def test_bad_calendar_writes_are_refused_by_name(port: Port, visa: Opener) -> None:
    _, control = energise(visa)
    advance(control, 60)  # the meter powers up
    m = port(1)
    cases = [
        (9, Data.array([day(1, (25, 0, 1))]), DataAccessResult.TYPE_UNMATCHED),  # hour 25
        (9, Data.array([Data.structure([Data.uint8(1), Data.array([Data.structure([
            Data.octets(bytes(4)), Data.octets(bytes(Obis(0, 0, 10, 0, 1, 255))), Data.uint16(1)])])])]),
         DataAccessResult.OTHER_REASON),  # another script table
        (9, Data.array([day(1, (6, 0, 7))]), DataAccessResult.OTHER_REASON),  # no tariff 7
        (7, Data.array([season(b"x", 13, 1, b"W")]), DataAccessResult.TYPE_UNMATCHED),
        (8, Data.array([Data.structure([Data.octets(b"W"), Data.uint8(1)])]), DataAccessResult.TYPE_UNMATCHED),
        (10, CosemDateTime(2026, 4, None, None, 0, 0, 0, 0, None, None).to_data(), DataAccessResult.TYPE_UNMATCHED),
        (2, Data.octets(b"x"), DataAccessResult.READ_WRITE_DENIED),  # the active calendar is read only
    ]
    for attribute, value, result in cases:
        with pytest.raises(DlmsFault) as err:
            m.set(20, CALENDAR, attribute, value)
        assert getattr(err.value.cause, "result", None) is result, attribute
    reader = port(1, client=16, authentication="none")
    with pytest.raises(DlmsFault) as err:
        reader.set(20, CALENDAR, 6, Data.octets(b"x"))
    assert getattr(err.value.cause, "result", None) is DataAccessResult.READ_WRITE_DENIED
    assert reader.get(20, CALENDAR, 6).value == b""


# -- DST ------------------------------------------------------------------------------------------------------
def clock(m: Any) -> CosemDateTime:
    return CosemDateTime.from_data(m.get(8, CLOCK, 2))


def test_dst_begins_at_the_rule_instant_with_deviation_and_status(port: Port, visa: Opener) -> None:
    _, control = energise(visa)
    advance(control, 60)
    good, wrong = port(1), port(2)
    assert [good.get(8, CLOCK, a).plain() for a in (3, 5, 6, 7, 8)] == [
        -60, CosemDateTime(None, 3, 0xFE, 7, 2, 0, 0, 0, None, None).encode(),
        CosemDateTime(None, 10, 0xFE, 7, 3, 0, 0, 0, None, None).encode(), 60, True]
    c = clock(good)
    assert (c.deviation, c.status, c.hour, c.minute) == (-60, 0, 13, 1)  # 12:01 UTC = 13:01 CET
    c = clock(wrong)  # the faulty firmware switched on Sunday 22 March already
    assert (c.deviation, c.status, c.hour) == (-120, 0x80, 14)
    advance_to(control, utc(2026, 3, 29, 0, 59, 59))
    c = clock(good)
    assert (c.day, c.hour, c.minute, c.second, c.deviation, c.status) == (29, 1, 59, 59, -60, 0)
    assert good.get(8, CLOCK, 4).value == 0
    advance(control, 1)
    c = clock(good)
    assert (c.day, c.hour, c.minute, c.second, c.deviation, c.status) == (29, 3, 0, 0, -120, 0x80)
    assert good.get(8, CLOCK, 4).value == 0x80
    assert good.clock() == utc(2026, 3, 29, 1)  # the same instant, in CEST
    profile = good.profile("1.0.99.1.0.255").rows  # the load profile marks its entries in DST (status bit 3)
    by_time = {r[0]: r[1] for r in profile}
    assert by_time[utc(2026, 3, 29, 0, 45)] & 0x08 == 0 and by_time[utc(2026, 3, 29, 1)] & 0x08
    dst_events = [r for r in good.profile("0.0.99.98.0.255").rows if r[1] == 3]
    assert [r[0] for r in dst_events] == [utc(2026, 3, 29, 1)]
    raw = good.get(7, "0.0.99.98.0.255", 2).items[-1].items[0]
    logged = CosemDateTime.from_data(raw)  # stamped in the time before the change: 02:00 CET
    assert (logged.hour, logged.deviation) == (2, -60)
    # the end: 25 October for the good meter, 18 October (a week early) for the faulty one
    good.set_clock(utc(2026, 10, 25, 0, 59))
    wrong.set_clock(utc(2026, 10, 18, 0, 59))
    assert (clock(good).deviation, clock(wrong).deviation) == (-120, -120)
    advance(control, 59)
    assert (clock(good).hour, clock(good).deviation, clock(wrong).hour, clock(wrong).deviation) == (2, -120, 2, -120)
    advance(control, 1)
    cg, cw = clock(good), clock(wrong)
    assert (cg.day, cg.hour, cg.deviation, cg.status) == (25, 2, -60, 0)  # 03:00 CEST → 02:00 CET
    assert (cw.day, cw.hour, cw.deviation, cw.status) == (18, 2, -60, 0)
    assert truth(control)["meters"]["1"]["time_of_use"]["deviation_min"] == -60


def test_dst_configured_over_dlms_and_a_time_written_with_a_deviation(port: Port, visa: Opener) -> None:
    _, control = energise(visa)
    advance(control, 60)
    m = port(4)  # CET, DST disabled
    assert m.get(8, CLOCK, 8).value is False
    m.set(8, CLOCK, 5, CosemDateTime(None, 3, 0xFE, 7, 2, 0, 0, 0, None, None).to_data())
    m.set(8, CLOCK, 6, CosemDateTime(None, 10, 0xFE, 7, 3, 0, 0, 0, None, None).to_data())
    m.set(8, CLOCK, 7, Data.int8(60))
    m.set(8, CLOCK, 8, Data.boolean(True))
    assert clock(m).deviation == -60  # 27 March: not yet
    advance_to(control, utc(2026, 3, 29, 1))
    assert (clock(m).hour, clock(m).deviation, clock(m).status) == (3, -120, 0x80)
    # a time written with its deviation is converted to UTC: 12:00 CEST = 10:00 UTC
    when = dt.datetime(2026, 3, 29, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    m.set_clock(when)
    assert dt.datetime.fromisoformat(truth(control)["meters"]["4"]["clock"]) == utc(2026, 3, 29, 10)
    # switching DST off takes effect at once and is logged (event 3)
    m.set(8, CLOCK, 8, Data.boolean(False))
    assert (clock(m).hour, clock(m).deviation, clock(m).status) == (11, -60, 0)
    codes = [r[1] for r in m.profile("0.0.99.98.0.255").rows]
    assert codes[-3:] == [4, 5, 3]  # clock adjusted old / new time, then the DST change
    for attribute, value in [(5, CosemDateTime(None, None, 0xFE, 7, 2, 0, 0, 0, None, None).to_data()),
                             (7, Data.int8(121)), (3, Data.int16(800)), (8, Data.uint8(1))]:
        with pytest.raises(DlmsFault) as err:
            m.set(8, CLOCK, attribute, value)
        assert getattr(err.value.cause, "result", None) is DataAccessResult.TYPE_UNMATCHED, attribute


def test_preset_adjusting_time_applies_only_within_its_validity(port: Port, visa: Opener) -> None:
    _, control = energise(visa)
    advance(control, 60)  # 13:01 CET: inside the validity interval
    m = port(4)
    preset = Data.structure([local_dt(2026, 3, 27, 14, 30, deviation=-60), local_dt(2026, 3, 27, 13, 0),
                             local_dt(2026, 3, 27, 13, 10)])
    m.action(8, CLOCK, 5, preset)
    m.action(8, CLOCK, 4)
    assert m.clock() == utc(2026, 3, 27, 13, 30)
    m.action(8, CLOCK, 4)  # 14:30 CET now: outside the validity interval, nothing happens
    assert abs((m.clock() - utc(2026, 3, 27, 13, 30)).total_seconds()) < 1
