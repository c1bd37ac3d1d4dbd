"""Shared fixtures: a simulated bench served on loopback, and pyvisa-py sessions to it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
import pyvisa

from instruments.simulators.bench import RunningBench, SimulatedBench
from tests.helpers import Opener


@pytest.fixture(scope="session")
def rm() -> Iterator[pyvisa.ResourceManager]:
    # one pyvisa-py resource manager for the whole session: closing it would close every test's sessions
    yield pyvisa.ResourceManager("@py")


@pytest.fixture
def sim() -> Iterator[RunningBench]:
    """A fresh default simulated bench (seed 1) for one test."""
    with RunningBench(SimulatedBench.from_file(None, seed=1)) as running:
        yield running


@pytest.fixture
def visa(rm: pyvisa.ResourceManager, sim: RunningBench) -> Iterator[Opener]:
    """Open a pyvisa-py SOCKET session to a named endpoint of ``sim``; all are closed after the test."""
    opened: list[Any] = []

    def _open(name: str) -> Any:
        inst = rm.open_resource(
            sim.resource(name), read_termination="\n", write_termination="\n", timeout=5000
        )
        opened.append(inst)
        return inst

    yield _open
    for inst in opened:
        with contextlib.suppress(Exception):
            inst.close()
