"""SimServ chamber driver against the simulated chamber over TCP (CR requests, CR LF replies, Latin-1 ¶)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from instruments.drivers.errors import RangeError
from instruments.drivers.simserv import SimServChamber, SimServError
from tests.drivers.conftest import Sim

TAU_S = 120.0  # temperature time constant of the default simulated chamber
AMBIENT_C = 23.0


def chamber(bench: Sim, **options: Any) -> SimServChamber:
    return SimServChamber(bench.link("chamber", "simserv"), **options)


def test_identity_and_ranges(bench: Sim) -> None:
    ch = chamber(bench)
    assert ch.identify() == "SimChamber VT4002,2026,SIMCH0001"  # model, year, serial of the bench file
    assert ch.limits(1) == (-40.0, 180.0)
    assert ch.limits(2) == (10.0, 98.0)


def test_ramp_at_the_gradient_then_first_order_lag(bench: Sim) -> None:
    """Program value w = 23 + g·t; air τ·dy/dt = w − y ⇒ y = w − g·τ + g·τ·e^(−t/τ) while ramping."""
    ch = chamber(bench)
    assert ch.temperature() == AMBIENT_C and not ch.is_running()
    ch.set_gradient(2.0, 2.0)
    ch.set_temperature(40.0)
    ch.start()
    g = 2.0 / 60.0  # K/s
    bench.clock.sleep(300.0)
    hand = AMBIENT_C + g * 300.0 - g * TAU_S + g * TAU_S * math.exp(-300.0 / TAU_S)
    assert ch.temperature() == pytest.approx(hand, abs=0.006)  # replies carry two decimals
    bench.clock.sleep(900.0)  # the ramp ended at 510 s; then a plain exponential towards 40 °C
    y_end = 40.0 - g * TAU_S + g * TAU_S * math.exp(-510.0 / TAU_S)
    hand = 40.0 - (40.0 - y_end) * math.exp(-(1200.0 - 510.0) / TAU_S)
    assert ch.temperature() == pytest.approx(hand, abs=0.006)
    assert ch.is_running()
    truth = bench.truth()["chamber"]
    assert (truth["temperature_setpoint_c"], truth["gradient_up_k_per_min"]) == (40.0, 2.0)


def test_humidity(bench: Sim) -> None:
    ch = chamber(bench)
    ch.set_humidity(60.0)
    assert bench.truth()["chamber"]["humidity_setpoint_pct"] == 60.0
    assert ch.humidity() == pytest.approx(50.0, abs=0.006)  # stopped: ambient 50 %RH


def test_humidity_off_leaves_the_setpoint_uncontrolled(bench: Sim) -> None:
    """Dry heat after damp heat: humidity control off, the humidity drifts from 80 %RH towards the ambient 50 %RH
    with the drift time constant (1800 s): 50 + 30·e^(−1) after 1800 s; set_humidity switches it on again. The
    simulated controller's humidity output is 2 (the option a lab would write)."""
    ch = chamber(bench, humidity_output=2)
    ch.set_gradient(0.0, 0.0)
    ch.set_humidity(80.0)
    ch.start()
    bench.clock.sleep(4 * 3600.0)
    assert ch.humidity() == pytest.approx(80.0, abs=0.006)
    ch.humidity_off()
    assert not ch.humidity_control and not bench.truth()["chamber"]["humidity_controlled"]
    bench.clock.sleep(1800.0)
    assert ch.humidity() == pytest.approx(50.0 + 30.0 * math.exp(-1.0), abs=0.006)
    ch.set_humidity(80.0)
    assert ch.humidity_control


def test_out_of_range_refused_before_sending(bench: Sim) -> None:
    ch = chamber(bench)
    ch.limits(1)
    before = len(ch.transport.transcript.entries)
    with pytest.raises(RangeError):
        ch.set_temperature(180.5)
    assert len(ch.transport.transcript.entries) == before
    assert bench.truth()["chamber"]["temperature_setpoint_c"] == AMBIENT_C


def test_refusal_by_the_chamber_names_code_and_changes_nothing(bench: Sim) -> None:
    ch = chamber(bench)  # no max_gradient option: the chamber (5 K/min) is the judge
    with pytest.raises(SimServError) as ei:
        ch.set_gradient(6.0, 1.0)
    assert ei.value.code == -6 and "incorrect parameters" in str(ei.value)
    assert bench.truth()["chamber"]["gradient_up_k_per_min"] == 1.0


def test_alarm_stops_the_chamber_and_is_reported(bench: Sim) -> None:
    ch = chamber(bench)
    ch.start()
    bench.clock.inject_fault("chamber", "ALARM", 7)
    assert ch.alarms() == ["Alarm 7"]
    assert not ch.is_running()
    assert ch.status & 8
    ch.clear_status()
    assert ch.alarms() == []


def test_safe_state_stops_and_leaves_a_safe_setpoint(bench: Sim) -> None:
    ch = chamber(bench, safe_temperature_c=25.0)
    ch.set_temperature(70.0)
    ch.start()
    bench.clock.sleep(60.0)
    ch.safe_state()
    truth = bench.truth()["chamber"]
    assert (truth["running"], truth["temperature_setpoint_c"]) == (False, 25.0)


def test_safe_state_after_a_dropped_link(bench: Sim) -> None:
    ch = chamber(bench)
    ch.start()
    bench.clock.inject_fault("chamber", "DROP")
    ch.safe_state()
    assert bench.truth()["chamber"]["running"] is False
