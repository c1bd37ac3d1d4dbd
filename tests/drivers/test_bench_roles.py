"""The drivers as the bench opens them: registry names, link settings and bench-file options, role protocols,
identities, and the safe state on close — against the simulated bench (both chamber dialects)."""

from __future__ import annotations

import pytest

from hil.bench import Bench
from hil.benchfile import BenchFile
from hil.simbench import bench_file_for
from instruments.roles import ClimaticChamber, ErrorCalculator, MeterPort, ReferenceStandard
from tests.drivers.conftest import Sim


def bench_file(sim: Sim) -> BenchFile:
    bf: BenchFile = sim.running.call(bench_file_for, sim.running.bench)
    return bf


@pytest.mark.parametrize("dialect", ["simserv", "espec"])
def test_roles_open_identify_and_reach_the_safe_state(dialect: str, request: pytest.FixtureRequest) -> None:
    sim: Sim = request.getfixturevalue("bench" if dialect == "simserv" else "espec_bench")
    with Bench(bench_file(sim)) as hb:
        hb.connect()
        assert isinstance(hb.reference, ReferenceStandard)
        assert isinstance(hb.error_calculator, ErrorCalculator)
        assert isinstance(hb.chamber, ClimaticChamber)
        expected = {"simserv": "SimChamber VT4002,2026,SIMCH0001", "espec": "T,T,P300,180.0,P300 SIM Ver1.00"}
        assert hb.metadata()["instruments"]["chamber"]["idn"] == expected[dialect]
        sim.energise()
        port = hb.meter(5).port
        assert isinstance(port, MeterPort)
        assert port.read("C.1.0") == "MHS2600000005"  # address and password from the bench file
        hb.chamber.start()
        hb.reference.start_integration()
        hb.error_calculator.start(hb.positions)
        sim.clock.sleep(5.0)
    truth = sim.truth()
    assert truth["source"]["output"] is False
    assert truth["chamber"]["running"] is False
    assert truth["reference"]["integration"]["state"] == "STOP"
    assert {c["state"] for c in truth["calculators"].values()} == {"IDLE"}
