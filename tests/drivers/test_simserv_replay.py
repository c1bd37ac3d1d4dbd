"""SimServ chamber driver, replayed: exact request frames (``¶`` = 0xB6, CR-terminated) and reply parsing."""

from __future__ import annotations

from typing import Any

import pytest

from instruments.drivers.errors import BenchFault, RangeError, ReplyError
from instruments.drivers.replay import ReplayTransport
from instruments.drivers.simserv import SimServChamber, SimServError
from instruments.roles import ClimaticChamber

OK = b"1\r\n"
LIMITS = {"min_temperature_c": -40.0, "max_temperature_c": 180.0, "min_humidity_pct": 10.0, "max_humidity_pct": 98.0}


def chamber(dialogue: list[tuple[bytes, bytes | None]], **options: Any) -> tuple[SimServChamber, ReplayTransport]:
    t = ReplayTransport(dialogue, name="chamber", write_termination="\r", read_termination="\n")
    return SimServChamber(t, **options), t


def test_plays_the_role() -> None:
    ch, _ = chamber([])
    assert isinstance(ch, ClimaticChamber)


def test_setpoint_frame() -> None:
    ch, t = chamber([(b"11001\xb61\xb61\xb645.5\r", OK), (b"11002\xb61\xb61\r", b"1\xb645.50\r\n")], **LIMITS)
    ch.set_temperature(45.5)
    assert ch.temperature_setpoint == 45.5
    t.assert_done()


def test_limits_asked_from_the_controller_once() -> None:
    ch, t = chamber([
        (b"11007\xb61\xb61\r", b"1\xb6-40.00\r\n"),
        (b"11009\xb61\xb61\r", b"1\xb6180.00\r\n"),
        (b"11001\xb61\xb61\xb6-12.5\r", OK),
        (b"11001\xb61\xb61\xb6180\r", OK),
    ])
    ch.set_temperature(-12.5)
    ch.set_temperature(180.0)  # at the limit: allowed, and no second limit query
    with pytest.raises(RangeError, match=r"\[-40, 180\] °C; nothing was sent"):
        ch.set_temperature(180.5)
    t.assert_done()


def test_out_of_range_or_restricted_sends_nothing() -> None:
    ch, t = chamber([], **LIMITS)
    with pytest.raises(RangeError):
        ch.set_temperature(-40.1)
    with pytest.raises(RangeError):
        ch.set_temperature(float("nan"))
    ch.restrict("temperature_setpoint", -25.0, 70.0, "meter operating range (IEC 62052-11, -25..70 °C)")
    with pytest.raises(RangeError, match="meter operating range"):
        ch.set_temperature(85.0)
    t.assert_done()


def test_actual_values_and_humidity() -> None:
    """Without the ``humidity_output`` option set_humidity writes the setpoint only: no digital output (14001)."""
    ch, t = chamber([
        (b"11004\xb61\xb61\r", b"1\xb623.50\r\n"),
        (b"11018\xb61\r", b"1\xb62\r\n"),
        (b"11004\xb61\xb62\r", b"1\xb645.00\r\n"),
        (b"11001\xb61\xb62\xb660\r", OK),
    ], **LIMITS)
    assert ch.temperature() == 23.5
    assert ch.humidity() == 45.0
    ch.set_humidity(60.0)
    assert not ch.can_switch_humidity_off
    t.assert_done()


def test_set_humidity_with_the_humidity_output_switches_it_on() -> None:
    ch, t = chamber([
        (b"11001\xb61\xb62\xb660\r", OK),
        (b"14001\xb61\xb64\xb61\r", OK),  # humidity control on (the option's digital output 4)
    ], humidity=True, humidity_output=4, **LIMITS)
    ch.set_humidity(60.0)
    assert ch.can_switch_humidity_off
    t.assert_done()


def test_humidity_off_is_the_humidity_output() -> None:
    """Humidity control off: the ``humidity_output`` option's digital output to 0; without the option refused
    with nothing sent (no public source fixes the channel)."""
    ch, t = chamber([(b"11018\xb61\r", b"1\xb62\r\n"), (b"14001\xb61\xb62\xb60\r", OK)], humidity_output=2,
                    **LIMITS)
    ch.humidity_off()
    t.assert_done()
    ch, t = chamber([(b"14001\xb61\xb65\xb60\r", OK)], humidity=True, humidity_output=5, **LIMITS)
    ch.humidity_off()
    t.assert_done()
    ch, t = chamber([], humidity=True, **LIMITS)
    with pytest.raises(ValueError, match=r"without the humidity_output option .*nothing was sent"):
        ch.humidity_off()
    t.assert_done()


def test_humidity_output_1_is_refused() -> None:
    """Output 1 starts/stops manual operation: as the humidity output, humidity off would stop the chamber."""
    with pytest.raises(ValueError, match="humidity_output 1 is the start/stop output"):
        chamber([], humidity_output=1)
    ch, t = chamber([], humidity=False, **LIMITS)  # the bench file says: no humidity control
    ch.humidity_off()  # nothing to switch off, nothing sent
    assert not ch.has_humidity
    t.assert_done()


def test_chamber_without_humidity_control() -> None:
    ch, t = chamber([(b"11018\xb61\r", b"1\xb61\r\n")], **LIMITS)
    assert ch.humidity() is None
    with pytest.raises(ValueError, match="no humidity control; nothing was sent"):
        ch.set_humidity(50.0)
    t.assert_done()


def test_gradients_checked_first_then_set() -> None:
    ch, t = chamber([(b"11068\xb61\xb61\xb62\r", OK), (b"11072\xb61\xb61\xb60.5\r", OK),
                     (b"11066\xb61\xb61\r", b"1\xb62.00\r\n")], max_gradient_k_per_min=5.0)
    ch.set_gradient(2.0, 0.5)
    assert ch.gradient_up == 2.0
    with pytest.raises(RangeError):
        ch.set_gradient(1.0, 5.5)  # the down gradient is bad: the up one is not sent either
    t.assert_done()


def test_start_stop_and_running() -> None:
    ch, t = chamber([
        (b"14001\xb61\xb61\xb61\r", OK),
        (b"14003\xb61\xb61\r", b"1\xb61\r\n"),
        (b"14001\xb61\xb61\xb60\r", OK),
        (b"10012\xb61\r", b"1\xb69\r\n"),
    ])
    ch.start()
    assert ch.is_running() is True
    ch.stop()
    assert ch.status == 9  # idle + alarm
    t.assert_done()


@pytest.mark.parametrize(("code", "meaning"), [(-5, "command number unknown"), (-6, "incorrect parameters"),
                                               (-8, "could not be read"), (-3, "unknown reply code")])
def test_negative_codes_are_bench_faults_naming_code_and_meaning(code: int, meaning: str) -> None:
    ch, t = chamber([(b"11001\xb61\xb61\xb6100\r", f"{code}\r\n".encode())], **LIMITS)
    with pytest.raises(SimServError) as ei:
        ch.set_temperature(100.0)
    assert isinstance(ei.value, BenchFault)
    assert ei.value.code == code and meaning in str(ei.value) and "11001¶1¶1¶100" in str(ei.value)
    t.assert_done()


def test_unparseable_reply_is_a_reply_error() -> None:
    ch, t = chamber([(b"11004\xb61\xb61\r", b"OK\r\n"), (b"11004\xb61\xb61\r", b"1\xb6--.--\r\n")])
    with pytest.raises(ReplyError, match="unexpected reply"):
        ch.temperature()
    with pytest.raises(ReplyError, match="cannot parse"):
        ch.temperature()
    t.assert_done()


def test_identify_from_command_99997() -> None:
    ch, t = chamber([
        (b"99997\xb61\xb61\r", b"1\xb6VT 4002\r\n"),
        (b"99997\xb61\xb62\r", b"1\xb62019\r\n"),
        (b"99997\xb61\xb63\r", b"1\xb658566012345\r\n"),
    ])
    assert ch.identify() == "VT 4002,2019,58566012345"
    t.assert_done()


def test_alarm_messages() -> None:
    ch, t = chamber([
        (b"17002\xb61\r", b"1\xb62\r\n"),
        (b"17007\xb61\xb61\r", b"1\xb6Alarm 3\r\n"),
        (b"17007\xb61\xb62\r", b"1\xb6Door open\r\n"),
        (b"17012\xb61\r", OK),
    ])
    assert ch.alarms() == ["Alarm 3", "Door open"]
    ch.clear_status()
    t.assert_done()


def test_chamber_index_option() -> None:
    ch, t = chamber([(b"11004\xb62\xb61\r", b"1\xb6-5.25\r\n"), (b"14001\xb62\xb61\xb61\r", OK)], chamber_index=2)
    assert ch.temperature() == -5.25
    ch.start()
    t.assert_done()


def test_safe_state_stops_then_sets_the_safe_setpoint_on_a_fresh_link() -> None:
    ch, t = chamber([(b"14001\xb61\xb61\xb60\r", OK), (b"11001\xb61\xb61\xb623\r", OK)], safe_temperature_c=23.0,
                    **LIMITS)
    reconnects: list[int] = []
    t.on_reconnect.append(lambda: reconnects.append(1))
    ch.safe_state()
    assert reconnects == [1]
    t.assert_done()
