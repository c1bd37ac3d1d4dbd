"""Fixtures of the driver tests: a simulated bench served in-process, links to its endpoints with the terminations
the driver registry gives each driver, the virtual clock, the source, and the simulator's true state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import pyvisa

from instruments.drivers.clock import SimulationClock
from instruments.drivers.fluke6105a import Fluke6105A
from instruments.drivers.registry import driver_entry
from instruments.drivers.replay import ReplayTransport
from instruments.drivers.transport import VisaTransport
from instruments.roles import PhaseLoad
from instruments.simulators.bench import RunningBench, SimulatedBench
from instruments.simulators.world.config import load_sim_bench

#: phase angles of a balanced three-phase system, phase 1 voltage = 0°
U_ANGLES = {1: 0.0, 2: -120.0, 3: 120.0}


#: the SYST:ERR? query the SCPI drivers append to a command, and the instrument's "no error" answer
ERR = b":SYST:ERR?\n"
OK = b'0,"No error"\n'


def fluke_replay(dialogue: list[tuple[bytes, bytes | None]]) -> tuple[Fluke6105A, ReplayTransport]:
    """A 6105A driver (300 V, 120 A) over a replay of exact bytes."""
    t = ReplayTransport(dialogue, name="source")
    return Fluke6105A(t, max_voltage_v=300.0, max_current_a=120.0), t


class Sim:
    """A running simulated bench and the means to drive it: links, the virtual clock, the truth."""

    def __init__(self, running: RunningBench, rm: pyvisa.ResourceManager) -> None:
        self.running = running
        self.rm = rm
        self._links: list[VisaTransport] = []
        self.clock = SimulationClock(self.link("control", "meterhil-simctl"))
        self.source = Fluke6105A(self.link("source", "fluke6105a"), max_voltage_v=300.0, max_current_a=120.0)

    def link(self, endpoint: str, driver: str, timeout_s: float = 5.0) -> VisaTransport:
        """A transport to ``endpoint`` with the terminations the registry declares for ``driver``."""
        entry = driver_entry(driver)
        t = VisaTransport(
            endpoint, f"TCPIP0::127.0.0.1::{self.running.port(endpoint)}::SOCKET", rm=self.rm, timeout_s=timeout_s,
            read_termination=entry.read_termination, write_termination=entry.write_termination,
        )
        self._links.append(t)
        return t

    def truth(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.clock.truth())
        return data

    def energise(self, loads: dict[int, PhaseLoad] | None = None, settle_s: float = 5.0) -> None:
        """Program the source (default: 230 V, 5 A, PF 1 on every phase), output on, let it settle."""
        if loads is None:
            loads = {p: PhaseLoad(230.0, 5.0, a, a) for p, a in U_ANGLES.items()}
        self.source.apply(loads)
        self.source.output_on()
        self.clock.sleep(settle_s)

    def close(self) -> None:
        for t in self._links:
            t.close()


def _serve(config: Any, rm: pyvisa.ResourceManager) -> Iterator[Sim]:
    with RunningBench(SimulatedBench(config, seed=1)) as running:
        sim = Sim(running, rm)
        try:
            yield sim
        finally:
            sim.close()


@pytest.fixture
def bench(rm: pyvisa.ResourceManager) -> Iterator[Sim]:
    """The default simulated bench (seed 1): 3 phases, 12 positions, SimServ chamber."""
    yield from _serve(load_sim_bench(None), rm)


@pytest.fixture
def espec_bench(rm: pyvisa.ResourceManager) -> Iterator[Sim]:
    """The default simulated bench with its chamber served in the ESPEC dialect."""
    config = load_sim_bench(None)
    assert config.chamber is not None
    yield from _serve(config.model_copy(update={"chamber": config.chamber.model_copy(update={"dialect": "espec"})}),
                      rm)
