"""Driver foundation: declarative settings (exact bytes, replayed), error-queue checks, the VISA transport."""

from __future__ import annotations

import socket

import pytest

from instruments.drivers.clock import SimulationClock
from instruments.drivers.errors import InstrumentConnectionError, InstrumentError, InstrumentTimeout, RangeError
from instruments.drivers.fluke6105a import Fluke6105A
from instruments.drivers.replay import ReplayMismatch, ReplayTransport
from instruments.drivers.transport import VisaTransport
from instruments.roles import PhaseLoad
from instruments.simulators.bench import RunningBench

OK = b'0,"No error"\n'


def fluke(dialogue: list[tuple[bytes, bytes | None]]) -> tuple[Fluke6105A, ReplayTransport]:
    t = ReplayTransport(dialogue, name="source")
    return Fluke6105A(t, max_voltage_v=300.0, max_current_a=120.0), t


def test_setting_write_is_one_round_trip_with_error_check() -> None:
    src, t = fluke([(b"SOUR:PHAS2:VOLT 230;:SYST:ERR?\n", OK)])
    src.phase(2).voltage = 230.0
    t.assert_done()


def test_setting_query_parses_nr3() -> None:
    src, t = fluke([(b"SOUR:PHAS1:CURR?\n", b"+5.00000000E+00\n")])
    assert src.phase(1).current == 5.0
    t.assert_done()


def test_boolean_setting() -> None:
    src, t = fluke([(b"OUTP ON;:SYST:ERR?\n", OK), (b"OUTP?\n", b"1\n")])
    src.output_on()
    assert src.is_on() is True
    t.assert_done()


def test_out_of_range_sends_nothing() -> None:
    src, t = fluke([])
    with pytest.raises(RangeError, match=r"source.voltage\[1\] = 300.5 V refused .* \[0, 300\] V"):
        src.phase(1).voltage = 300.5
    with pytest.raises(RangeError):
        src.phase(4).voltage = 10.0  # no phase 4
    with pytest.raises(RangeError):
        src.phase(1).current = float("nan")
    t.assert_done()


def test_apply_checks_everything_before_sending() -> None:
    src, t = fluke([])
    with pytest.raises(RangeError):
        src.apply({1: PhaseLoad(230.0, 5.0), 2: PhaseLoad(230.0, 500.0)})  # phase 2 bad: phase 1 not sent either
    t.assert_done()


def test_apply_compound_message_keeps_header_path() -> None:
    src, t = fluke([(b"SOUR:PHAS1:VOLT 230.0;VOLT:PANG 0.0;:SOUR:PHAS1:CURR 5.0;CURR:PANG -60.0;:SYST:ERR?\n", OK)])
    src.apply({1: PhaseLoad(230.0, 5.0, 0.0, -60.0)})
    t.assert_done()


def test_instrument_error_carries_code_message_command_and_drains_queue() -> None:
    src, t = fluke([
        (b"SOUR:FREQ 50;:SYST:ERR?\n", b'-222,"Data out of range"\n'),
        (b"SYST:ERR?\n", b'-350,"Queue overflow"\n'),
        (b"SYST:ERR?\n", OK),
    ])
    with pytest.raises(InstrumentError) as ei:
        src.frequency = 50.0
    e = ei.value
    assert (e.code, e.scpi_message, e.command) == (-222, "Data out of range", "SOUR:FREQ 50")
    t.assert_done()


def test_bench_restriction_is_named() -> None:
    src, t = fluke([])
    src.restrict("current", 0.0, 60.0, "meter X at position 3 (Imax 60 A)")
    with pytest.raises(RangeError, match=r"refused by meter X at position 3 \(Imax 60 A\)"):
        src.phase(1).current = 61.0
    t.assert_done()


def test_replay_detects_wrong_bytes() -> None:
    src, _ = fluke([(b"SOUR:PHAS1:VOLT 231;:SYST:ERR?\n", OK)])
    with pytest.raises(ReplayMismatch):
        src.phase(1).voltage = 230.0


def test_clock_advances_by_control_command() -> None:
    t = ReplayTransport([(b"CLOC:SPE?\n", b"+0.00000000E+00\n"), (b"CLOC:ADV 2.5;:SYST:ERR?\n", OK),
                         (b"CLOC:TIME?\n", b"+2.50000000E+00\n")], name="clock")
    clk = SimulationClock(t)
    clk.sleep(2.5)
    assert clk.now() == 2.5
    t.assert_done()


# -- the transport over real TCP ------------------------------------------------------------------------


def test_transport_sets_tcp_nodelay_and_records_transcript(sim: RunningBench) -> None:
    t = VisaTransport("source", sim.resource("source"))
    try:
        assert t.query("*IDN?").startswith("FLUKE")
        inst = t._inst
        sock = inst.visalib.sessions[inst.session].interface
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        kinds = [(e.direction, e.text) for e in t.transcript.entries]
        assert ("query", "*IDN?") in kinds
        assert any(d == "reply" and text.startswith("FLUKE") for d, text in kinds)
    finally:
        t.close()


def test_transport_timeout_is_not_retried(sim: RunningBench) -> None:
    t = VisaTransport("source", sim.resource("source"), timeout_s=0.3)
    try:
        t.query("*IDN?")
        sim.call(sim.bench.inject_fault, "source", "HANG")
        with pytest.raises(InstrumentTimeout):
            t.query("*IDN?")
    finally:
        t.close()


def test_transport_reconnects_a_bounded_number_of_times(sim: RunningBench) -> None:
    t = VisaTransport("source", sim.resource("source"), reconnects=2, reconnect_delay_s=0.01, timeout_s=1.0)
    try:
        t.query("*IDN?")
        sim.call(sim.bench.inject_fault, "source", "DROP")
        assert t.query("*IDN?").startswith("FLUKE")  # one reconnect
        sim.call(sim.bench.inject_fault, "source", "REFUSE")
        with pytest.raises(InstrumentConnectionError, match="reconnect"):
            t.query("*IDN?")
        opens = [e for e in t.transcript.entries if e.direction == "event" and e.text.startswith("open")]
        # first open, one after the drop, then exactly `reconnects` = 2 tries while every connection is refused
        assert len(opens) == 1 + 1 + 2
    finally:
        t.close()
