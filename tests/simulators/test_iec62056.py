"""IEC 62056-21 mode C meter port: exact bytes (BCC worked out here by hand), programming mode, robustness,
and register values against the physics over real TCP."""

from __future__ import annotations

import math
import socket
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments.simulators.iec62056 import MeterPort, energy_text
from instruments.simulators.loop import BackgroundLoop
from instruments.simulators.net import Endpoint
from instruments.simulators.world.config import SimBenchConfig, load_sim_bench
from instruments.simulators.world.meter import SERIAL_PATTERN
from instruments.simulators.world.world import World
from tests.helpers import Out

SOH, STX, ETX, ACK, NAK = b"\x01", b"\x02", b"\x03", b"\x06", b"\x15"
BREAK = b"\x01B0\x03q"  # 'B' 0x42 ^ '0' 0x30 ^ ETX 0x03 = 0x71 'q'


def xor(data: bytes) -> bytes:
    """The BCC, computed the long way."""
    acc = 0
    for byte in data:
        acc ^= byte
    return bytes([acc])


def command(cmd: bytes, data: bytes | None) -> bytes:
    """A client programming command: SOH cmd [STX data] ETX BCC."""
    body = cmd + (STX + data if data is not None else b"") + ETX
    return SOH + body + xor(body)


def answer(data: bytes) -> bytes:
    body = data + ETX
    return STX + body + xor(body)


class FakeMeter:
    """The port's view of a meter; writes are recorded (the register rules are the physics' own, tested
    against the real meter below)."""

    def __init__(self) -> None:
        self.serial = "12345678"
        self.connection = "1P2W"
        self.password = "00000000"
        self.registers = {"1.8.0": 1234.5678, "1.8.1": 1000.0, "1.8.2": 234.5678, "2.8.0": 0.0009999}
        self.port_alive = True
        self.pulsing = True
        self.alive = True
        self.failure_mode: str | None = None
        self.power_failures = 3
        self.clock = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
        self.presets: list[tuple[str, float]] = []

    def clock_datetime(self) -> datetime:
        return self.clock

    def set_clock(self, dt: datetime) -> None:
        self.clock = dt

    def preset_register(self, address: str, kwh: float) -> None:
        self.presets.append((address, kwh))
        self.registers[address] = kwh

    def set_serial(self, serial: str) -> None:
        if not SERIAL_PATTERN.fullmatch(serial):
            raise ValueError(serial)
        self.serial = serial

    def power_interruption(self) -> None:
        self.power_failures += 1


@pytest.fixture
def meter() -> FakeMeter:
    return FakeMeter()


@pytest.fixture
def port(meter: FakeMeter) -> MeterPort:
    return MeterPort(meter)


class Client:
    """One sans-IO session; ``send`` returns what the meter answered to those bytes."""

    def __init__(self, port: MeterPort) -> None:
        self.session = port.new_session()
        self.out = Out()

    def send(self, data: bytes) -> bytes:
        before = len(self.out.data)
        self.session.data_received(data, self.out)
        return self.out.data[before:]

    def programming(self, password: bytes = b"00000000") -> None:
        assert self.send(b"/?!\r\n").startswith(b"/MHL5")
        assert self.send(ACK + b"051\r\n") == command(b"P0", b"(12345678)")
        assert self.send(command(b"P1", b"(" + password + b")")) == ACK


def test_sign_on_identification(port: MeterPort) -> None:
    assert Client(port).send(b"/?!\r\n") == b"/MHL5MHLSIM-1P2W\r\n"
    assert Client(port).send(b"/?12345678!\r\n") == b"/MHL5MHLSIM-1P2W\r\n"


def test_other_address_is_silence(port: MeterPort) -> None:
    c = Client(port)
    assert c.send(b"/?87654321!\r\n") == b""
    assert c.send(ACK + b"050\r\n") == b""  # not signed on: the option select is ignored too


def test_data_readout_exact(port: MeterPort) -> None:
    c = Client(port)
    c.send(b"/?!\r\n")
    expected_lines = (
        b"C.1.0(12345678)\r\n"
        b"0.9.1(07:08:09)\r\n"
        b"0.9.2(24-05-06)\r\n"
        b"1.8.0(001234.567*kWh)\r\n"  # truncated, never rounded up
        b"1.8.1(001000.000*kWh)\r\n"
        b"1.8.2(000234.567*kWh)\r\n"
        b"2.8.0(000000.000*kWh)\r\n"
        b"C.7.0(0003)\r\n"
        b"F.F(00000000)\r\n"
        b"!\r\n"
    )
    assert c.send(ACK + b"050\r\n") == STX + expected_lines + ETX + xor(expected_lines + ETX)
    assert c.send(ACK + b"050\r\n") == b""  # back at the start after the readout


def test_readout_arrives_in_pieces(port: MeterPort) -> None:
    c = Client(port)
    request = b"\x00\x00/?12345678!\r\n" + ACK + b"050\r\n"
    reply = b"".join(c.send(bytes([b])) for b in request)
    assert reply.startswith(b"/MHL5MHLSIM-1P2W\r\n" + STX + b"C.1.0(12345678)\r\n")
    assert reply[-2:-1] == ETX


def test_energy_register_format() -> None:
    assert energy_text(0.0) == "000000.000"
    assert energy_text(1.0) == "000001.000"
    assert energy_text(999999.9999) == "999999.999"
    assert energy_text(1_000_000.0015) == "000000.001"  # 9-digit counter rolls over


def test_unsupported_option_select_is_ignored(port: MeterPort) -> None:
    for option in (b"052\r\n", b"150\r\n", b"060\r\n", b"05\r\r\n"):  # HDLC, protocol 1, 19200 Bd, bad end
        c = Client(port)
        c.send(b"/?!\r\n")
        assert c.send(ACK + option) == b""
        assert c.send(b"/?!\r\n").startswith(b"/MHL5")


def test_programming_mode_read_write_break(port: MeterPort, meter: FakeMeter) -> None:
    c = Client(port)
    c.programming()
    assert c.send(command(b"R1", b"1.8.0()")) == answer(b"1.8.0(001234.567*kWh)")
    assert c.send(command(b"R1", b"C.1.0()")) == answer(b"C.1.0(12345678)")
    assert c.send(command(b"R1", b"9.9.9()")) == answer(b"(ERROR)")
    assert c.send(command(b"W1", b"0.9.1(23:59:30)")) == ACK
    assert c.send(command(b"W1", b"0.9.2(25-01-31)")) == ACK
    assert meter.clock == datetime(2025, 1, 31, 23, 59, 30, tzinfo=UTC)
    assert c.send(command(b"R1", b"0.9.1()")) == answer(b"0.9.1(23:59:30)")
    assert c.send(BREAK) == b""
    assert c.send(command(b"R1", b"1.8.0()")) == b""  # idle after the break
    assert c.send(b"/?!\r\n").startswith(b"/MHL5")


@pytest.mark.parametrize(
    "data",
    [b"1.8.0(-00001.000)", b"1.8.0(1000000.000)", b"1.8.1(1.2345)", b"1.8.2()", b"2.8.0(1.0*Wh)", b"1.8.0(1e3)",
     b"C.1.0(A-1)", b"C.1.0()", b"C.1.0(" + b"9" * 33 + b")", b"C.7.0(0000)", b"F.F(00000000)",
     b"0.9.1(24:00:00)", b"0.9.2(24-02-30)", b"0.9.1(1:2:3)", b"x(1)"],
)  # fmt: skip
def test_refused_writes_are_nak_and_change_nothing(port: MeterPort, meter: FakeMeter, data: bytes) -> None:
    c = Client(port)
    c.programming()
    assert c.send(command(b"W1", data)) == NAK
    assert meter.clock == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert meter.registers["1.8.0"] == 1234.5678
    assert meter.presets == [] and meter.serial == "12345678" and meter.power_failures == 3


@pytest.mark.parametrize(
    ("data", "address", "kwh"),
    [(b"1.8.1(001234.567)", "1.8.1", 1234.567), (b"1.8.0(000000.000)", "1.8.0", 0.0),
     (b"2.8.0(12.5*kWh)", "2.8.0", 12.5), (b"1.8.2(999999.999*kWh)", "1.8.2", 999999.999),
     (b"1.8.0(7)", "1.8.0", 7.0)],
)  # fmt: skip
def test_energy_register_preset(port: MeterPort, meter: FakeMeter, data: bytes, address: str, kwh: float) -> None:
    c = Client(port)
    c.programming()
    # W1 frame: SOH W1 STX <data set> ETX BCC, the BCC over "W1" STX … ETX (computed here by xor)
    assert c.send(SOH + b"W1" + STX + data + ETX + xor(b"W1" + STX + data + ETX)) == ACK
    assert meter.presets == [(address, kwh)]  # whole Wh parsed exactly, no binary rounding on the way


def test_serial_write_changes_the_address(port: MeterPort, meter: FakeMeter) -> None:
    seen: list[str] = []
    port.on_serial_change = seen.append
    c = Client(port)
    c.programming()
    assert c.send(command(b"W1", b"C.1.0(NEW0042)")) == ACK
    assert meter.serial == "NEW0042" and seen == ["NEW0042"]
    assert c.send(command(b"R1", b"C.1.0()")) == answer(b"C.1.0(NEW0042)")
    assert c.send(BREAK) == b""
    fresh = Client(port)
    assert fresh.send(b"/?12345678!\r\n") == b""  # the old address reaches nobody any more
    assert fresh.send(b"/?NEW0042!\r\n") == b"/MHL5MHLSIM-1P2W\r\n"
    assert fresh.send(ACK + b"051\r\n") == command(b"P0", b"(NEW0042)")


def test_garbage_work_is_bounded(port: MeterPort) -> None:
    """256 KiB of "/" without LF (the O(n²) case): the pending input never exceeds one request, whatever the
    chunking, and the port still answers the next request."""
    c = Client(port)
    for chunk in (b"/" * 256 * 1024, b"/x" * 4096, b"x" * 100_000):
        assert c.send(chunk) == b""
        assert len(c.session._buf) <= len(b"/?" + b"A" * 32 + b"!\r\n")
    assert c.send(b"\r\n/?!\r\n") == b"/MHL5MHLSIM-1P2W\r\n"


def test_garbage_in_programming_mode_is_skipped_in_one_go(port: MeterPort) -> None:
    c = Client(port)
    c.programming()
    assert c.send(b"x" * 200_000) == b""
    assert len(c.session._buf) == 0
    assert c.send(b"y" * 1000 + command(b"R1", b"1.8.1()")) == answer(b"1.8.1(001000.000*kWh)")


def test_commands_before_password(port: MeterPort, meter: FakeMeter) -> None:
    c = Client(port)
    c.send(b"/?!\r\n")
    assert c.send(ACK + b"051\r\n") == command(b"P0", b"(12345678)")
    assert c.send(command(b"R1", b"1.8.0()")) == answer(b"(ERROR)")
    assert c.send(command(b"W1", b"0.9.1(00:00:00)")) == NAK
    assert meter.clock.hour == 7


def test_wrong_password_nak_then_lockout(port: MeterPort) -> None:
    c = Client(port)
    c.send(b"/?!\r\n")
    c.send(ACK + b"051\r\n")
    assert c.send(command(b"P1", b"(11111111)")) == NAK
    assert c.send(command(b"P1", b"(22222222)")) == NAK
    assert c.send(command(b"P1", b"(33333333)")) == BREAK
    assert c.send(command(b"P1", b"(00000000)")) == b""  # hung up: back at the start


def test_bad_bcc_is_nak_and_repeat_works(port: MeterPort) -> None:
    c = Client(port)
    c.programming()
    good = command(b"R1", b"1.8.1()")
    assert c.send(good[:-1] + bytes([good[-1] ^ 0x01])) == NAK
    assert c.send(good) == answer(b"1.8.1(001000.000*kWh)")
    assert c.send(NAK) == answer(b"1.8.1(001000.000*kWh)")  # the client asks again


def test_dead_meter_is_silent(port: MeterPort, meter: FakeMeter) -> None:
    meter.port_alive = False
    c = Client(port)
    assert c.send(b"/?!\r\n") == b""
    assert c.send(ACK + b"050\r\n") == b""
    meter.port_alive = True
    assert c.send(b"/?!\r\n").startswith(b"/MHL5")


def test_error_register(port: MeterPort, meter: FakeMeter) -> None:
    c = Client(port)
    c.programming()
    meter.pulsing = False
    assert c.send(command(b"R1", b"F.F()")) == answer(b"F.F(00000002)")
    meter.failure_mode = "drift"  # invisible to the meter itself
    assert c.send(command(b"R1", b"F.F()")) == answer(b"F.F(00000002)")
    meter.failure_mode = "no_pulses"
    assert c.send(command(b"R1", b"F.F()")) == answer(b"F.F(00000003)")


def test_power_loss_is_a_power_failure_and_returns_sessions_to_sign_on(port: MeterPort, meter: FakeMeter) -> None:
    c = Client(port)
    c.programming()
    c.send(b"/?1234")  # half a request pending
    port.power_loss()
    assert meter.power_failures == 4
    assert c.send(command(b"R1", b"1.8.0()")) == b""
    assert c.send(b"5678!\r\n") == b""  # the half request was lost with the power
    assert c.send(b"/?!\r\n").startswith(b"/MHL5")


def test_constructor_validates_identity(meter: FakeMeter) -> None:
    with pytest.raises(ValueError):
        MeterPort(meter, manufacturer="MH")
    with pytest.raises(ValueError):
        MeterPort(meter, ident="A/B")
    assert MeterPort(meter, manufacturer="ABc", ident="X1").identification() == b"/ABc5X1\r\n"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=8), st.booleans())
def test_random_bytes_never_raise(chunks: list[bytes], signed_on: bool) -> None:
    c = Client(MeterPort(FakeMeter()))
    if signed_on:
        c.programming()
    for chunk in chunks:
        c.send(chunk)
    # whatever state the noise left, a break and a new request always reach the sign-on again
    assert c.send(b"\r\n" + BREAK + b"/?!\r\n").endswith(b"/MHL5MHLSIM-1P2W\r\n")


def meter_messages(data: bytes) -> list[bytes]:
    """Split what a meter sent into whole messages, checking every block's BCC on the way."""
    messages, i = [], 0
    while i < len(data):
        first = data[i]
        if first in (ACK[0], NAK[0]):
            end = i + 1
        elif first == ord("/"):
            end = data.index(b"\r\n", i) + 2
        else:
            assert first in (SOH[0], STX[0]), data[i:]
            etx = data.index(ETX, i)
            assert data[etx + 1 : etx + 2] == xor(data[i + 1 : etx + 1])
            end = etx + 2
        messages.append(data[i:end])
        i = end
    return messages


DIALOGUE_PIECES = [
    b"/?!\r\n",
    b"/?12345678!\r\n",
    b"/?99!\r\n",
    ACK + b"050\r\n",
    ACK + b"051\r\n",
    command(b"P1", b"(00000000)"),
    command(b"P1", b"(1234)"),
    command(b"R1", b"1.8.0()"),
    command(b"R1", b"0.9.2()"),
    command(b"R1", b"?()"),
    command(b"W1", b"0.9.1(12:00:00)"),
    command(b"W1", b"0.9.2(99-99-99)"),
    command(b"E2", b"x()"),
    command(b"R1", b"1.8.0()")[:-1] + b"\x00",
    BREAK,
    NAK,
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(DIALOGUE_PIECES), st.binary(max_size=4)), max_size=24))
def test_any_dialogue_gets_only_well_formed_messages(pieces: list[bytes]) -> None:
    c = Client(MeterPort(FakeMeter()))
    replies = b"".join(c.send(piece) for piece in pieces)
    for message in meter_messages(replies):
        assert message in (ACK, NAK, BREAK, b"/MHL5MHLSIM-1P2W\r\n") or message[:1] in (STX, SOH)


def test_readout_over_tcp(meter: FakeMeter) -> None:
    port = MeterPort(meter)
    with BackgroundLoop() as bl:
        (ep,) = bl.serve([Endpoint("meter1", "meter_port", "iec62056-21", port)])
        with socket.create_connection(("127.0.0.1", ep.bound_port), timeout=5) as s:
            s.sendall(b"/?12345678!\r\n")
            buf = b""
            while not buf.endswith(b"\r\n"):
                buf += s.recv(100)
            assert buf == b"/MHL5MHLSIM-1P2W\r\n"
            s.sendall(ACK + b"050\r\n")
            buf = b""
            while ETX not in buf[:-1]:
                buf += s.recv(1000)
    assert b"1.8.0(001234.567*kWh)\r\n" in buf
    assert buf[-1:] == xor(buf[1:-1])


# -- against the real physics world -------------------------------------------------------------------
def ideal_world() -> World:
    """The default bench with ideal meters and an ideal source, so registers follow U·I·cosφ·t exactly."""
    data = load_sim_bench().model_dump()
    for meter_type in data["meter_types"].values():
        meter_type["behaviour"] = {}
        meter_type["failure"] = None
    for pos in data["positions"]:
        pos["overrides"] = None
    data["source"].update(setting_error_pct=0.0, setting_error_deg=0.0, settling_time_s=0.0)
    return World(SimBenchConfig.model_validate(data))


def apply_load(world: World, volts: float, amps: float, lag_deg: float) -> None:
    src = world.source
    for ph, u_angle in zip((1, 2, 3), (0.0, -120.0, 120.0), strict=True):
        src.set_voltage(ph, volts)
        src.set_voltage_angle(ph, u_angle)
        src.set_current(ph, amps)
        src.set_current_angle(ph, u_angle - lag_deg)
    src.set_output(True)


def readout_lines(frame: bytes) -> dict[str, str]:
    assert frame[:1] == STX and frame[-2:-1] == ETX
    assert frame[-1:] == xor(frame[1:-1])
    body = frame[1:-2].decode("ascii")
    assert body.endswith("!\r\n")
    return {line[: line.index("(")]: line[line.index("(") + 1 : -1] for line in body.split("\r\n")[:-2]}


def test_registers_follow_the_physics_over_tcp() -> None:
    world = ideal_world()
    meter = world.meters[1]
    assert meter.connection == "3P4W"
    port = MeterPort(meter)
    with BackgroundLoop() as bl:
        (ep,) = bl.serve([Endpoint("meter1", "meter_port", "iec62056-21", port)])

        def sign_on(option: bytes) -> bytes:
            with socket.create_connection(("127.0.0.1", ep.bound_port), timeout=5) as s:
                s.sendall(b"/?MHS2600000001!\r\n" + ACK + option)
                buf = b""
                while ETX not in buf[:-1]:
                    chunk = s.recv(4096)
                    assert chunk
                    buf += chunk
            ident, frame = buf.split(b"\r\n", 1)
            assert ident == b"/MHS5B3DC60"  # manufacturer and model (a port without DLMS announces no mode E)
            return frame

        # source off: the meter has no supply, its port is dead (checked on the loop thread, no timing)
        assert bl.call(lambda: Client(port).send(b"/?!\r\n")) == b""

        bl.call(lambda: apply_load(world, 230.0, 5.0, 60.0))
        bl.call(lambda: world.advance(3601.0))
        regs = readout_lines(sign_on(b"050\r\n"))
        # 3 elements · 230 V · 5 A · cos 60° = 1725 W for 3601 s = 1.72548 kWh, shown truncated to Wh
        kwh = 3 * 230.0 * 5.0 * math.cos(math.radians(60.0)) * 3601.0 / 3.6e6
        assert regs["1.8.0"] == f"{math.floor(kwh * 1000) / 1000:010.3f}*kWh" == "000001.725*kWh"
        # epoch 06:00 UTC: all of it in tariff 1 (06:00–22:00), the meter clock now reads 07:00:01
        assert regs["1.8.1"] == "000001.725*kWh"
        assert regs["1.8.2"] == regs["2.8.0"] == "000000.000*kWh"
        assert (regs["0.9.1"], regs["0.9.2"], regs["C.1.0"]) == ("07:00:01", "26-01-05", "MHS2600000001")
        assert (regs["C.7.0"], regs["F.F"]) == ("0000", "00000000")

        # a supply interruption is counted; the clock is set through programming mode
        bl.call(lambda: world.source.set_output(False))
        bl.call(lambda: world.advance(10.0))
        bl.call(lambda: world.source.set_output(True))
        bl.call(lambda: world.advance(1.0))
        assert sign_on(b"051\r\n") == command(b"P0", b"(MHS2600000001)")
        with socket.create_connection(("127.0.0.1", ep.bound_port), timeout=5) as s:

            def exchange(data: bytes, reply_len: int) -> bytes:
                s.sendall(data)
                buf = b""
                while len(buf) < reply_len:
                    chunk = s.recv(4096)
                    assert chunk
                    buf += chunk
                return buf

            exchange(b"/?!\r\n", len(b"/MHS5B3DC60\r\n"))
            exchange(ACK + b"051\r\n", len(command(b"P0", b"(MHS2600000001)")))
            assert exchange(command(b"P1", b"(00000000)"), 1) == ACK
            want = answer(b"C.7.0(0001)")
            assert exchange(command(b"R1", b"C.7.0()"), len(want)) == want
            assert exchange(command(b"W1", b"0.9.2(27-03-04)"), 1) == ACK
    # the physics meter's clock now has that date, the time of day kept (07:00:12 after 3612 s)
    assert meter.clock_datetime() == datetime(2027, 3, 4, 7, 0, 12, tzinfo=UTC)


def test_register_presets_reach_the_physics() -> None:
    """W1 presets in programming mode, then energy registered on top of them (tariff 1: epoch 06:00 UTC)."""
    world = ideal_world()
    meter = world.meters[1]
    apply_load(world, 230.0, 5.0, 0.0)  # powered, so the port answers
    c = Client(MeterPort(meter))
    assert c.send(b"/?MHS2600000001!\r\n") == b"/MHS5B3DC60\r\n"
    assert c.send(ACK + b"051\r\n") == command(b"P0", b"(MHS2600000001)")
    assert c.send(command(b"P1", b"(00000000)")) == ACK
    assert c.send(command(b"W1", b"1.8.1(000100.000)")) == ACK
    assert c.send(command(b"W1", b"1.8.2(000020.500*kWh)")) == ACK
    assert c.send(command(b"W1", b"2.8.0(000003.000)")) == ACK
    assert c.send(command(b"R1", b"1.8.0()")) == answer(b"1.8.0(000120.500*kWh)")  # 1.8.1 + 1.8.2
    world.advance(3600.0)
    # 3 · 230 V · 5 A · 3600 s = 3.45 kWh on top of the preset, all in tariff 1
    assert meter.registers["1.8.1"] == pytest.approx(100.0 + 3 * 230.0 * 5.0 * 3600.0 / 3.6e6, rel=1e-12)
    assert c.send(command(b"R1", b"1.8.1()")) == answer(b"1.8.1(000103.450*kWh)")
    assert c.send(command(b"R1", b"1.8.0()")) == answer(b"1.8.0(000123.950*kWh)")
    assert c.send(command(b"R1", b"2.8.0()")) == answer(b"2.8.0(000003.000*kWh)")
    # a preset of the total goes to tariff 1 and clears tariff 2 (meter.preset_register's rule)
    assert c.send(command(b"W1", b"1.8.0(000050.000)")) == ACK
    assert (meter.registers["1.8.0"], meter.registers["1.8.1"], meter.registers["1.8.2"]) == (50.0, 50.0, 0.0)
    assert meter.registers["2.8.0"] == 3.0


def test_serial_write_updates_the_bench_endpoint_record() -> None:
    from instruments.simulators.bench import SimulatedBench

    bench = SimulatedBench(load_sim_bench(), seed=1)
    ep = bench.endpoint("meter1")
    assert ep.describe()["serial"] == "MHS2600000001"
    assert isinstance(ep.device, MeterPort) and ep.device.write("C.1.0", "NEW0001")
    assert ep.describe()["serial"] == "NEW0001" == bench.world.meters[1].serial
    assert bench.endpoint("meter2").describe()["serial"] == "MHS2600000002"
