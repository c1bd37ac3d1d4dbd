"""IEC 62056-21 mode C client, replayed: exact bytes (BCCs worked out here, independently of the driver)."""

from __future__ import annotations

from functools import reduce
from typing import Any

import pytest

from instruments.drivers.errors import BenchFault, ReplyError
from instruments.drivers.iec62056 import BccError, Iec62056Port, MeterRefused, PasswordRejected, parse_data_sets
from instruments.drivers.replay import ReplayTransport
from instruments.roles import MeterPort

SOH, STX, ETX, ACK, NAK = b"\x01", b"\x02", b"\x03", b"\x06", b"\x15"
SIGN_ON = (b"/?12345678!\r\n", b"/MHL5MHLSIM-1P2W\r\n")
# worked by hand: 'P'^'1'^STX^'('^8×'0'^')'^ETX = 0x50^0x31^0x02^0x28^0x29^0x03 = 0x61 'a'
P1 = b"\x01P1\x02(00000000)\x03a"
# 'R'^'1'^STX^'1'^'.'^'8'^'.'^'0'^'('^')'^ETX = 0x5A 'Z'
R1_180 = b"\x01R1\x021.8.0()\x03Z"
# 'B'^'0'^ETX = 0x42^0x30^0x03 = 0x71 'q' (docs/meter-port.md)
B0 = b"\x01B0\x03q"


def xor(data: bytes) -> bytes:
    return bytes([reduce(lambda a, b: a ^ b, data, 0)])


def block(first: bytes, body: bytes) -> bytes:
    """``first`` + ``body`` (ending in ETX) + the XOR of ``body``."""
    return first + body + xor(body)


P0 = block(SOH, b"P0\x02(12345678)\x03")
R1_VALUE = block(STX, b"1.8.0(001234.567*kWh)\x03")


def port(dialogue: list[tuple[bytes, bytes | None]], **options: Any) -> tuple[Iec62056Port, ReplayTransport]:
    t = ReplayTransport(dialogue, name="meter3", read_termination=None, write_termination="")
    options.setdefault("address", "12345678")
    options.setdefault("password", "00000000")
    return Iec62056Port(t, **options), t


def programming(*steps: tuple[bytes, bytes | None]) -> list[tuple[bytes, bytes | None]]:
    """Sign-on in programming mode and the password, then ``steps``."""
    return [SIGN_ON, (b"\x06051\r\n", P0), (P1, ACK), *steps]


def test_literal_frames_agree_with_the_xor_rule() -> None:
    assert block(SOH, b"P1\x02(00000000)\x03") == P1
    assert block(SOH, b"R1\x021.8.0()\x03") == R1_180
    assert block(SOH, b"B0\x03") == B0


def test_plays_the_role() -> None:
    p, _ = port([])
    assert isinstance(p, MeterPort)


def test_data_readout_parsed_with_bcc_checked() -> None:
    lines = b"C.1.0(12345678)\r\n0.9.1(07:08:09)\r\n1.8.0(001234.567*kWh)\r\n1.8.1(001000.000*kWh)\r\n!\r\n"
    p, t = port([SIGN_ON, (b"\x06050\r\n", block(STX, lines + ETX))])
    assert p.readout() == {"C.1.0": "12345678", "0.9.1": "07:08:09", "1.8.0": "001234.567*kWh",
                           "1.8.1": "001000.000*kWh"}
    t.assert_done()


def test_identify_is_the_identification_line_of_a_complete_readout() -> None:
    p, t = port([(b"/?!\r\n", b"\x00\x00/MHS5B3DC60\r\n"),  # wake-up noise before "/" is skipped
                 (b"\x06050\r\n", block(STX, b"C.1.0(X1)\r\n!\r\n\x03"))], address="")
    assert p.identify() == "/MHS5B3DC60"
    assert p.last_readout == {"C.1.0": "X1"}
    t.assert_done()


def test_readout_with_a_wrong_bcc_is_a_reply_error() -> None:
    good = block(STX, b"1.8.0(000001.000*kWh)\r\n!\r\n\x03")
    p, t = port([SIGN_ON, (b"\x06050\r\n", good[:-1] + bytes([good[-1] ^ 0x01]))])
    with pytest.raises(BccError) as ei:
        p.readout()
    assert isinstance(ei.value, ReplyError) and isinstance(ei.value, BenchFault)
    t.assert_done()


def test_readout_without_its_end_line_is_a_reply_error() -> None:
    p, t = port([SIGN_ON, (b"\x06050\r\n", block(STX, b"1.8.0(000001.000*kWh)\r\n\x03"))])
    with pytest.raises(ReplyError, match="end line"):
        p.readout()
    t.assert_done()


@pytest.mark.parametrize("ident", [b"/MHLAMHLSIM\r\n", b"MHL5MHLSIM\r\n", b"/M5X\r\n"])
def test_not_a_mode_c_identification(ident: bytes) -> None:
    p, t = port([(SIGN_ON[0], ident)])
    with pytest.raises(ReplyError):
        p.readout()
    t.assert_done()


def test_read_register_in_programming_mode() -> None:
    p, t = port(programming((R1_180, R1_VALUE), (B0, None)))
    assert p.read("1.8.0") == "001234.567*kWh"
    t.assert_done()


def test_several_operations_in_one_programming_session() -> None:
    p, t = port(programming(
        (R1_180, R1_VALUE),
        (block(SOH, b"W1\x020.9.1(12:00:00)\x03"), ACK),
        (B0, None),
    ))
    with p.programming() as session:
        assert session.read("1.8.0") == "001234.567*kWh"
        session.write("0.9.1", "12:00:00")
    t.assert_done()


def test_nak_from_the_meter_repeats_the_frame() -> None:
    p, t = port(programming((R1_180, NAK), (R1_180, R1_VALUE), (B0, None)))
    assert p.read("1.8.0") == "001234.567*kWh"
    t.assert_done()


def test_nak_repeated_past_the_bound_is_an_error_and_still_breaks() -> None:
    p, t = port(programming((R1_180, NAK), (R1_180, NAK), (R1_180, NAK), (B0, None)), nak_retries=2)
    with pytest.raises(MeterRefused, match=r"NAK .* 3 times"):
        p.read("1.8.0")
    t.assert_done()


def test_reply_with_a_wrong_bcc_is_asked_for_again() -> None:
    bad = R1_VALUE[:-1] + bytes([R1_VALUE[-1] ^ 0x20])
    p, t = port(programming((R1_180, bad), (NAK, R1_VALUE), (B0, None)))
    assert p.read("1.8.0") == "001234.567*kWh"
    t.assert_done()


def test_wrong_bcc_past_the_bound_is_a_reply_error() -> None:
    bad = R1_VALUE[:-1] + bytes([R1_VALUE[-1] ^ 0x20])
    p, t = port(programming((R1_180, bad), (NAK, bad), (B0, None)), nak_retries=1)
    with pytest.raises(BccError):
        p.read("1.8.0")
    t.assert_done()


def test_write_refused_after_the_retries() -> None:
    w1 = block(SOH, b"W1\x021.8.0(000000.000*kWh)\x03")
    p, t = port(programming((w1, NAK), (w1, NAK), (B0, None)), nak_retries=1)
    with pytest.raises(MeterRefused):
        p.write("1.8.0", "000000.000*kWh")
    t.assert_done()


def test_unknown_register_is_refused() -> None:
    r1 = block(SOH, b"R1\x029.9.9()\x03")
    p, t = port(programming((r1, block(STX, b"(ERROR)\x03")), (B0, None)))
    with pytest.raises(MeterRefused, match=r"9\.9\.9"):
        p.read("9.9.9")
    t.assert_done()


def test_wrong_password_is_not_retried() -> None:
    """Three wrong passwords lock a meter: a NAK to P1 is reported at once, and the dialogue is broken off."""
    wrong = block(SOH, b"P1\x02(11111111)\x03")
    p, t = port([SIGN_ON, (b"\x06051\r\n", P0), (wrong, NAK), (B0, None)], password="11111111")
    with pytest.raises(PasswordRejected):
        p.read("1.8.0")
    t.assert_done()


def test_no_password_sends_nothing() -> None:
    p, t = port([], password=None)
    with pytest.raises(ValueError, match="nothing was sent"):
        p.write("0.9.1", "12:00:00")
    t.assert_done()


@pytest.mark.parametrize("address", ["a" * 33, "12/34", "12!"])
def test_bad_device_address(address: str) -> None:
    with pytest.raises(ValueError, match="device address"):
        port([], address=address)


def test_data_sets_with_several_values() -> None:
    text = "1.6.0(00012.3*kW)(24-05-06 10:00)\r\nF.F(00)\r\n"
    assert parse_data_sets(text) == {"1.6.0": "00012.3*kW)(24-05-06 10:00", "F.F": "00"}
