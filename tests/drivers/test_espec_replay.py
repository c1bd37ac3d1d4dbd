"""ESPEC P-300 chamber driver, replayed: exact request lines (CR LF) and reply parsing, ramps as remote programs."""

from __future__ import annotations

from typing import Any

import pytest

from instruments.drivers.errors import BenchFault, RangeError, ReplyError
from instruments.drivers.espec import EspecChamber, EspecError
from instruments.drivers.replay import ReplayTransport
from instruments.roles import ClimaticChamber


def espec(dialogue: list[tuple[bytes, bytes | None]], **options: Any) -> tuple[EspecChamber, ReplayTransport]:
    t = ReplayTransport(dialogue, name="chamber", write_termination="\r\n", read_termination="\r\n")
    return EspecChamber(t, **options), t


def ok(line: bytes) -> tuple[bytes, bytes]:
    """A setting and its echo ``OK:<request>``."""
    return line + b"\r\n", b"OK:" + line + b"\r\n"


def test_plays_the_role() -> None:
    ch, _ = espec([])
    assert isinstance(ch, ClimaticChamber)


def test_setpoint_of_a_stopped_chamber_is_a_plain_setting() -> None:
    ch, t = espec([(b"MODE?\r\n", b"STANDBY\r\n"), ok(b"TEMP, S60.0"), (b"TEMP?\r\n", b"23.5,60.0,180.0,-40.0\r\n")])
    ch.set_gradient(2.0, 2.0)  # remembered by the driver: nothing sent
    ch.set_temperature(60.0)
    assert ch.temperature_setpoint == 60.0
    t.assert_done()


def test_running_chamber_with_a_gradient_ramps_with_a_remote_program() -> None:
    ch, t = espec([
        (b"MODE?\r\n", b"CONSTANT\r\n"),
        (b"TEMP?\r\n", b"24.9,25.0,180.0,-40.0\r\n"),
        (b"HUMI?\r\n", b"49,50,98,10\r\n"),  # has humidity control? (asked once)
        (b"HUMI?\r\n", b"49,50,98,10\r\n"),  # its setpoint, kept during the ramp
        ok(b"RUN PRGM, TEMP25.0 GOTEMP80.0 HUMI50 GOHUMI50 TIME0:28"),  # 55 K at 2 K/min = 27.5 → 28 min
    ])
    ch.set_gradient(2.0, 1.0)
    ch.set_temperature(80.0)
    t.assert_done()


def test_ramp_down_uses_the_down_gradient_and_a_new_ramp_ends_the_running_one() -> None:
    ch, t = espec([
        (b"MODE?\r\n", b"RUN\r\n"),
        (b"RUN PRGM MON?\r\n", b"1,35.0,0:45,0\r\n"),  # the ramp has got to 35 °C
        ok(b"PRGM, END, CONST"),
        ok(b"RUN PRGM, TEMP35.0 GOTEMP-5.0 TIME1:20"),  # 40 K at 0.5 K/min = 80 min
    ], humidity=False)
    ch.set_gradient(3.0, 0.5)
    ch.set_temperature(-5.0)
    t.assert_done()


def test_without_gradient_a_running_program_is_ended_then_the_setpoint_set() -> None:
    ch, t = espec([(b"MODE?\r\n", b"RUN\r\n"), (b"RUN PRGM MON?\r\n", b"1,35.0,0:45,0\r\n"),
                   ok(b"PRGM, END, CONST"), ok(b"TEMP, S30.0")])
    ch.set_temperature(30.0)
    t.assert_done()


def test_without_gradient_a_running_chamber_gets_the_setpoint_directly() -> None:
    ch, t = espec([(b"MODE?\r\n", b"CONSTANT\r\n"), ok(b"TEMP, S30.0")])
    ch.set_temperature(30.0)
    t.assert_done()


def test_too_slow_a_ramp_is_refused_before_the_program_is_sent() -> None:
    ch, t = espec([(b"MODE?\r\n", b"CONSTANT\r\n"), (b"TEMP?\r\n", b"20.0,20.0,180.0,-40.0\r\n")], humidity=False)
    ch.set_gradient(0.01, 0.01)  # 100 K at 0.01 K/min = 10000 min > 99:59
    with pytest.raises(RangeError, match="remote program step"):
        ch.set_temperature(120.0)
    t.assert_done()


def test_start_ramps_from_the_air_to_the_setpoint() -> None:
    ch, t = espec([
        (b"MODE?\r\n", b"STANDBY\r\n"),
        (b"TEMP?\r\n", b"23.5,60.0,180.0,-40.0\r\n"),
        ok(b"RUN PRGM, TEMP23.5 GOTEMP60.0 TIME0:19"),  # 36.5 K at 2 K/min = 18.25 → 19 min
    ], humidity=False)
    ch.set_gradient(2.0, 2.0)
    ch.start()
    t.assert_done()


def test_start_without_gradient_and_stop() -> None:
    ch, t = espec([
        (b"MODE?\r\n", b"OFF\r\n"), ok(b"MODE, CONSTANT"),
        (b"MODE?\r\n", b"CONSTANT\r\n"),
        ok(b"MODE, STANDBY"),
        (b"MODE?\r\n", b"STANDBY\r\n"),
    ])
    ch.start()
    ch.start()  # already running: nothing more
    ch.stop()
    assert ch.is_running() is False
    t.assert_done()


def test_refusal_is_a_bench_fault_with_reason_and_meaning() -> None:
    ch, t = espec([(b"MODE?\r\n", b"STANDBY\r\n"), (b"TEMP, S150.0\r\n", b"NA:DATA OUT OF RANGE\r\n")])
    with pytest.raises(EspecError) as ei:
        ch.set_temperature(150.0)
    assert isinstance(ei.value, BenchFault)
    assert ei.value.reason == "DATA OUT OF RANGE"
    assert "beyond the chamber's range" in str(ei.value) and "TEMP, S150.0" in str(ei.value)
    t.assert_done()


def test_range_and_gradient_checks_send_nothing() -> None:
    ch, t = espec([], max_temperature_c=100.0, max_gradient_k_per_min=5.0)
    with pytest.raises(RangeError):
        ch.set_temperature(100.5)
    with pytest.raises(RangeError):
        ch.set_gradient(1.0, 6.0)
    with pytest.raises(RangeError):
        ch.set_gradient(-1.0, 1.0)
    t.assert_done()


def test_values_and_humidity() -> None:
    ch, t = espec([
        (b"TEMP?\r\n", b"23.5,25.0,180.0,-40.0\r\n"),
        (b"HUMI?\r\n", b"45,50,98,10\r\n"),
        (b"HUMI?\r\n", b"45,50,98,10\r\n"),
        ok(b"HUMI, S60"),
    ])
    assert ch.temperature() == 23.5
    assert ch.humidity() == 45.0
    ch.set_humidity(60.0)
    t.assert_done()


def test_humidity_off_and_a_ramp_without_humidity() -> None:
    """``HUMI, SOFF`` switches humidity control off; a later ramp then sends no HUMI (``HUMI?`` shows no
    setpoint), so the chamber stays without humidity control."""
    ch, t = espec([
        (b"HUMI?\r\n", b"49,50,98,10\r\n"),  # has humidity control? (asked once)
        ok(b"HUMI, SOFF"),
        (b"MODE?\r\n", b"CONSTANT\r\n"),
        (b"TEMP?\r\n", b"24.9,25.0,180.0,-40.0\r\n"),
        (b"HUMI?\r\n", b"49,OFF,98,10\r\n"),
        ok(b"RUN PRGM, TEMP25.0 GOTEMP55.0 TIME0:30"),
    ])
    ch.humidity_off()
    ch.set_gradient(1.0, 1.0)
    ch.set_temperature(55.0)
    t.assert_done()


def test_chamber_without_humidity_control() -> None:
    ch, t = espec([(b"HUMI?\r\n", b"NA:CONT NOT READY-1\r\n")])
    assert ch.humidity() is None
    with pytest.raises(ValueError, match="no humidity control"):
        ch.set_humidity(50.0)
    ch.humidity_off()  # nothing to switch off, nothing sent
    t.assert_done()


def test_alarms_identity_and_unexpected_replies() -> None:
    ch, t = espec([
        (b"ALARM?\r\n", b"2,3,17\r\n"),
        (b"ALARM?\r\n", b"2,3\r\n"),
        (b"TYPE?\r\n", b"T,T,P300,180.0\r\n"),
        (b"ROM?\r\n", b"P300 Ver2.01\r\n"),
        (b"MODE, OFF\r\n", b"MODE, OFF\r\n"),
    ])
    assert ch.alarms() == ["alarm 3", "alarm 17"]
    with pytest.raises(ReplyError):
        ch.alarms()  # the count does not match the codes
    assert ch.identify() == "T,T,P300,180.0,P300 Ver2.01"
    with pytest.raises(ReplyError, match="unexpected reply"):
        ch.mode = "OFF"
    t.assert_done()


def test_safe_state_standby_then_safe_setpoint() -> None:
    ch, t = espec([ok(b"MODE, STANDBY"), ok(b"TEMP, S23.0")], safe_temperature_c=23.0)
    reconnects: list[int] = []
    t.on_reconnect.append(lambda: reconnects.append(1))
    ch.safe_state()
    assert reconnects == [1]
    t.assert_done()
