"""The source: ratings, angles and powers, settling, setting error, reset."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest


def test_setpoints_beyond_the_rating_raise(worlds: Any) -> None:
    w = worlds.world(source={"max_voltage_v": 300, "max_current_a": 100, "max_harmonic_order": 40})
    src = w.source
    with pytest.raises(ValueError):
        src.set_voltage(1, 300.1)
    with pytest.raises(ValueError):
        src.set_current(2, 100.5)
    with pytest.raises(ValueError):
        src.set_current(2, -1)
    with pytest.raises(ValueError):
        src.set_frequency(70.0)
    with pytest.raises(ValueError):
        src.set_voltage(4, 230)
    with pytest.raises(ValueError):
        src.set_harmonic(1, "U", 41, 5, 0)
    with pytest.raises(ValueError):
        src.set_voltage(1, float("nan"))
    src.set_voltage(1, 290.0)
    # 290 V with 30 % of 5th harmonic is 290·√1.09 = 302.8 V RMS: beyond the rating
    with pytest.raises(ValueError):
        src.set_harmonic(1, "U", 5, 30.0, 0.0)
    src.set_voltage(1, 300.0)
    src.set_current(1, 100.0)
    assert src.setpoint(1).voltage == 300.0 and src.setpoint(1).current == 100.0


def test_output_off_delivers_nothing_and_defaults_are_symmetrical(worlds: Any) -> None:
    w = worlds.world()
    src = w.source
    assert src.output is False
    assert [src.setpoint(p).voltage_angle for p in (1, 2, 3)] == [0.0, -120.0, 120.0]
    assert [src.setpoint(p).current_angle for p in (1, 2, 3)] == [0.0, -120.0, 120.0]
    src.set_current(1, 5.0)
    d = src.delivered(1)
    assert d.voltage == 0.0 and d.current == 0.0


def test_pf_half_lagging_powers_by_hand(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0, lag_deg=60.0)
    d = w.source.delivered(2)
    assert d.phi == pytest.approx(60.0)
    assert d.active_power == pytest.approx(230 * 5 * 0.5)
    assert d.reactive_power == pytest.approx(230 * 5 * math.sin(math.radians(60)))
    assert d.apparent_power == pytest.approx(1150.0)
    assert d.power_factor == pytest.approx(0.5)
    # leading current: 0.8C
    w.source.set_current_angle(1, math.degrees(math.acos(0.8)))
    d = w.source.delivered(1)
    assert d.power_factor == pytest.approx(0.8)
    assert d.reactive_power < 0


def test_harmonic_power_by_hand(worlds: Any) -> None:
    """IEC 62053-21 harmonics waveform: 5th harmonic 10 % in U, 40 % in I, in phase → P5 = 0.04·P1."""
    w = worlds.world()
    worlds.energise(w, 30.0)
    w.source.set_harmonic(1, "U", 5, 10.0, 0.0)
    w.source.set_harmonic(1, "I", 5, 40.0, 0.0)
    d = w.source.delivered(1)
    p1 = 230 * 30
    assert d.active_power == pytest.approx(p1 * 1.04)
    assert d.voltage_rms == pytest.approx(230 * math.sqrt(1.01))
    assert d.current_rms == pytest.approx(30 * math.sqrt(1.16))
    w.source.clear_harmonics(1, "I")
    assert w.source.delivered(1).active_power == pytest.approx(p1)


def test_settling_is_a_first_order_approach_finished_within_the_settling_time(worlds: Any) -> None:
    w = worlds.world(source={"settling_time_s": 2.0})
    src = w.source
    worlds.energise(w, 10.0)
    assert not src.settled and src.settle_until == pytest.approx(2.0)
    values = []
    for _ in range(4):
        w.advance(0.25)
        values.append(src.delivered(1).current)
    assert all(0 < a < b < 10.0 for a, b in itertools.pairwise(values))
    # first order: the remaining step shrinks by the same factor every quarter second
    r = [10.0 - v for v in values]
    assert r[1] / r[0] == pytest.approx(r[2] / r[1], rel=1e-9) == pytest.approx(r[3] / r[2], rel=1e-9)
    w.advance(1.0)
    assert src.settled
    assert src.delivered(1).current == 10.0
    # a new setpoint starts a new transient from where the output is
    src.set_current(1, 20.0)
    assert not src.settled
    assert src.delivered(1).current == pytest.approx(10.0)


def test_energy_during_settling_is_the_integral_of_the_transient(worlds: Any) -> None:
    """U and I both rise as 1 − e^(−t/τ), τ = T/ln(10⁴), so P ∝ (1 − e^(−t/τ))² and over the settling time T
    ∫ = T − 2τ(1 − k) + τ/2·(1 − k²), k = 10⁻⁴ (seen through the reference, which needs no supply)."""
    w = worlds.world(source={"settling_time_s": 2.0})
    worlds.energise(w, 10.0)
    w.advance(2.0)
    tau = 2.0 / math.log(1e4)
    k = 1e-4
    integral = 2.0 - 2 * tau * (1 - k) + tau / 2 * (1 - k * k)
    expected_kwh = 3 * 230 * 10 * integral / 3.6e6
    measured_kwh = w.reference.pulse_acc / 5.0e6
    # segments of one τ use the mean amplitudes: the mean of the square is approximated within ~1 %
    assert measured_kwh == pytest.approx(expected_kwh, rel=0.01)
    assert measured_kwh < 3 * 230 * 10 * 2.0 / 3.6e6 * 0.9  # clearly less than a step would give


def test_own_setting_error_is_small_and_fixed_per_seed(worlds: Any) -> None:
    data = worlds.data(source={"setting_error_pct": 0.05, "setting_error_deg": 0.01})
    a, b = worlds.world(data, seed=1), worlds.world(data, seed=2)
    for w in (a, b):
        worlds.energise(w, 5.0)
    for ph in (1, 2, 3):
        d = a.source.delivered(ph)
        assert d.voltage == pytest.approx(230.0, rel=5e-4) and d.voltage != 230.0
        assert d.current == pytest.approx(5.0, rel=5e-4)
        assert abs(d.phi) <= 0.01
    assert a.source.delivered(1).voltage != b.source.delivered(1).voltage
    assert a.source.setpoint(1).voltage == 230.0  # the programmed value is what was asked for


def test_reset_turns_the_output_off_and_restores_defaults(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0, lag_deg=60)
    w.source.set_harmonic(1, "I", 3, 10, 0)
    w.source.set_frequency(60.0)
    w.source.reset()
    assert w.source.output is False
    sp = w.source.setpoint(1)
    assert sp.current == 0.0 and sp.current_angle == 0.0 and sp.current_harmonics == ()
    assert w.source.frequency == 50.0
