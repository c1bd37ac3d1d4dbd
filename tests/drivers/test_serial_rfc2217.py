"""The serial transport end to end against the simulated optical head (RFC 2217): IEC 62056-21 mode C readout and
programming at 300 → 9600 Bd, DLMS over HDLC after mode E, clients that get the baud switch wrong, bad bench input."""

from __future__ import annotations

import time
from typing import Any

import pytest

from instruments.drivers.dlms import DlmsPort
from instruments.drivers.iec62056 import Iec62056Port
from instruments.drivers.serial_transport import LineError, SerialTransport
from tests.drivers.conftest import Sim

SERIAL_3 = "MHS2600000003"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")


def head(bench: Sim, position: int = 3) -> Any:
    return bench.running.bench.endpoint(f"meter{position}-optical").device


def url(bench: Sim, position: int = 3) -> str:
    return f"rfc2217://127.0.0.1:{bench.running.port(f'meter{position}-optical')}"


def serial_port(bench: Sim, transport: SerialTransport | None = None, position: int = 3) -> Iec62056Port:
    t = transport or SerialTransport(f"meter{position}", url(bench, position), timeout_s=2.0)
    bench._links.append(t)  # type: ignore[arg-type]  # closed with the bench
    return Iec62056Port(t, address=f"MHS26{position:08d}", password="00000000")


def test_mode_c_readout_at_300_then_9600_bd(bench: Sim) -> None:
    bench.energise()
    port = serial_port(bench)
    t0 = time.perf_counter()
    assert port.identify() == "/MHS5\\2B3DC60"
    elapsed = time.perf_counter() - t0
    assert port.last_readout["C.1.0"] == SERIAL_3
    assert port.transport.baud == 9600  # switched after the acknowledgement
    # line time: request 18 + identification 15 + ACK 6 bytes at 300 Bd, two reaction times, readout at 9600 Bd
    assert elapsed > (18 + 15 + 6) * 10 / 300 + 0.4
    regs = port.readout()  # a second dialogue: back to 300 Bd for the sign-on
    assert regs["1.8.0"].endswith("*kWh")
    assert not head(bench).violations


def test_mode_c_programming(bench: Sim) -> None:
    bench.energise()
    port = serial_port(bench)
    with port.programming() as session:
        session.write("0.9.1", "12:34:56")
        assert session.read("0.9.1") == "12:34:56"
    assert not head(bench).violations


def test_dlms_over_hdlc_after_mode_e(bench: Sim) -> None:
    bench.energise()
    t = SerialTransport("meter3-dlms", url(bench), timeout_s=2.0)
    bench._links.append(t)  # type: ignore[arg-type]
    port = DlmsPort(t, client=16, authentication="none", transport_layer="hdlc", mode_e=True)
    try:
        energy = port.register("1.0.1.8.0.255")
        assert energy.value >= 0
        assert t.baud == 9600 and t._format == (8, "N", 1)
    finally:
        port.close()
    assert not head(bench).violations


class _NoSwitch:
    """A client that never switches baud (the transport without its hook)."""

    def __init__(self, t: SerialTransport) -> None:
        self._t = t
        self.name = t.name

    def __getattr__(self, attr: str) -> Any:
        if attr == "switch_baud":
            raise AttributeError(attr)
        return getattr(self._t, attr)


class _TooEarly(SerialTransport):
    """A client that switches at once, while its acknowledgement is still on the wire."""

    def wait_sent(self) -> None:
        pass


def test_client_that_does_not_switch_baud_fails_naming_the_cause(bench: Sim) -> None:
    bench.energise()
    t = SerialTransport("meter3", url(bench), timeout_s=1.0)
    bench._links.append(t)  # type: ignore[arg-type]
    port = Iec62056Port(_NoSwitch(t), address=SERIAL_3)
    with pytest.raises(LineError, match="different baud rates or byte formats"):
        port.readout()
    assert any("did the client switch baud" in v for v in head(bench).violations)


def test_client_that_switches_too_early_fails_naming_the_cause(bench: Sim) -> None:
    bench.energise()
    port = serial_port(bench, _TooEarly("meter3", url(bench), timeout_s=1.0))
    with pytest.raises(LineError, match="only once the acknowledgement has left the wire"):
        port.readout()
    assert any("switched too early" in v for v in head(bench).violations)
