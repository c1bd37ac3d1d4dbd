"""Error-calculator driver against the simulated calculator over TCP: results checked against the meters' true
errors and against the pulse-count formula worked by hand."""

from __future__ import annotations

import math

import pytest

from instruments.drivers.errors import InstrumentError
from instruments.drivers.meterhil_ecal import MeterHilErrorCalculator
from tests.drivers.conftest import Sim

C_REF = 5e6  # imp/kWh, reference pulse constant of the default simulated bench
C_MUT = 1000.0  # imp/kWh, every default meter
REF_ACCURACY_PCT = 0.02
BROKEN_PULSES = 11  # position whose pulse output is broken in the default bench


def calculator(bench: Sim) -> MeterHilErrorCalculator:
    return MeterHilErrorCalculator(bench.link("error_calculator", "meterhil-ecal"))


def delivered_power_w(bench: Sim) -> float:
    """Σ U·I·cos φ over the phases, from the true delivered values."""
    phases = bench.truth()["source"]["phases"].values()
    return float(sum(p["voltage"] * p["current"] * math.cos(math.radians(p["voltage_angle"] - p["current_angle"]))
                     for p in phases))


def test_error_of_every_position_against_the_true_meter_error(bench: Sim) -> None:
    bench.energise()
    ec = calculator(bench)
    assert ec.channels == 12  # asked from the calculator
    ec.configure(range(1, 13), C_MUT, 10, ref_constant=C_REF)
    ec.start(range(1, 13))
    assert set(ec.states().values()) == {"WAITING"}
    bench.clock.run_until_idle(120.0, 5.0, lambda: False)
    results = ec.results()
    truth = bench.truth()["meters"]
    assert sorted(results) == list(range(1, 13))
    for pos, r in results.items():
        if pos == BROKEN_PULSES:
            assert (r.state, r.error_pct, r.mut_pulses) == ("WAITING", None, 0)
            continue
        assert r.state == "FINISHED" and r.mut_pulses == 10
        assert r.error_pct is not None
        hand = (10 * C_REF / (r.ref_pulses * C_MUT) - 1) * 100
        assert math.isclose(r.error_pct, hand, abs_tol=1e-7)
        assert abs(r.error_pct - truth[str(pos)]["error_pct"]) <= REF_ACCURACY_PCT + 100 / r.ref_pulses
    # position 9 is +0.25 % at 5 A by construction, well apart from the good units
    assert results[9].error_pct is not None and 0.15 < results[9].error_pct < 0.35


def test_count_mode_on_some_positions(bench: Sim) -> None:
    bench.energise()
    ec = calculator(bench)
    ec.configure([1, 2], C_MUT, 1, ref_constant=C_REF, mode="COUNT")
    ec.start([1, 2])
    p = delivered_power_w(bench)
    bench.clock.sleep(3600.0)
    res = ec.results()
    e_kwh = p * 3600.0 / 3.6e6
    truth = bench.truth()["meters"]
    for pos in (1, 2):
        r = res[pos]
        assert r.state == "RUNNING" and r.error_pct is None
        assert math.isclose(r.ref_pulses, e_kwh * C_REF, rel_tol=REF_ACCURACY_PCT / 100 + 1e-5)
        mut_expected = e_kwh * C_MUT * (1 + truth[str(pos)]["error_pct"] / 100)
        assert abs(r.mut_pulses - mut_expected) <= 1.5
    assert res[3].state == "IDLE" and res[3].ref_pulses == 0  # not started
    ec.abort([1])
    states = ec.states()
    assert (states[1], states[2]) == ("IDLE", "RUNNING")
    assert ec.results()[1].mut_pulses == res[1].mut_pulses  # counts stay readable after ABORt


def test_setup_change_while_measuring_is_refused_by_the_instrument(bench: Sim) -> None:
    bench.energise()
    ec = calculator(bench)
    ec.start([4])
    with pytest.raises(InstrumentError) as ei:
        ec.configure([4, 5], 500.0, 20)
    assert ei.value.code == -221 and "CHAN4:CONF" in ei.value.command
    assert bench.truth()["calculators"]["4"]["mut_constant"] == C_MUT
    assert ec.errors() == []  # the driver drained the queue


def test_safe_state_aborts_every_channel(bench: Sim) -> None:
    bench.energise()
    ec = calculator(bench)
    ec.start(range(1, 13))
    bench.clock.sleep(3.0)
    assert {c["state"] for c in bench.truth()["calculators"].values()} <= {"WAITING", "RUNNING"}
    ec.safe_state()
    assert {c["state"] for c in bench.truth()["calculators"].values()} == {"IDLE"}
