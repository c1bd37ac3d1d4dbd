"""ESPEC chamber server: exact replies, NA refusals that change nothing, the remote ramp program, TCP."""

from __future__ import annotations

import math
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments.simulators.espec import EspecChamber
from instruments.simulators.loop import BackgroundLoop
from instruments.simulators.net import Endpoint
from instruments.simulators.world.config import load_sim_bench
from instruments.simulators.world.world import World
from tests.helpers import FakeChamber, FakeClock, Out


def talk(dev: EspecChamber, *lines: str) -> list[str]:
    """Send each line with CR LF; return the reply lines (each must end in CR LF)."""
    session, out = dev.new_session(), Out()
    for line in lines:
        session.data_received(line.encode("latin-1") + b"\r\n", out)
    assert out.data.endswith(b"\r\n")
    return out.data.decode("latin-1").split("\r\n")[:-1]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def chamber(clock: FakeClock) -> FakeChamber:
    return FakeChamber(clock=clock)


@pytest.fixture
def dev(chamber: FakeChamber, clock: FakeClock) -> EspecChamber:
    return EspecChamber(chamber, clock, rom="P300 TEST")


def test_queries_exact(dev: EspecChamber) -> None:
    assert talk(dev, "TEMP?", "HUMI?", "MODE?", "MON?", "ROM?", "ALARM?") == [
        "23.5,25.0,180.0,-40.0",
        "45,50,98,10",
        "STANDBY",
        "23.5,45,STANDBY,0",
        "P300 TEST",
        "0",
    ]


def test_set_temperature_is_echoed_and_applied(dev: EspecChamber, chamber: FakeChamber) -> None:
    assert talk(dev, "TEMP, S60.0") == ["OK:TEMP, S60.0"]
    assert chamber.temperature_setpoint == 60.0
    assert talk(dev, "TEMP,S-10") == ["OK:TEMP,S-10"]
    assert chamber.temperature_setpoint == -10.0
    assert talk(dev, "HUMI, S85") == ["OK:HUMI, S85"]
    assert chamber.humidity_setpoint == 85.0


def test_alarm_limits_are_controller_state(dev: EspecChamber, chamber: FakeChamber) -> None:
    replies = talk(dev, "TEMP, S30.0 H80.0 L-20.0", "TEMP?")
    assert replies == ["OK:TEMP, S30.0 H80.0 L-20.0", "23.5,30.0,80.0,-20.0"]


@pytest.mark.parametrize(
    ("request_line", "reason"),
    [
        ("TEMP, S180.1", "NA:DATA OUT OF RANGE"),
        ("TEMP, S20 H300", "NA:DATA OUT OF RANGE"),  # valid S, invalid H: nothing is applied
        ("TEMP, S20 H10 L15", "NA:DATA OUT OF RANGE"),  # L above H
        ("TEMP, Snan", "NA:PARA ERR"),
        ("TEMP, X20", "NA:PARA ERR"),
        ("TEMP,", "NA:PARA ERR"),
        ("HUMI, S99", "NA:DATA OUT OF RANGE"),
        ("HUMI, SOFF S60", "NA:PARA ERR"),  # off and a setpoint at once
    ],
)
def test_refused_settings_change_nothing(
    dev: EspecChamber, chamber: FakeChamber, request_line: str, reason: str
) -> None:
    assert talk(dev, request_line) == [reason]
    assert (chamber.temperature_setpoint, chamber.humidity_setpoint) == (25.0, 50.0)
    assert talk(dev, "TEMP?") == ["23.5,25.0,180.0,-40.0"]


def test_humidity_control_off_and_back_on(dev: EspecChamber, chamber: FakeChamber) -> None:
    """``HUMI, SOFF`` switches humidity control off (the setpoint is kept, ``HUMI?`` shows OFF as SV); a
    setpoint switches it on again."""
    assert talk(dev, "HUMI, SOFF", "HUMI?") == ["OK:HUMI, SOFF", "45,OFF,98,10"]
    assert not chamber.humidity_controlled and chamber.humidity_setpoint == 50.0
    assert talk(dev, "HUMI, S60", "HUMI?") == ["OK:HUMI, S60", "45,60,98,10"]
    assert chamber.humidity_controlled


def test_humidity_off_refused_without_humidity_control(clock: FakeClock) -> None:
    dry = FakeChamber(humidity=False, clock=clock)
    assert talk(EspecChamber(dry, clock), "HUMI, SOFF") == ["NA:CONT NOT READY-1"]


def test_unknown_and_malformed(dev: EspecChamber) -> None:
    assert talk(dev, "FOO?", "FOO, 1", "MODE, FAST", "MODE?,X") == [
        "NA:CMD ERR",
        "NA:CMD ERR",
        "NA:PARA ERR",
        "NA:PARA ERR",
    ]


def test_modes_drive_the_chamber(dev: EspecChamber, chamber: FakeChamber) -> None:
    assert talk(dev, "MODE, CONSTANT", "MODE?") == ["OK:MODE, CONSTANT", "CONSTANT"]
    assert chamber.running
    assert talk(dev, "MODE, STANDBY") == ["OK:MODE, STANDBY"]
    assert not chamber.running
    assert talk(dev, "POWER, ON", "MON?") == ["OK:POWER, ON", "23.5,45,CONSTANT,0"]
    assert talk(dev, "POWER, OFF", "MODE?") == ["OK:POWER, OFF", "OFF"]
    assert talk(dev, "MODE, RUN3") == ["NA:DATA NOT READY"]  # no stored programs


def test_alarm_stop_shows_as_standby(dev: EspecChamber, chamber: FakeChamber) -> None:
    talk(dev, "MODE, CONSTANT")
    chamber.running = False  # the chamber stopped itself
    chamber.alarms = [4, 9]
    assert talk(dev, "MODE?", "ALARM?", "MON?") == ["STANDBY", "2,4,9", "23.5,45,STANDBY,2"]


def test_address_prefix_and_lower_case(dev: EspecChamber) -> None:
    assert talk(dev, "1,TEMP?", "temp?") == ["23.5,25.0,180.0,-40.0"] * 2


def test_remote_ramp_program(dev: EspecChamber, chamber: FakeChamber, clock: FakeClock) -> None:
    chamber.temperature = 20.0
    clock.now = 1000.0
    request = "RUN PRGM, TEMP20.0 GOTEMP80.0 TIME1:00"
    assert talk(dev, request) == ["OK:" + request]
    # 60 K in 60 min: the chamber ramps at 1 K/min towards the end value
    assert chamber.gradient_up == pytest.approx(60.0 / 60.0)
    assert chamber.temperature_setpoint == 80.0
    assert chamber.running
    assert talk(dev, "MODE?", "MODE?,DETAIL") == ["RUN", "RMT RUN"]
    clock.now = 1000.0 + 15 * 60  # a quarter through: SV 20 + 60/4 = 35, 45 min left
    assert talk(dev, "RUN PRGM MON?") == ["1,35.0,50,0:45,0"]
    assert talk(dev, "RUN PRGM?") == ["TEMP20.0 GOTEMP80.0 TIME1:00 REF9"]
    clock.now = 1000.0 + 3600
    assert talk(dev, "MODE?") == ["CONSTANT"]
    assert (chamber.gradient_up, chamber.gradient_down) == (1.0, 1.0)  # restored
    assert talk(dev, "RUN PRGM MON?") == ["NA:CONT NOT READY-2"]


def test_remote_program_cooling_ramp_and_end(dev: EspecChamber, chamber: FakeChamber) -> None:
    chamber.gradient_up, chamber.gradient_down = 2.0, 3.0
    assert talk(dev, "RUN PRGM, TEMP50 GOTEMP20 TIME0:10")[0].startswith("OK:")
    assert chamber.gradient_down == pytest.approx(30.0 / 10.0)
    assert talk(dev, "PRGM, END, STANDBY", "MODE?") == ["OK:PRGM, END, STANDBY", "STANDBY"]
    assert not chamber.running
    assert (chamber.gradient_up, chamber.gradient_down) == (2.0, 3.0)
    assert talk(dev, "PRGM, END") == ["NA:CONT NOT READY-2"]


@pytest.mark.parametrize(
    ("request_line", "reason"),
    [
        ("RUN PRGM, TEMP20 GOTEMP200 TIME1:00", "NA:DATA OUT OF RANGE"),
        ("RUN PRGM, TEMP20 GOTEMP30 TIME0:00", "NA:DATA OUT OF RANGE"),
        ("RUN PRGM, TEMP20 TIME1:75", "NA:DATA OUT OF RANGE"),
        ("RUN PRGM, GOTEMP30 TIME1:00", "NA:PARA ERR"),
        ("RUN PRGM, TEMP20 GOTEMP30", "NA:PARA ERR"),
        ("RUN PRGM, TEMP20 TIME1:00 SPEED9", "NA:PARA ERR"),
        ("RUN PRGM, TEMP20 GOTEMP80 TIME0:01", "NA:DATA OUT OF RANGE"),  # 60 K/min: chamber refuses
    ],
)
def test_refused_programs_change_nothing(
    dev: EspecChamber, chamber: FakeChamber, request_line: str, reason: str
) -> None:
    assert talk(dev, request_line, "MODE?") == [reason, "STANDBY"]
    assert (chamber.temperature_setpoint, chamber.gradient_up, chamber.running) == (25.0, 1.0, False)


def test_temperature_only_chamber(clock: FakeClock) -> None:
    dev = EspecChamber(FakeChamber(humidity=False, clock=clock), clock)
    assert talk(dev, "HUMI?", "HUMI, S50", "MON?", "TYPE?") == [
        "NA:CONT NOT READY-1",
        "NA:CONT NOT READY-1",
        "23.5,,STANDBY,0",
        "T,P300,180.0",
    ]


def test_power_loss_returns_to_standby(dev: EspecChamber, chamber: FakeChamber) -> None:
    talk(dev, "RUN PRGM, TEMP20 GOTEMP40 TIME0:20")
    dev.power_loss()
    assert talk(dev, "MODE?") == ["STANDBY"]
    assert not chamber.running
    assert chamber.gradient_up == 1.0


def test_over_long_line(dev: EspecChamber) -> None:
    session, out = dev.new_session(), Out()
    session.data_received(b"X" * 1000, out)
    session.data_received(b"Y\r\nTEMP?\r\n", out)
    assert out.data == b"NA:CMD ERR\r\n23.5,25.0,180.0,-40.0\r\n"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=8))
def test_random_bytes_never_raise(chunks: list[bytes]) -> None:
    clock = FakeClock()
    dev = EspecChamber(FakeChamber(clock=clock), clock)
    session, out = dev.new_session(), Out()
    for chunk in chunks:
        session.data_received(chunk, out)
    assert out.data == b"" or out.data.endswith(b"\r\n")


def test_over_tcp(chamber: FakeChamber, clock: FakeClock) -> None:
    dev = EspecChamber(chamber, clock)
    with BackgroundLoop() as bl:
        (ep,) = bl.serve([Endpoint("chamber", "chamber", "espec", dev)])
        with socket.create_connection(("127.0.0.1", ep.bound_port), timeout=5) as s:
            s.sendall(b"TEMP, S40.0\r\nTEMP?\r\n")
            buf = b""
            while buf.count(b"\r\n") < 2:
                chunk = s.recv(100)
                assert chunk
                buf += chunk
    assert buf == b"OK:TEMP, S40.0\r\n23.5,40.0,180.0,-40.0\r\n"


# -- against the real physics world -------------------------------------------------------------------
def test_real_chamber_remote_ramp_over_tcp() -> None:
    world = World(load_sim_bench())
    assert world.chamber is not None
    dev = EspecChamber(world.chamber, world.clock)
    with BackgroundLoop() as bl:
        (ep,) = bl.serve([Endpoint("chamber", "chamber", "espec", dev)])
        with socket.create_connection(("127.0.0.1", ep.bound_port), timeout=5) as s:

            def ask(*requests: str) -> list[str]:
                s.sendall(b"".join(r.encode() + b"\r\n" for r in requests))
                buf = b""
                while buf.count(b"\r\n") < len(requests):
                    chunk = s.recv(1000)
                    assert chunk
                    buf += chunk
                return buf.decode().split("\r\n")[:-1]

            assert ask("TEMP, S181.0", "TEMP?") == ["NA:DATA OUT OF RANGE", "23.0,23.0,180.0,-40.0"]
            # 20 K in 10 min = 2 K/min, within the chamber's 5 K/min
            assert ask("RUN PRGM, TEMP23.0 GOTEMP43.0 TIME0:10", "MODE?") == [
                "OK:RUN PRGM, TEMP23.0 GOTEMP43.0 TIME0:10",
                "RUN",
            ]
            bl.call(lambda: world.advance(300.0))
            # program value 23 + 2·5 = 33 °C; air lags (τ 120 s): y = w − g·τ + g·τ·e^(−t/τ), g = 2/60 K/s
            g, tau = 2.0 / 60.0, 120.0
            air = 33.0 - g * tau + g * tau * math.exp(-300.0 / tau)
            assert ask("TEMP?", "RUN PRGM MON?") == [f"{air:.1f},43.0,180.0,-40.0", "1,33.0,50,0:05,0"]
            bl.call(lambda: world.advance(300.0))
            assert ask("MODE?") == ["CONSTANT"]
            assert world.chamber.gradient_up == 1.0  # the bench file's gradient is back
            assert world.chamber.running


def _ramp_run(poll: bool) -> tuple[World, list[str]]:
    """A remote ramp, then a new setpoint after the program's end; with or without polling MODE? meanwhile."""
    world = World(load_sim_bench(), seed=3)
    assert world.chamber is not None
    dev = EspecChamber(world.chamber, world.clock)
    session, out = dev.new_session(), Out()
    session.data_received(b"RUN PRGM, TEMP23.0 GOTEMP80.0 TIME0:20\r\n", out)
    for _ in range(60):  # 30 min in 30 s steps: the program ends at 20 min
        world.advance(30.0)
        if poll:
            session.data_received(b"MODE?\r\n", out)
    session.data_received(b"TEMP, S150.0\r\n", out)  # heats at the restored gradient, whoever polled
    world.advance(1800.0)
    session.data_received(b"MODE?\r\n", out)
    return world, out.data.decode().split("\r\n")[:-1]


def test_program_end_is_an_event_of_the_world_not_of_polling() -> None:
    polled, polled_replies = _ramp_run(poll=True)
    quiet, quiet_replies = _ramp_run(poll=False)
    assert polled.truth() == quiet.truth()
    assert polled_replies[-1] == quiet_replies[-1] == "CONSTANT"
    # poll k is at 30·k s: RUN up to 19.5 min, CONSTANT from 20 min, when the step ends exactly
    assert polled_replies[1:40] == ["RUN"] * 39 and polled_replies[40] == "CONSTANT"
    chamber = quiet.chamber
    assert chamber is not None and chamber.step_end is None
    # the bench file's gradients (1 K/min) were back when nobody was asking
    assert (chamber.gradient_up, chamber.gradient_down) == (1.0, 1.0)
    # program value: 80 °C at the step's end, then 1 K/min for 30 min (the step's 2.85 K/min would give 150)
    assert chamber.temperature_program == pytest.approx(80.0 + 1.0 * 30.0)
