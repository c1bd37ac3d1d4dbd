"""pytest plugin of MeterHIL (entry point ``meterhil``).

Provides ``simulated_bench``: the default (or ``--sim-bench``) simulated bench served on loopback for the test
session, as a :class:`instruments.simulators.bench.RunningBench`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("meterhil")
    group.addoption("--sim-bench", default=None, help="simulated-bench YAML for the simulated_bench fixture")
    group.addoption("--sim-seed", type=int, default=None, help="seed of the simulated bench")


@pytest.fixture(scope="session")
def simulated_bench(request: pytest.FixtureRequest) -> Iterator[object]:
    from instruments.simulators.bench import RunningBench, SimulatedBench

    bench = SimulatedBench.from_file(
        request.config.getoption("--sim-bench"), seed=request.config.getoption("--sim-seed")
    )
    with RunningBench(bench) as running:
        yield running
