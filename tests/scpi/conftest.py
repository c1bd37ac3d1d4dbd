"""Fixtures of the SCPI engine tests: a demo device, a sans-IO output, and "serve a device over TCP and give me a
pyvisa resource" (reusable for any :class:`~instruments.scpi.ScpiDevice`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import pyvisa

from instruments.scpi import Any_, Bool, Choice, Int, Num, ScpiDevice, ScpiError, Str, scpi
from instruments.simulators.loop import BackgroundLoop
from instruments.simulators.net import Endpoint
from tests.helpers import Out

T = TypeVar("T")


class DemoDevice(ScpiDevice):
    """A small instrument exercising every engine feature (values are stored, nothing else)."""

    idn = ("MeterHIL", "Demo", "D0001", "1.0")
    error_queue_size = 5

    def __init__(self) -> None:
        super().__init__()
        self.busy = False
        self.calls: list[tuple[Any, ...]] = []
        self.reset()

    def reset(self) -> None:
        super().reset()
        self.volts = {1: 0.0, 2: 0.0, 3: 0.0}
        self.amps = {1: 0.0, 2: 0.0, 3: 0.0}
        self.freq = 50.0
        self.out = False
        self.mode = "NORMAL"
        self.label = ""
        self.count = 7
        self.gain: dict[int, float] = {}
        self.harmonics: dict[int, float] = {}
        self.max_amps = 120.0

    def operations_pending(self) -> bool:
        return self.busy

    def finish(self) -> None:
        """The pending operation ends (what a clock advance does for a real device)."""
        self.busy = False
        self.operations_changed()

    @scpi("[SOURce]:PHASe#{1..3}:VOLTage[:LEVel][:IMMediate][:AMPLitude]", Num("V", 0, 1008, 230))
    def voltage(self, phase: int, volts: float) -> None:
        self.volts[phase] = volts
        self.calls.append(("VOLT", phase, volts))

    @scpi("[SOURce]:PHASe#{1..3}:VOLTage[:LEVel][:IMMediate][:AMPLitude]?")
    def voltage_q(self, phase: int) -> float:
        return self.volts[phase]

    @scpi("[SOURce]:PHASe#{1..3}:CURRent", Num("A", 0, lambda dev: dev.max_amps))
    def current(self, phase: int, amps: float) -> None:
        self.amps[phase] = amps
        self.calls.append(("CURR", phase, amps))

    @scpi("[SOURce]:PHASe#{1..3}:CURRent?")
    def current_q(self, phase: int) -> float:
        return self.amps[phase]

    @scpi("[SOURce]:FREQuency", Num("HZ", 45, 65, 50))
    def frequency(self, hz: float) -> None:
        self.freq = hz

    @scpi("[SOURce]:FREQuency?")
    def frequency_q(self) -> float:
        return self.freq

    @scpi("OUTPut[:STATe]", Bool())
    def output(self, on: bool) -> None:
        self.out = on

    @scpi("OUTPut[:STATe]?")
    def output_q(self) -> bool:
        return self.out

    @scpi("MODE", Choice("NORMal", "CONTinuous"))
    def set_mode(self, mode: str) -> None:
        self.mode = mode

    @scpi("MODE?")
    def mode_q(self) -> str:
        return self.mode

    @scpi("LABel", Str())
    def set_label(self, text: str) -> None:
        self.label = text

    @scpi("LABel?")
    def label_q(self) -> str:
        return '"' + self.label.replace('"', '""') + '"'

    @scpi("COUNt", Int(0, 100, 7))
    def set_count(self, n: int) -> None:
        self.count = n

    @scpi("COUNt?")
    def count_q(self) -> int:
        return self.count

    @scpi("CHANnel#:GAIN", Num(optional=True, default=1.0))
    def set_gain(self, ch: int, gain: float) -> None:
        self.gain[ch] = gain

    @scpi("CHANnel#:GAIN?")
    def gain_q(self, ch: int) -> float:
        return self.gain.get(ch, 1.0)

    @scpi("HARMonic#{2..50}:AMPLitude", Num("PCT", 0, 100))
    def harmonic(self, order: int, pct: float) -> None:
        self.harmonics[order] = pct

    @scpi("MEASure:VOLTage?")
    def measure_q(self) -> tuple[float, float, float]:
        return (self.volts[1], self.volts[2], self.volts[3])

    @scpi("RAW", Any_(), Any_(optional=True))
    def raw(self, first: str, second: str | None) -> None:
        self.calls.append(("RAW", first, second))

    @scpi("BUSY")
    def start_busy(self) -> None:
        self.busy = True

    @scpi("DONE")
    def done(self) -> None:
        self.finish()

    @scpi("BIG?", Int(1, 1 << 24))
    def big_q(self, n: int) -> str:
        self.calls.append(("BIG", n))
        return "X" * n

    @scpi("CRASh")
    def crash(self) -> None:
        raise RuntimeError("handler bug")

    @scpi("CRASh?")
    def crash_q(self) -> object:
        return object()  # not formattable: a handler bug as well

    @scpi("LIMit", Num())
    def limit(self, value: float) -> None:
        if value > 10:
            raise ValueError("beyond the rating")

    @scpi("PUSH", Int())
    def push(self, code: int) -> None:
        raise ScpiError(code)

    @scpi("HEADer", Bool())
    def header(self, on: bool) -> None:
        self.header_in_response = on

    @scpi("VERBose", Bool())
    def verbose(self, on: bool) -> None:
        self.verbose_headers = on


@pytest.fixture
def demo() -> DemoDevice:
    return DemoDevice()


@pytest.fixture
def out() -> Out:
    return Out()


@pytest.fixture
def talk(demo: DemoDevice, out: Out) -> Callable[[str], str]:
    """Send one LF-terminated message to a fresh session of ``demo``; return what it replied."""
    session = demo.new_session()

    def _talk(message: str) -> str:
        session.data_received(message.encode("latin-1") + b"\n", out)
        return out.take()

    return _talk


# -- over TCP -------------------------------------------------------------------------------------
class Served:
    """A device served on loopback: its port, pyvisa sessions to it, and calls on the loop thread."""

    def __init__(self, loop: BackgroundLoop, endpoint: Endpoint, rm: pyvisa.ResourceManager) -> None:
        self.loop = loop
        self.endpoint = endpoint
        self.rm = rm
        self.opened: list[Any] = []

    @property
    def port(self) -> int:
        return self.endpoint.bound_port

    @property
    def resource_name(self) -> str:
        return f"TCPIP0::127.0.0.1::{self.port}::SOCKET"

    def open(self, timeout_ms: int = 5000) -> Any:
        """A pyvisa-py SOCKET session, LF read and write termination."""
        inst = self.rm.open_resource(
            self.resource_name, read_termination="\n", write_termination="\n", timeout=timeout_ms
        )
        self.opened.append(inst)
        return inst

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the loop thread (the only thread that may touch the device)."""
        return self.loop.call(fn)


@pytest.fixture(scope="session")
def visa_rm() -> Iterator[pyvisa.ResourceManager]:
    manager = pyvisa.ResourceManager("@py")
    yield manager
    manager.close()


@pytest.fixture
def serve(visa_rm: pyvisa.ResourceManager) -> Iterator[Callable[[Any], Served]]:
    """``serve(device)`` → :class:`Served`; everything is closed after the test."""
    loop = BackgroundLoop().start()
    served: list[Served] = []

    def _serve(device: Any) -> Served:
        (ep,) = loop.serve([Endpoint(name="dut", role="test", protocol="scpi", device=device)])
        s = Served(loop, ep, visa_rm)
        served.append(s)
        return s

    yield _serve
    for s in served:
        for inst in s.opened:
            with contextlib.suppress(Exception):
                inst.close()
    loop.stop()
