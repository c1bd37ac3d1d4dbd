"""ESPEC chamber driver against the simulated ESPEC controller over TCP (CR LF lines, OK:/NA: replies)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from instruments.drivers.espec import EspecChamber, EspecError
from tests.drivers.conftest import Sim

TAU_S = 120.0  # temperature time constant of the default simulated chamber
AMBIENT_C = 23.0


def chamber(bench: Sim, **options: Any) -> EspecChamber:
    return EspecChamber(bench.link("chamber", "espec"), **options)


def test_identity(espec_bench: Sim) -> None:
    assert chamber(espec_bench).identify() == "T,T,P300,180.0,P300 SIM Ver1.00"


def test_gradient_becomes_a_remote_program_never_steeper_than_asked(espec_bench: Sim) -> None:
    """17 K at 2 K/min is 8.5 min: the program takes 9 whole minutes, so the chamber ramps at 17/9 K/min."""
    ch = chamber(espec_bench)
    ch.set_gradient(2.0, 2.0)
    ch.set_temperature(40.0)  # stopped: the setpoint only
    assert not ch.is_running()
    ch.start()
    assert ch.mode == "RUN" and ch.is_running()
    truth = espec_bench.truth()["chamber"]
    assert truth["gradient_up_k_per_min"] == pytest.approx(17.0 / 9.0)
    assert truth["temperature_setpoint_c"] == 40.0
    espec_bench.clock.sleep(240.0)
    g = 17.0 / 9.0 / 60.0  # K/s
    hand = AMBIENT_C + g * 240.0 - g * TAU_S + g * TAU_S * math.exp(-240.0 / TAU_S)
    assert ch.temperature() == pytest.approx(hand, abs=0.051)  # one decimal
    espec_bench.clock.sleep(600.0)  # program over: the end value is held in CONSTANT
    assert ch.mode == "CONSTANT"
    assert espec_bench.truth()["chamber"]["gradient_up_k_per_min"] == 1.0  # the chamber's own again


def test_humidity(espec_bench: Sim) -> None:
    ch = chamber(espec_bench)
    assert ch.humidity() == 50.0  # ambient, whole percent
    ch.set_humidity(65.0)
    assert espec_bench.truth()["chamber"]["humidity_setpoint_pct"] == 65.0


def test_humidity_off_survives_a_ramp(espec_bench: Sim) -> None:
    """``HUMI, SOFF``, then a ramp (remote program without HUMI): humidity stays uncontrolled and drifts from
    80 %RH towards the ambient 50 %RH (drift time constant 1800 s); set_humidity switches it on again."""
    ch = chamber(espec_bench)
    ch.set_humidity(80.0)
    ch.start()
    espec_bench.clock.sleep(4 * 3600.0)
    assert ch.humidity() == 80.0
    ch.humidity_off()
    ch.set_gradient(1.0, 1.0)
    ch.set_temperature(40.0)  # a ramp program: TEMP … GOTEMP40.0, no HUMI
    assert ch.mode == "RUN"
    espec_bench.clock.sleep(1800.0)
    truth = espec_bench.truth()["chamber"]
    assert not truth["humidity_controlled"] and truth["humidity_setpoint_pct"] == 80.0
    assert ch.humidity() == round(50.0 + 30.0 * math.exp(-1.0))  # whole percent
    ch.set_humidity(60.0)
    assert espec_bench.truth()["chamber"]["humidity_controlled"]


def test_refusal_changes_nothing(espec_bench: Sim) -> None:
    ch = chamber(espec_bench)  # the driver's default range (0..100 %RH) is wider than this chamber's 10..98
    with pytest.raises(EspecError) as ei:
        ch.set_humidity(99.0)
    assert ei.value.reason == "DATA OUT OF RANGE"
    assert espec_bench.truth()["chamber"]["humidity_setpoint_pct"] == 50.0


def test_alarm_stops_the_chamber_and_is_reported(espec_bench: Sim) -> None:
    ch = chamber(espec_bench)
    ch.start()
    espec_bench.clock.inject_fault("chamber", "ALARM", 12)
    assert ch.alarms() == ["alarm 12"]
    assert not ch.is_running()


def test_safe_state_standby_and_safe_setpoint(espec_bench: Sim) -> None:
    ch = chamber(espec_bench, safe_temperature_c=25.0)
    ch.set_gradient(1.0, 1.0)
    ch.set_temperature(60.0)
    ch.start()
    espec_bench.clock.sleep(60.0)
    ch.safe_state()
    truth = espec_bench.truth()["chamber"]
    assert (truth["running"], truth["temperature_setpoint_c"]) == (False, 25.0)
    assert ch.mode == "STANDBY"
