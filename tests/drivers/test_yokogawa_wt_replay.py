"""Yokogawa WT driver, replayed: the exact bytes sent and the parsing of replies, no server."""

from __future__ import annotations

import math

import pytest

from instruments.drivers.errors import InstrumentError, RangeError, ReplyError
from instruments.drivers.replay import ReplayTransport
from instruments.drivers.yokogawa_wt import YokogawaWT
from instruments.roles import Element

OK = b'0,"No error"\n'
HEAD_OFF = b":COMM:HEAD OFF;"  # first message of every link
SELECT_3 = b":NUM:FORM ASC;:NUM:NUMB 3;ITEM1 U,1;ITEM2 I,1;ITEM3 P,SIGMA;:STAT:ERR?\n"


def wt(dialogue: list[tuple[bytes, bytes | None]]) -> tuple[YokogawaWT, ReplayTransport]:
    t = ReplayTransport(dialogue, name="reference")
    return YokogawaWT(t), t


def test_first_read_selects_items_then_reads_in_one_query() -> None:
    ref, t = wt([
        (HEAD_OFF + SELECT_3, OK),
        (b":NUM:VAL?\n", b"2.30004E+02,5.00021E+00,3.44991E+03\n"),
        (b":NUM:VAL?\n", b"2.30005E+02,5.00020E+00,3.44990E+03\n"),
    ])
    items: list[tuple[str, Element]] = [("U", 1), ("I", 1), ("P", "SIGMA")]
    assert ref.read(items) == [230.004, 5.00021, 3449.91]
    assert ref.read(items) == [230.005, 5.0002, 3449.90]  # same list: no reselect
    t.assert_done()


def test_other_items_rewrite_the_list() -> None:
    ref, t = wt([
        (HEAD_OFF + SELECT_3, OK),
        (b":NUM:VAL?\n", b"1,2,3\n"),
        (b":NUM:FORM ASC;:NUM:NUMB 2;ITEM1 LAMBDA,2;ITEM2 TIME,SIGMA;:STAT:ERR?\n", OK),
        (b":NUM:VAL?\n", b"8.66025E-01,3600\n"),
    ])
    ref.read([("U", 1), ("I", 1), ("P", "SIGMA")])
    assert ref.read([("lambda", 2), ("TIME", "SIGMA")]) == [0.866025, 3600.0]  # TIME in NR1
    t.assert_done()


def test_no_data_and_over_range_words() -> None:
    ref, t = wt([
        (b":COMM:HEAD OFF;:NUM:FORM ASC;:NUM:NUMB 2;ITEM1 PHI,3;ITEM2 U,3;:STAT:ERR?\n", OK),
        (b":NUM:VAL?\n", b"NAN,INF\n"),
    ])
    phi, u = ref.read([("PHI", 3), ("U", 3)])
    assert math.isnan(phi) and math.isinf(u)
    t.assert_done()


def test_reply_with_wrong_number_of_values_is_a_reply_error() -> None:
    ref, t = wt([(HEAD_OFF + SELECT_3, OK), (b":NUM:VAL?\n", b"1,2\n")])
    with pytest.raises(ReplyError, match="2 values for 3 items"):
        ref.read([("U", 1), ("I", 1), ("P", "SIGMA")])
    t.assert_done()


@pytest.mark.parametrize("items", [[("X", 1)], [("U", 4)], [("U", 0)], [("P", "SIGMB")], []])
def test_bad_items_are_refused_before_sending(items: list[tuple[str, int | str]]) -> None:
    ref, t = wt([])
    with pytest.raises(RangeError, match="nothing was sent"):
        ref.read(items)  # type: ignore[arg-type]
    t.assert_done()


def test_reconnect_forgets_the_list() -> None:
    ref, t = wt([
        (HEAD_OFF + SELECT_3, OK), (b":NUM:VAL?\n", b"1,2,3\n"),
        (HEAD_OFF + SELECT_3, OK), (b":NUM:VAL?\n", b"1,2,3\n"),  # a new link: headers off again
    ])
    items: list[tuple[str, Element]] = [("U", 1), ("I", 1), ("P", "SIGMA")]
    ref.read(items)
    t.reconnect()  # e.g. the analyser lost power: its list is back at the preset
    ref.read(items)
    t.assert_done()


def test_refused_selection_is_not_remembered() -> None:
    ref, t = wt([
        (HEAD_OFF + SELECT_3, b'-224,"Illegal parameter value"\n'), (b":STAT:ERR?\n", OK),
        (HEAD_OFF + SELECT_3, OK), (b":NUM:VAL?\n", b"1,2,3\n"),
    ])
    items: list[tuple[str, Element]] = [("U", 1), ("I", 1), ("P", "SIGMA")]
    with pytest.raises(InstrumentError) as ei:
        ref.read(items)
    assert ei.value.code == -224 and ei.value.command.endswith("ITEM3 P,SIGMA")
    assert ref.read(items) == [1.0, 2.0, 3.0]
    t.assert_done()


def test_start_integration_stops_resets_and_starts_in_one_message() -> None:
    ref, t = wt([
        (b":COMM:HEAD OFF;:INTEG:STAT?\n", b"STAR\n"),
        (b":INTEG:STOP;:STAT:ERR?\n", OK),
        (b":INTEG:RES;MODE NORM;TIM 1,2,3;STAR;:STAT:ERR?\n", OK),
    ])
    ref.start_integration(3723.0)  # 1 h 2 min 3 s
    t.assert_done()


def test_start_integration_from_timeup_needs_no_stop() -> None:
    ref, t = wt([
        (b":COMM:HEAD OFF;:INTEG:STAT?\n", b"TIM\n"),
        (b":INTEG:RES;MODE CONT;TIM 0,15,0;STAR;:STAT:ERR?\n", OK),
    ])
    ref.start_integration(900.0, mode="CONTINUOUS")
    t.assert_done()


@pytest.mark.parametrize(("timer", "mode"), [(-1.0, "NORMAL"), (10000 * 3600 + 1, "NORMAL"), (0.0, "CONTINUOUS"),
                                             (60.0, "REALTIME")])
def test_start_integration_refuses_before_sending(timer: float, mode: str) -> None:
    ref, t = wt([])
    with pytest.raises(RangeError):
        ref.start_integration(timer, mode=mode)
    t.assert_done()


@pytest.mark.parametrize(("reply", "state"), [
    (b"RES\n", "RESET"), (b"READ\n", "READY"), (b"STAR\n", "START"), (b"STOP\n", "STOP"), (b"TIM\n", "TIMEUP"),
    (b"TIMEUP\n", "TIMEUP"), (b"READY\n", "READY"),  # long form with VERBose ON
])
def test_integration_state_short_and_long_forms(reply: bytes, state: str) -> None:
    ref, t = wt([(b":COMM:HEAD OFF;:INTEG:STAT?\n", reply)])
    assert ref.integration_state() == state
    t.assert_done()


def test_timer_setting_in_hours_minutes_seconds() -> None:
    ref, t = wt([(b":COMM:HEAD OFF;:INTEG:TIM 0,1,30;:STAT:ERR?\n", OK), (b":INTEG:TIM?\n", b"2,0,5\n")])
    ref.integration_timer = 90.0
    assert ref.integration_timer == 2 * 3600 + 5
    t.assert_done()


def test_stop_integration_only_when_running() -> None:
    ref, t = wt([(b":COMM:HEAD OFF;:INTEG:STAT?\n", b"RES\n")])
    ref.stop_integration()  # nothing running: no STOP (the WT would refuse it)
    t.assert_done()


def test_safe_state_reconnects_then_stops_integration() -> None:
    ref, t = wt([(b":COMM:HEAD OFF;:INTEG:STAT?\n", b"STAR\n"), (b":INTEG:STOP;:STAT:ERR?\n", OK)])
    reconnects: list[int] = []
    t.on_reconnect.append(lambda: reconnects.append(1))
    ref.safe_state()
    assert reconnects == [1]
    t.assert_done()


def test_identify_and_error_query() -> None:
    ref, t = wt([(b"*IDN?\n", b"YOKOGAWA,WT5000,91K000001,F1.01\n"), (b":STAT:ERR?\n", OK)])
    assert ref.identify() == "YOKOGAWA,WT5000,91K000001,F1.01"
    assert ref.errors() == []
    t.assert_done()
