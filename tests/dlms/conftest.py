"""Shared fixtures of the DLMS tests: the simulated meters reached over TCP exactly as on a network."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from instruments.drivers.dlms import DlmsPort
from instruments.drivers.transport import VisaTransport
from instruments.simulators.bench import RunningBench
from tests.helpers import Opener

EK = "000102030405060708090A0B0C0D0E0F"
AK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"

Port = Callable[..., DlmsPort]


def advance(control: Any, seconds: float) -> None:
    """Run the bench clock, and wait until it has run (other connections act only after that)."""
    control.write(f"CLOC:ADV {seconds}")
    control.query("*OPC?")


@pytest.fixture
def energised(visa: Opener) -> Any:
    """Source at Un and 5 A on all phases, the clock run one hour: every meter powered and registering. Gives
    the control endpoint's session."""
    source, control = visa("source"), visa("control")
    for ph in (1, 2, 3):
        source.write(f"SOUR:PHAS{ph}:VOLT 230;CURR 5")
    source.write("OUTP ON")
    assert source.query("OUTP?") == "1"  # done before the clock moves (another connection)
    advance(control, 3600)
    return control


@pytest.fixture
def port(sim: RunningBench) -> Iterator[Port]:
    """Open MeterHIL's DLMS client on a meter's wrapper port: ``port(position, **DlmsPort options)``; all are
    released and closed after the test."""
    opened: list[DlmsPort] = []

    def _open(position: int = 1, timeout_s: float = 2.0, **options: Any) -> DlmsPort:
        resource = f"TCPIP0::127.0.0.1::{sim.port(f'meter{position}-dlms')}::SOCKET"
        transport = VisaTransport(f"meter{position}-dlms", resource, timeout_s=timeout_s, read_termination=None,
                                  write_termination="")
        p = DlmsPort(transport, **options)
        opened.append(p)
        return p

    yield _open
    for p in opened:
        p.close()
        p.transport.close()


def public(port: Port, position: int = 1, **kw: Any) -> DlmsPort:
    return port(position, client=16, authentication="none", **kw)


def management(port: Port, position: int = 1, **kw: Any) -> DlmsPort:
    kw.setdefault("encryption_key", EK)
    kw.setdefault("authentication_key", AK)
    return port(position, client=1, authentication="hls-gmac", **kw)


def truth_at(world: Any, amps: float) -> dict[str, Any]:
    """The simulator's truth with the source at Un and ``amps`` on all phases, PF 1 (the meters' true errors at a
    test's load, after a run that left the source off), then the source off again; call on the bench's loop."""
    src = world.source
    for ph, angle in ((1, 0.0), (2, -120.0), (3, 120.0)):
        src.set_voltage(ph, 230.0)
        src.set_voltage_angle(ph, angle)
        src.set_current(ph, amps)
        src.set_current_angle(ph, angle)
    src.set_output(True)
    world.advance(10.0)
    truth: dict[str, Any] = world.truth()
    src.set_output(False)
    return truth


class StepRun:
    """The least of a :class:`hil.core.run.RunContext` a step needs when a test runs it by hand: the bench, the
    plan's measuring options, one service per factory."""

    def __init__(self, bench: Any, options: Any = None) -> None:
        from hil.core.plan import MeasureOptions

        self.bench, self.measure_options = bench, options if options is not None else MeasureOptions()
        self._services: dict[Any, Any] = {}

    def service(self, factory: Any) -> Any:
        if factory not in self._services:
            self._services[factory] = factory(self)
        return self._services[factory]
