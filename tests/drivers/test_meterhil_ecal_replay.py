"""MeterHIL error-calculator driver, replayed: the exact bytes sent and the parsing of replies, no server."""

from __future__ import annotations

import math

import pytest

from instruments.drivers.errors import InstrumentError, RangeError, ReplyError
from instruments.drivers.meterhil_ecal import MeterHilErrorCalculator
from instruments.drivers.replay import ReplayTransport
from instruments.roles import ChannelResult, ErrorCalculator

OK = b'0,"No error"\n'


def ecal(dialogue: list[tuple[bytes, bytes | None]], channels: int | None = 3) -> tuple[
        MeterHilErrorCalculator, ReplayTransport]:
    t = ReplayTransport(dialogue, name="error_calculator")
    return MeterHilErrorCalculator(t, channels=channels), t


def test_plays_the_role() -> None:
    ec, _ = ecal([])
    assert isinstance(ec, ErrorCalculator)


def test_configure_every_position_alike_is_one_conf_all() -> None:
    ec, t = ecal([(b"CONF:ALL ERR,10,1000,IPKWH;:SYST:ERR?\n", OK)])
    ec.configure([1, 2, 3], 1000.0, 10)
    t.assert_done()


def test_configure_all_with_reference_constant() -> None:
    ec, t = ecal([(b"CONF:ALL CONT,20,500,IPKWH;:CONF:ALL:REF:CONS 5000000,IPKWH;:SYST:ERR?\n", OK)])
    ec.configure([3, 2, 1], 500.0, 20, ref_constant=5e6, mode="CONTINUOUS")
    t.assert_done()


def test_configure_some_positions_in_one_compound_message() -> None:
    ec, t = ecal([(
        b"CHAN1:CONF COUN,5,1000,IPKWH;:CHAN3:CONF COUN,5,1000,IPKWH;"
        b":CHAN1:REF:CONS 2500000.5,IPKWH;:CHAN3:REF:CONS 2500000.5,IPKWH;:SYST:ERR?\n", OK,
    )])
    ec.configure([3, 1, 3], 1000.0, 5, ref_constant=2500000.5, mode="COUNT")
    t.assert_done()


def test_configure_constants_per_position() -> None:
    ec, t = ecal([(
        b"CHAN1:CONF ERR,10,1000,IPKWH;:CHAN2:CONF ERR,10,400,IPKWH;:CHAN3:CONF ERR,10,1000,IPKWH;:SYST:ERR?\n", OK,
    )])
    ec.configure([1, 2, 3], {1: 1000.0, 2: 400.0, 3: 1000.0}, 10)
    t.assert_done()


@pytest.mark.parametrize("kwargs", [
    {"positions": [1, 4], "mut_constant": 1000.0, "mut_pulses": 10},  # no position 4
    {"positions": [1], "mut_constant": 1000.0, "mut_pulses": 0},
    {"positions": [1], "mut_constant": 1000.0, "mut_pulses": 1_000_000_001},
    {"positions": [1, 2], "mut_constant": {1: 1000.0, 2: 0.0}, "mut_pulses": 10},
    {"positions": [1], "mut_constant": -5.0, "mut_pulses": 10},
    {"positions": [1], "mut_constant": 1000.0, "mut_pulses": 10, "ref_constant": 0.0},
    {"positions": [1], "mut_constant": 1000.0, "mut_pulses": 10, "mode": "ERR"},
])
def test_bad_setup_is_refused_before_sending(kwargs: dict[str, object]) -> None:
    ec, t = ecal([])
    with pytest.raises(RangeError, match="nothing was sent"):
        ec.configure(**kwargs)  # type: ignore[arg-type]
    t.assert_done()


def test_start_and_abort_all_or_some() -> None:
    ec, t = ecal([
        (b"INIT:ALL;:SYST:ERR?\n", OK),
        (b"CHAN2:INIT;:CHAN3:INIT;:SYST:ERR?\n", OK),
        (b"ABOR:ALL;:SYST:ERR?\n", OK),
        (b"CHAN1:ABOR;:SYST:ERR?\n", OK),
    ])
    ec.start([1, 2, 3])
    ec.start([3, 2, 2])
    ec.abort([1, 2, 3])
    ec.abort([1])
    ec.start([])  # nothing to do: nothing sent
    t.assert_done()


def test_start_of_a_measuring_channel_is_an_instrument_error() -> None:
    ec, t = ecal([(b"CHAN2:INIT;:SYST:ERR?\n", b'-213,"Init ignored;channel 2 is already measuring"\n'),
                  (b"SYST:ERR?\n", OK)])
    with pytest.raises(InstrumentError) as ei:
        ec.start([2])
    assert (ei.value.code, ei.value.command) == (-213, "CHAN2:INIT")
    t.assert_done()


def test_results_of_every_channel_in_one_round_trip() -> None:
    ec, t = ecal([(
        b"FETC:ALL?\n",
        b"1,FINISHED,+1.20144173E-01,10,49940,2,RUNNING,9.91E+37,4,19976,3,FINISHED,9.9E+37,10,0\n",
    )])
    res = ec.results()
    t.assert_done()
    assert res[1] == ChannelResult(1, "FINISHED", 0.120144173, 10, 49940)
    # the reported error is the documented formula over the reported counts: (N·C_ref/(n_ref·C_mut) − 1)·100
    assert math.isclose(res[1].error_pct or 0.0, (10 * 5e6 / (49940 * 1000) - 1) * 100, rel_tol=1e-8)
    assert res[2] == ChannelResult(2, "RUNNING", None, 4, 19976)  # 9.91E+37: no result yet
    assert res[3].error_pct == math.inf  # 9.9E+37: no reference pulse, error not computable


@pytest.mark.parametrize("reply", [b"1,FINISHED,0.1,10\n", b"1,DONE,0.1,10,5\n", b"1,IDLE,abc,0,0\n"])
def test_garbled_results_are_a_reply_error(reply: bytes) -> None:
    ec, t = ecal([(b"FETC:ALL?\n", reply)])
    with pytest.raises(ReplyError, match="FETCh:ALL"):
        ec.results()
    t.assert_done()


def test_channel_count_is_asked_once_when_not_configured() -> None:
    ec, t = ecal([(b"CHAN:COUN?\n", b"24\n"), (b"INIT:ALL;:SYST:ERR?\n", OK)], channels=None)
    assert ec.channels == 24
    ec.start(range(1, 25))
    t.assert_done()


def test_channel_settings_and_readings() -> None:
    ec, t = ecal([
        (b"CHAN2:MUT:CONS 2000,IPKWH;:SYST:ERR?\n", OK),
        (b"CHAN2:MUT:CONS?\n", b"+2.00000000E+03\n"),
        (b"CHAN3:MODE COUN;:SYST:ERR?\n", OK),
        (b"CHAN3:MODE?\n", b"CONT\n"),
        (b"CHAN1:STAT?\n", b"WAITING\n"),
        (b"CHAN1:FETC:ERR?\n", b"-3.99840064E-02\n"),
        (b"CHAN3:FETC?\n", b"3,IDLE,9.91E+37,0,0\n"),
    ])
    ch2 = ec.channel(2)
    ch2.mut_constant = 2000.0
    assert ch2.mut_constant == 2000.0
    ec.channel(3).mode = "COUNT"
    assert ec.channel(3).mode == "CONTINUOUS"
    assert ec.channel(1).state == "WAITING"
    assert ec.channel(1).error_pct == -0.0399840064
    assert ec.channel(3).result == ChannelResult(3, "IDLE", None, 0, 0)
    with pytest.raises(RangeError):
        ec.channel(4)
    t.assert_done()


def test_safe_state_reconnects_then_aborts_all() -> None:
    ec, t = ecal([(b"ABOR:ALL;:SYST:ERR?\n", OK)])
    reconnects: list[int] = []
    t.on_reconnect.append(lambda: reconnects.append(1))
    ec.safe_state()
    assert reconnects == [1]
    t.assert_done()
