"""SimServ chamber server: exact bytes on the wire, refusals that change nothing, robustness, real TCP."""

from __future__ import annotations

import math
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments.simulators.lines import LineFramer
from instruments.simulators.loop import BackgroundLoop
from instruments.simulators.net import Endpoint
from instruments.simulators.simserv import ChamberIdent, SimServChamber
from instruments.simulators.world.config import load_sim_bench
from instruments.simulators.world.world import World
from tests.helpers import FakeChamber, Out

P = b"\xb6"  # ¶


def cmd(*fields: str) -> bytes:
    return P.join(f.encode("latin-1") for f in fields) + b"\r"


def talk(dev: SimServChamber, *chunks: bytes) -> bytes:
    session, out = dev.new_session(), Out()
    for chunk in chunks:
        session.data_received(chunk, out)
    return out.data


@pytest.fixture
def chamber() -> FakeChamber:
    return FakeChamber()


@pytest.fixture
def dev(chamber: FakeChamber) -> SimServChamber:
    return SimServChamber(chamber, ident=ChamberIdent("VT 4002", "2019", "5820012"))


def test_get_actual_and_setpoint_values_exact_bytes(dev: SimServChamber) -> None:
    assert talk(dev, b"11004\xb61\xb61\r") == b"1\xb623.50\r\n"
    assert talk(dev, cmd("11004", "1", "2")) == b"1\xb645.00\r\n"
    assert talk(dev, cmd("11002", "1", "1")) == b"1\xb625.00\r\n"


def test_set_setpoint_is_accepted_with_bare_1(dev: SimServChamber, chamber: FakeChamber) -> None:
    assert talk(dev, cmd("11001", "1", "1", "-12.5")) == b"1\r\n"
    assert chamber.temperature_setpoint == -12.5
    assert talk(dev, cmd("11001", "1", "2", "85")) == b"1\r\n"
    assert chamber.humidity_setpoint == 85.0


@pytest.mark.parametrize("value", ["180.5", "-41", "1e3", "nan", "inf", "", "25,0", "0x10"])
def test_setpoint_refused_leaves_setpoint_unchanged(dev: SimServChamber, chamber: FakeChamber, value: str) -> None:
    assert talk(dev, cmd("11001", "1", "1", value)) == b"-6\r\n"
    assert chamber.temperature_setpoint == 25.0


def test_unknown_command_wrong_chamber_and_missing_arguments(dev: SimServChamber) -> None:
    assert talk(dev, cmd("12345", "1")) == b"-5\r\n"
    assert talk(dev, cmd("hello", "1")) == b"-5\r\n"
    assert talk(dev, cmd("11004", "2", "1")) == b"-6\r\n"  # there is one chamber, index 1
    assert talk(dev, cmd("11004")) == b"-6\r\n"
    assert talk(dev, cmd("11004", "1")) == b"-6\r\n"
    assert talk(dev, cmd("11004", "1", "3")) == b"-6\r\n"  # no third control variable


def test_humidity_on_temperature_only_chamber_is_refused() -> None:
    dev = SimServChamber(FakeChamber(humidity=False))
    assert talk(dev, cmd("11004", "1", "2")) == b"-6\r\n"
    assert talk(dev, cmd("11018", "1")) == b"1\xb61\r\n"


def test_terminators_cr_crlf_lf_and_split_chunks(dev: SimServChamber) -> None:
    line = cmd("11004", "1", "1")[:-1]
    expected = b"1\xb623.50\r\n"
    assert talk(dev, line + b"\r\n") == expected
    assert talk(dev, line + b"\n") == expected
    assert talk(dev, *[bytes([b]) for b in line + b"\r\n"]) == expected
    assert talk(dev, line + b"\r" + line + b"\r") == expected * 2


def test_over_long_line_is_discarded_with_one_error(dev: SimServChamber) -> None:
    reply = talk(dev, b"1" * 600, b"2" * 600, b"\r", cmd("11004", "1", "1"))
    assert reply == b"-5\r\n" + b"1\xb623.50\r\n"


def test_start_stop_manual_mode_and_status(dev: SimServChamber, chamber: FakeChamber) -> None:
    assert talk(dev, cmd("10012", "1")) == b"1\xb61\r\n"
    assert talk(dev, cmd("14001", "1", "1", "1")) == b"1\r\n"
    assert chamber.running
    assert talk(dev, cmd("14003", "1", "1")) == b"1\xb61\r\n"
    assert talk(dev, cmd("10012", "1")) == b"1\xb63\r\n"
    chamber.alarms = [7]
    assert talk(dev, cmd("10012", "1")) == b"1\xb611\r\n"  # 3 running + 8 alarms
    assert talk(dev, cmd("14001", "1", "1", "0")) == b"1\r\n"
    assert not chamber.running
    assert talk(dev, cmd("14001", "1", "1", "2")) == b"-6\r\n"


def test_other_digital_outputs_are_remembered_not_physical(dev: SimServChamber, chamber: FakeChamber) -> None:
    assert talk(dev, cmd("14001", "1", "7", "1")) == b"1\r\n"
    assert talk(dev, cmd("14003", "1", "7")) == b"1\xb61\r\n"
    assert not chamber.running
    dev.power_loss()
    assert talk(dev, cmd("14003", "1", "7")) == b"1\xb60\r\n"


def test_output_2_is_humidity_control(dev: SimServChamber, chamber: FakeChamber) -> None:
    assert talk(dev, cmd("14003", "1", "2")) == b"1\xb61\r\n"  # on at start
    assert talk(dev, cmd("14001", "1", "2", "0")) == b"1\r\n"
    assert not chamber.humidity_controlled and chamber.humidity_setpoint == 50.0  # setpoint kept
    assert talk(dev, cmd("14003", "1", "2")) == b"1\xb60\r\n"
    assert talk(dev, cmd("14001", "1", "2", "1")) == b"1\r\n"
    assert chamber.humidity_controlled
    dev.power_loss()  # the digital outputs drop: humidity control too
    assert not chamber.humidity_controlled
    # without humidity control, output 2 is an ordinary remembered output
    dry = FakeChamber(humidity=False)
    plain = SimServChamber(dry)
    assert talk(plain, cmd("14001", "1", "2", "1"), cmd("14003", "1", "2")) == b"1\r\n1\xb61\r\n"
    assert not dry.humidity_controlled


def test_gradients(dev: SimServChamber, chamber: FakeChamber) -> None:
    assert talk(dev, cmd("11068", "1", "1", "3.5")) == b"1\r\n"
    assert talk(dev, cmd("11072", "1", "1", "2")) == b"1\r\n"
    assert (chamber.gradient_up, chamber.gradient_down) == (3.5, 2.0)
    assert talk(dev, cmd("11066", "1", "1")) == b"1\xb63.50\r\n"
    assert talk(dev, cmd("11070", "1", "1")) == b"1\xb62.00\r\n"
    assert talk(dev, cmd("11068", "1", "1", "-1")) == b"-6\r\n"
    assert talk(dev, cmd("11068", "1", "1", "25")) == b"-6\r\n"  # the chamber refuses it
    assert talk(dev, cmd("11068", "1", "2", "1")) == b"-6\r\n"  # humidity has no gradient here
    assert chamber.gradient_up == 3.5


def test_ident_limits_and_names(dev: SimServChamber) -> None:
    assert talk(dev, cmd("99997", "1", "1")) == b"1\xb6VT 4002\r\n"
    assert talk(dev, cmd("99997", "1", "2")) == b"1\xb62019\r\n"
    assert talk(dev, cmd("99997", "1", "3")) == b"1\xb65820012\r\n"
    assert talk(dev, cmd("99997", "1", "4")) == b"-6\r\n"
    assert talk(dev, cmd("11007", "1", "1")) == b"1\xb6-40.00\r\n"
    assert talk(dev, cmd("11009", "1", "2")) == b"1\xb698.00\r\n"
    assert talk(dev, cmd("11023", "1", "1")) == b"1\xb6\xb0C\r\n"  # °C in Latin-1


def test_alarm_list_and_reset(dev: SimServChamber, chamber: FakeChamber) -> None:
    chamber.alarms = [3, 12]
    assert talk(dev, cmd("17002", "1")) == b"1\xb62\r\n"
    assert talk(dev, cmd("17007", "1", "2")) == b"1\xb6Alarm 12\r\n"
    assert talk(dev, cmd("17005", "1", "1")) == b"1\xb61\r\n"
    assert talk(dev, cmd("17009", "1", "1")) == b"1\xb61\r\n"
    assert talk(dev, cmd("17007", "1", "3")) == b"-6\r\n"
    assert talk(dev, cmd("17012", "1")) == b"1\r\n"
    assert chamber.alarms == []
    assert talk(dev, cmd("17002", "1")) == b"1\xb60\r\n"


def test_programs_are_not_stored(dev: SimServChamber, chamber: FakeChamber) -> None:
    assert talk(dev, cmd("19014", "1", "2", "1")) == b"-6\r\n"
    assert not chamber.running
    assert talk(dev, cmd("19015", "1")) == b"1\r\n"
    assert talk(dev, cmd("19210", "1")) == b"1\xb60\r\n"


def test_power_loss_stops_the_chamber(dev: SimServChamber, chamber: FakeChamber) -> None:
    talk(dev, cmd("14001", "1", "1", "1"))
    dev.power_loss()
    assert not chamber.running


def test_line_framer_reports_each_overflow_once() -> None:
    framer = LineFramer(max_line=4)
    assert framer.feed(b"ab\rcdefg") == [b"ab", None]
    assert framer.feed(b"hij\nok\r") == [b"ok"]
    assert framer.feed(b"123456\r") == [None]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_random_bytes_never_raise_and_replies_stay_framed(chunks: list[bytes]) -> None:
    dev = SimServChamber(FakeChamber())
    reply = talk(dev, *chunks)
    assert reply == b"" or reply.endswith(b"\r\n")
    for line in reply.split(b"\r\n")[:-1]:
        code = line.split(P)[0]
        assert code == b"1" or code in (b"-5", b"-6", b"-8")


def test_over_tcp(chamber: FakeChamber) -> None:
    dev = SimServChamber(chamber)
    with BackgroundLoop() as bl:
        (ep,) = bl.serve([Endpoint("chamber", "chamber", "simserv", dev)])
        with socket.create_connection(("127.0.0.1", ep.bound_port), timeout=5) as s:
            s.sendall(cmd("11001", "1", "1", "60") + cmd("11002", "1", "1"))
            buf = b""
            while buf.count(b"\r\n") < 2:
                chunk = s.recv(100)
                assert chunk
                buf += chunk
    assert buf == b"1\r\n1\xb660.00\r\n"


# -- against the real physics world -------------------------------------------------------------------
def air_after_ramp(t_s: float, start_c: float, k_per_min: float, tau_s: float) -> float:
    """Air temperature ``t_s`` into a ramp of the program value from ``start_c`` (air settled there):
    τ·dy/dt = w − y with w = start + g·t gives y = w − g·τ + g·τ·e^(−t/τ)."""
    g = k_per_min / 60.0
    return start_c + g * t_s - g * tau_s + g * tau_s * math.exp(-t_s / tau_s)


def recv_lines(s: socket.socket, n: int) -> bytes:
    buf = b""
    while buf.count(b"\r\n") < n:
        chunk = s.recv(1000)
        assert chunk, "connection closed"
        buf += chunk
    return buf


def test_real_chamber_over_tcp_ramp_and_refusal() -> None:
    world = World(load_sim_bench())
    assert world.chamber is not None
    dev = SimServChamber(world.chamber)
    with BackgroundLoop() as bl:
        (ep,) = bl.serve([Endpoint("chamber", "chamber", "simserv", dev)])
        with socket.create_connection(("127.0.0.1", ep.bound_port), timeout=5) as s:
            s.sendall(cmd("99997", "1", "3") + cmd("11001", "1", "1", "181") + cmd("11002", "1", "1"))
            assert recv_lines(s, 3) == b"1\xb6SIMCH0001\r\n-6\r\n1\xb623.00\r\n"  # beyond 180 °C: unchanged
            s.sendall(cmd("11068", "1", "1", "2") + cmd("11001", "1", "1", "60") + cmd("14001", "1", "1", "1"))
            assert recv_lines(s, 3) == b"1\r\n" * 3
            bl.call(lambda: world.advance(600.0))
            s.sendall(cmd("11004", "1", "1") + cmd("10012", "1"))
            # 23 °C air, program ramps at 2 K/min, air lags with τ = 120 s (default bench)
            expected = air_after_ramp(600.0, 23.0, 2.0, 120.0)
            assert recv_lines(s, 2) == f"1\xb6{expected:.2f}\r\n1\xb63\r\n".encode("latin-1")
