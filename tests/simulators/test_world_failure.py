"""Meter life: Weibull-drawn life in equivalent hours at 23 °C/50 %RH, consumed at the Peck rate
AF = (RH/50)^n · exp[(Ea/k)(1/T_23 − 1/T)] (standards.md §8); failure modes dead / drift / no_pulses."""

from __future__ import annotations

import math
from typing import Any

import pytest

from instruments.simulators.world.config import SimBenchConfig, load_sim_bench
from instruments.simulators.world.reliability import peck_acceleration
from instruments.simulators.world.world import World

K_EV = 8.617333262e-5  # Boltzmann constant, eV/K


def _af(t_c: float, rh: float, ea: float, n: float) -> float:
    return math.pow(rh / 50.0, n) * math.exp(ea / K_EV * (1 / 296.15 - 1 / (t_c + 273.15)))


def test_arrhenius_reference_value() -> None:
    """standards.md §8: 0.7 eV from 25 °C to 85 °C gives AF ≈ 96. The production factor is relative to 23 °C,
    so the AF between two temperatures is the ratio of two of its values (n = 0: Arrhenius alone)."""
    af = peck_acceleration(85.0, 50.0, 0.7, 0.0) / peck_acceleration(25.0, 50.0, 0.7, 0.0)
    assert af == pytest.approx(96, rel=0.02)
    assert af == pytest.approx(math.exp(0.7 / K_EV * (1 / 298.15 - 1 / 358.15)), rel=1e-9)


def test_peck_humidity_term_and_reference_point() -> None:
    """At 23 °C the temperature term is 1: AF = (RH/50)^n alone; at 23 °C / 50 %RH, AF = 1."""
    assert peck_acceleration(23.0, 50.0, 0.79, 2.66) == pytest.approx(1.0, rel=1e-12)
    assert peck_acceleration(23.0, 85.0, 0.79, 2.66) == pytest.approx((85 / 50) ** 2.66, rel=1e-12)


FAILURE = {"weibull_beta": 2.0, "weibull_eta_h": 500.0, "activation_energy_ev": 0.7, "humidity_exponent": 2.66}


@pytest.mark.parametrize(("temp", "rh"), [(70.0, 50.0), (55.0, 85.0), (23.0, 50.0)])
def test_unit_fails_when_its_damage_reaches_its_drawn_life(worlds: Any, temp: float, rh: float) -> None:
    w = worlds.world(failure=dict(FAILURE, mode="dead"), ambient_temperature_c=temp, ambient_humidity_pct=rh)
    m = w.meters[1]
    life = m.life_h
    expected_s = life / _af(temp, rh, 0.7, 2.66) * 3600.0
    w.advance(expected_s * 0.999)
    assert m.alive and m.failed_at is None
    w.advance(expected_s * 0.002)
    assert not m.alive
    assert m.failed_at == pytest.approx(expected_s, rel=1e-9)
    assert m.failure_mode == "dead"


def test_drawn_lives_follow_the_weibull_distribution(worlds: Any) -> None:
    """F(η) = 1 − e^(−1) ≈ 0.632; median = η·(ln 2)^(1/β)."""
    cfg = SimBenchConfig.model_validate(worlds.data(failure=dict(FAILURE)))
    lives = sorted(World(cfg, seed=s).meters[1].life_h for s in range(400))
    below_eta = sum(1 for x in lives if x < 500.0) / len(lives)
    assert below_eta == pytest.approx(1 - math.exp(-1), abs=0.07)
    assert lives[len(lives) // 2] == pytest.approx(500.0 * math.log(2) ** 0.5, rel=0.12)


def test_dead_unit_freezes_registers_and_goes_silent(worlds: Any) -> None:
    w = worlds.world(failure=dict(FAILURE, weibull_eta_h=1.0, weibull_beta=50.0), positions=2)
    worlds.energise(w, 5.0)
    w.advance(2 * 3600.0)  # life ≈ 1 h at 23 °C
    m = w.meters[1]
    assert not m.alive and not m.port_alive and not m.pulsing
    frozen, pulses = dict(m.registers), m.pulses
    # registered energy stops at the failure instant
    assert frozen["1.8.0"] == pytest.approx(3 * 230 * 5 * m.failed_at / 3.6e6, rel=1e-9)
    w.advance(3600.0)
    assert m.registers == frozen and m.pulses == pulses
    assert m.error_pct() == pytest.approx(-100.0)  # current flows, nothing is registered


def test_drift_mode_shifts_the_error(worlds: Any) -> None:
    w = worlds.world(
        failure=dict(FAILURE, weibull_eta_h=1.0, weibull_beta=50.0, mode="drift", drift_pct=1.7),
        behaviour={"error_curve_pct": [[1.0, 0.2]]},
    )
    worlds.energise(w, 5.0)
    assert w.meters[1].error_pct() == pytest.approx(0.2, abs=1e-9)
    w.advance(2 * 3600.0)
    m = w.meters[1]
    assert m.failure_mode == "drift" and m.alive and m.pulsing and m.port_alive
    assert m.error_pct() == pytest.approx(0.2 + 1.7, abs=1e-9)


def test_no_pulses_mode_stops_the_output_only(worlds: Any) -> None:
    w = worlds.world(failure=dict(FAILURE, weibull_eta_h=1.0, weibull_beta=50.0, mode="no_pulses"))
    worlds.energise(w, 5.0)
    w.advance(2 * 3600.0)
    m = w.meters[1]
    assert m.failure_mode == "no_pulses" and not m.pulsing and m.alive
    pulses, kwh = m.pulses, m.registers["1.8.0"]
    w.advance(3600.0)
    assert m.pulses == pulses and m.registers["1.8.0"] == pytest.approx(kwh + 3.45, rel=1e-9)
    m.clear_faults()  # a failure from the meter's own life is not an injected fault
    assert not m.pulsing


def _burn_in(temp: float, hours: float, seed: int = 1) -> World:
    w = World(load_sim_bench(), seed=seed)
    for ph in (1, 2, 3):
        w.source.set_voltage(ph, 230.0)
        w.source.set_current(ph, 5.0)
    w.source.set_output(True)
    if temp != w.ambient_temperature:
        assert w.chamber is not None
        w.chamber.set_setpoint(1, temp)
        w.chamber.start()
    w.advance(hours * 3600.0)
    return w


@pytest.mark.parametrize("temp", [55.0, 70.0])
def test_default_weak_unit_fails_early_in_a_hot_burn_in(temp: float) -> None:
    w = _burn_in(temp, 72.0)
    m = w.meters[12]
    assert m.failure_mode == "dead" and m.failed_at is not None
    assert 20 * 3600 <= m.failed_at <= 60 * 3600
    # the failure instant by hand: damage = L at ≈ L/AF hours (ramp and lag take < 1 h of the burn-in)
    assert m.failed_at / 3600 == pytest.approx(m.life_h / _af(temp, 50.0, 0.40, 2.66), abs=1.0)
    assert all(other.alive for pos, other in w.meters.items() if pos != 12)


def test_default_weak_unit_survives_a_week_at_23c() -> None:
    w = _burn_in(23.0, 168.0)
    assert all(m.alive for m in w.meters.values())


def test_default_good_units_survive_1000_h_at_70c() -> None:
    w = _burn_in(70.0, 1000.0)
    assert [pos for pos, m in w.meters.items() if not m.alive] == [12]
