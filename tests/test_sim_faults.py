"""Fault injection through the control endpoint, observed through pyvisa-py as a driver would see it."""

from __future__ import annotations

import socket

import pytest
from pyvisa.errors import VisaIOError

from instruments.simulators.bench import RunningBench
from tests.helpers import Opener, truth


def energise(source: object, amps: float = 5.0) -> None:
    """Program the load and switch on; the read-back makes sure the source has executed it before the test
    advances the clock on another connection (not *OPC?: that waits for settling, i.e. for the clock)."""
    for ph in (1, 2, 3):
        source.write(f"SOUR:PHAS{ph}:VOLT 230;CURR {amps}")  # type: ignore[attr-defined]
    source.write("OUTP ON")  # type: ignore[attr-defined]
    assert source.query("OUTP?") == "1"  # type: ignore[attr-defined]


def sync(ctl: object, command: str) -> None:
    """Send a control command and wait until it has been executed (a write alone races other connections)."""
    ctl.write(command)  # type: ignore[attr-defined]
    assert ctl.query("*OPC?") == "1"  # type: ignore[attr-defined]


def meter_truth(t: dict, pos: int) -> dict:  # type: ignore[type-arg]
    return t["meters"][str(pos)]  # type: ignore[no-any-return]


def test_drop_closes_connection_and_reconnect_works(visa: Opener) -> None:
    src, ctl = visa("source"), visa("control")
    assert src.query("*IDN?").startswith("FLUKE")
    sync(ctl, 'FAUL:INJ "source","DROP"')
    src.timeout = 1000  # a closed socket shows as a timeout of the read
    with pytest.raises((VisaIOError, ConnectionError, OSError)):
        src.query("*IDN?")
    assert visa("source").query("*IDN?").startswith("FLUKE")


def test_hang_times_out_until_cleared(visa: Opener) -> None:
    src, ctl = visa("source"), visa("control")
    sync(ctl, 'FAUL:INJ "source","HANG"')
    src.timeout = 300
    with pytest.raises(VisaIOError):
        src.query("*IDN?")
    sync(ctl, 'FAUL:CLE "source"')
    assert visa("source").query("*IDN?").startswith("FLUKE")


def test_garble_corrupts_exactly_n_replies(visa: Opener) -> None:
    src, ctl = visa("source"), visa("control")
    good = src.query("*IDN?")
    sync(ctl, 'FAUL:INJ "source","GARBLE",2')
    assert src.query("*IDN?") != good
    assert src.query("*IDN?") != good
    assert src.query("*IDN?") == good


def test_refuse_until_cleared(visa: Opener) -> None:
    ctl = visa("control")
    sync(ctl, 'FAUL:INJ "reference","REFUSE"')
    with pytest.raises((VisaIOError, ConnectionError, OSError)):
        visa("reference").query("*IDN?")
    sync(ctl, 'FAUL:CLE "reference"')
    assert visa("reference").query("*IDN?").startswith("YOKOGAWA")


def test_pushed_scpi_error_reaches_the_queue(visa: Opener) -> None:
    src, ctl = visa("source"), visa("control")
    sync(ctl, 'FAUL:INJ "source","ERROR",-310')
    code = int(src.query("SYST:ERR?").split(",")[0])
    assert code == -310
    assert int(src.query("*ESR?")) & (1 << 3)  # −3xx sets DDE


def test_reset_is_a_power_loss_with_outputs_off(visa: Opener) -> None:
    src, ctl = visa("source"), visa("control")
    energise(src)
    sync(ctl, "CLOC:ADV 10")
    assert truth(ctl)["source"]["output"] is True
    sync(ctl, 'FAUL:INJ "source","RESET"')
    assert truth(ctl)["source"]["output"] is False
    src.timeout = 1000  # a closed socket shows as a timeout of the read
    with pytest.raises((VisaIOError, ConnectionError, OSError)):
        src.query("*IDN?")
    src2 = visa("source")
    assert int(src2.query("OUTP?")) == 0


def test_meter_no_pulses_and_fail(visa: Opener, sim: RunningBench) -> None:
    src, ctl = visa("source"), visa("control")
    energise(src)
    sync(ctl, "CLOC:ADV 10")
    before = truth(ctl)
    sync(ctl, 'FAUL:INJ "meter1","NOPULSES"')
    sync(ctl, 'FAUL:INJ "meter2","FAIL"')
    sync(ctl, "CLOC:ADV 600")
    after = truth(ctl)
    assert meter_truth(after, 1)["pulses"] == meter_truth(before, 1)["pulses"]
    assert meter_truth(after, 3)["pulses"] > meter_truth(before, 3)["pulses"]
    assert meter_truth(after, 2)["alive"] is False
    # the dead meter's port is silent, a living one answers
    with socket.create_connection(("127.0.0.1", sim.port("meter2")), timeout=2) as s:
        s.settimeout(0.5)
        s.sendall(b"/?!\r\n")
        with pytest.raises(TimeoutError):
            s.recv(64)
    with socket.create_connection(("127.0.0.1", sim.port("meter3")), timeout=2) as s:
        s.settimeout(2)
        s.sendall(b"/?!\r\n")
        assert s.recv(64).startswith(b"/")


def test_meter_reset_is_a_power_failure(visa: Opener, sim: RunningBench) -> None:
    src, ctl = visa("source"), visa("control")
    energise(src)
    sync(ctl, "CLOC:ADV 10")
    with socket.create_connection(("127.0.0.1", sim.port("meter1")), timeout=2) as s:
        s.settimeout(2)
        s.sendall(b"/?!\r\n")
        assert s.recv(64).startswith(b"/")
        before = meter_truth(truth(ctl), 1)
        sync(ctl, 'FAUL:INJ "meter1","RESET"')
        try:  # the port's connection drops (aborted: a reset or an end of file)
            rest = s.recv(64)
        except ConnectionResetError:
            rest = b""
        assert rest == b""
    after = meter_truth(truth(ctl), 1)
    assert after["power_failures"] == before["power_failures"] + 1 == 1
    assert after["registers"]["C.7.0"] == 1.0
    assert after["registers"]["1.8.0"] == before["registers"]["1.8.0"]  # energy survives
    assert meter_truth(truth(ctl), 2)["power_failures"] == 0


@pytest.mark.parametrize("kind", ["DROP", "HANG", "GARBLE", "REFUSE"])
def test_connection_faults_on_the_control_endpoint_are_refused(visa: Opener, kind: str) -> None:
    ctl = visa("control")
    sync(ctl, f'FAUL:INJ "control","{kind}"')
    code, message = ctl.query("SYST:ERR?").split(",", 1)
    assert code == "-224" and kind in message and "control" in message
    assert ctl.query("*IDN?").startswith("MeterHIL,SimControl")  # still served, replies intact
    assert visa("control").query("*IDN?").startswith("MeterHIL,SimControl")  # new connections too


def test_one_advance_is_capped(visa: Opener) -> None:
    ctl = visa("control")
    t0 = float(ctl.query("CLOC:TIME?"))
    sync(ctl, "CLOC:ADV 1E8")
    assert ctl.query("SYST:ERR?").startswith("-222")
    assert float(ctl.query("CLOC:TIME?")) == t0
    sync(ctl, "CLOC:ADV 1E7")  # the cap itself is allowed (about 115 days)
    assert float(ctl.query("CLOC:TIME?")) == pytest.approx(t0 + 1e7)
    assert ctl.query("SYST:ERR?").startswith("0,")


def test_chamber_alarm(visa: Opener) -> None:
    ctl = visa("control")
    sync(ctl, 'FAUL:INJ "chamber","ALARM",7')
    assert 7 in truth(ctl)["chamber"]["alarms"]


def test_unknown_endpoint_or_fault_is_an_scpi_error(visa: Opener) -> None:
    ctl = visa("control")
    sync(ctl, 'FAUL:INJ "nosuch","DROP"')
    assert ctl.query("SYST:ERR?").startswith("-224")
    sync(ctl, 'FAUL:INJ "source","EXPLODE"')
    assert ctl.query("SYST:ERR?").startswith("-224")
    assert ctl.query("SYST:ERR?").startswith("0,")


def test_time_moves_only_on_request(visa: Opener) -> None:
    ctl = visa("control")
    t0 = float(ctl.query("CLOC:TIME?"))
    ctl.query("*OPC?")
    assert float(ctl.query("CLOC:TIME?")) == t0
    sync(ctl, "CLOC:ADV 12.5")
    assert float(ctl.query("CLOC:TIME?")) == pytest.approx(t0 + 12.5)
