"""Climatic chamber: program value at the gradient, air value by the closed form of a first-order lag.

Closed form along a ramp w(t) = w0 + g·t: y(t) = w(t) − g·τ + (y0 − w0 + g·τ)·e^(−t/τ)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from instruments.simulators.world.chamber import TEMPERATURE_STEP_K

CHAMBER = {
    "temperature_time_constant_s": 120.0,
    "humidity_time_constant_s": 180.0,
    "drift_time_constant_s": 1800.0,
    "gradient_up_k_per_min": 1.0,
    "gradient_down_k_per_min": 1.0,
    "humidity_gradient_pct_per_min": 2.0,
}


def _world(worlds: Any, **chamber: Any) -> Any:
    return worlds.world(chamber=dict(CHAMBER, **chamber), behaviour={"temperature_coefficient_pct_per_k": 0.05})


def test_ramp_then_lag_by_hand(worlds: Any) -> None:
    w = _world(worlds)
    ch = w.chamber
    assert ch.temperature == 23.0 and not ch.running
    ch.set_setpoint(1, 33.0)
    ch.start()
    g, tau = 1.0 / 60.0, 120.0
    w.advance(300.0)
    assert ch.temperature_program == pytest.approx(28.0, abs=1e-9)
    assert ch.temperature == pytest.approx(28.0 - g * tau + g * tau * math.exp(-300 / tau), abs=1e-9)
    segments_after_300s = w.segments
    w.advance(300.0)  # the ramp ends at 600 s
    y_end = 33.0 - g * tau + g * tau * math.exp(-600 / tau)
    assert ch.temperature == pytest.approx(y_end, abs=1e-9)
    assert ch.temperature_program == 33.0
    w.advance(300.0)
    y = 33.0 + (y_end - 33.0) * math.exp(-300 / tau)
    assert ch.temperature == pytest.approx(y, abs=1e-9)
    # meters feel the chamber's air: error = 0.05 %/K · (T − 23 °C)
    assert w.meters[1].temperature == ch.temperature
    worlds.energise(w, 5.0)
    assert w.meters[1].error_pct() == pytest.approx(0.05 * (y - 23.0), abs=1e-9)
    # segments keep the air change per segment small: at most 0.25 K each, but not many more
    assert 5.0 / TEMPERATURE_STEP_K <= segments_after_300s <= 3 * 5.0 / TEMPERATURE_STEP_K


def test_gradient_down_and_no_gradient(worlds: Any) -> None:
    w = _world(worlds, gradient_down_k_per_min=2.0)
    ch = w.chamber
    ch.set_setpoint(1, 13.0)
    ch.start()
    w.advance(60.0)
    g, tau = -2.0 / 60.0, 120.0
    assert ch.temperature_program == pytest.approx(21.0, abs=1e-9)
    assert ch.temperature == pytest.approx(21.0 - g * tau + g * tau * math.exp(-60 / tau), abs=1e-9)
    # gradient 0: the program value steps, the air follows as a plain exponential
    w2 = _world(worlds)
    ch2 = w2.chamber
    ch2.set_gradient(True, 0.0)
    ch2.set_setpoint(1, 40.0)
    ch2.start()
    w2.advance(240.0)
    assert ch2.temperature == pytest.approx(40.0 - 17.0 * math.exp(-2.0), abs=1e-9)


def test_humidity_ramps_and_lags(worlds: Any) -> None:
    w = _world(worlds)
    ch = w.chamber
    assert ch.humidity == 50.0
    ch.set_setpoint(2, 80.0)
    ch.start()
    w.advance(600.0)
    g, tau = 2.0 / 60.0, 180.0
    assert ch.humidity_setpoint == 80.0
    assert ch.humidity == pytest.approx(70.0 - g * tau + g * tau * math.exp(-600 / tau), abs=1e-9)


def test_stopped_chamber_drifts_to_ambient(worlds: Any) -> None:
    w = _world(worlds, gradient_up_k_per_min=0.0)
    ch = w.chamber
    ch.set_setpoint(1, 60.0)
    ch.start()
    w.advance(3600.0)
    y0 = ch.temperature
    assert y0 == pytest.approx(60.0, abs=1e-6)
    ch.stop()
    w.advance(900.0)
    assert ch.temperature == pytest.approx(23.0 + (y0 - 23.0) * math.exp(-900 / 1800), abs=1e-9)
    # a restart ramps from where the air is, at the gradient
    ch.set_gradient(True, 1.0)
    ch.start()
    assert ch.temperature_program == ch.temperature


def test_ranges_are_enforced(worlds: Any) -> None:
    w = _world(worlds, temperature_range_c=[-20.0, 100.0], max_gradient_up_k_per_min=3.0)
    ch = w.chamber
    with pytest.raises(ValueError):
        ch.set_setpoint(1, 120.0)
    with pytest.raises(ValueError):
        ch.set_setpoint(2, 99.5)
    with pytest.raises(ValueError):
        ch.set_setpoint(3, 1.0)
    with pytest.raises(ValueError):
        ch.set_gradient(True, 3.5)
    with pytest.raises(ValueError):
        ch.set_gradient(False, -1.0)
    ch.set_setpoint(1, 100.0)
    assert ch.temperature_setpoint == 100.0


def test_chamber_without_humidity_control(worlds: Any) -> None:
    w = _world(worlds, humidity_range_pct=None)
    ch = w.chamber
    assert ch.humidity is None and ch.humidity_setpoint is None and ch.humidity_range is None
    with pytest.raises(ValueError):
        ch.set_setpoint(2, 60.0)
    assert w.environment() == (23.0, 50.0)  # meters feel the ambient humidity


def test_alarm_stops_the_chamber(worlds: Any) -> None:
    w = _world(worlds)
    ch = w.chamber
    ch.set_setpoint(1, 50.0)
    ch.start()
    w.advance(600)
    ch.raise_alarm(17)
    assert ch.alarms == [17] and not ch.running
    hot = ch.temperature
    w.advance(600)
    assert ch.temperature < hot  # drifting back to ambient
    ch.clear_alarms()
    assert ch.alarms == []


def test_program_step_ends_inside_one_advance(worlds: Any) -> None:
    """A controller's timed step (ESPEC RUN PRGM) ends at its end time even within one long advance: from then
    on the saved gradient (1 K/min) drives the program value again."""
    w = _world(worlds)
    ch = w.chamber
    ch.begin_step(600.0)
    ch.set_gradient(True, 2.0)  # the step's own rate
    ch.set_setpoint(1, 63.0)
    ch.start()
    w.advance(1200.0)
    assert ch.step_end is None and ch.truth()["step_end"] is None
    assert (ch.gradient_up, ch.gradient_down) == (1.0, 1.0)
    # 2 K/min for 10 min, then 1 K/min for 10 min: 23 + 20 + 10
    assert ch.temperature_program == pytest.approx(53.0, abs=1e-9)


def test_program_step_ends_early_on_stop_and_refuses_a_bad_duration(worlds: Any) -> None:
    w = _world(worlds)
    ch = w.chamber
    ch.begin_step(600.0)
    ch.set_gradient(True, 3.0)
    assert ch.step_end == 600.0
    ch.raise_alarm(5)  # an alarm stops the chamber, and the step with it
    assert ch.step_end is None and ch.gradient_up == 1.0
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError):
            ch.begin_step(bad)


def test_humidity_control_off_drifts_to_ambient_by_hand(worlds: Any) -> None:
    """Humidity control off (dry heat after damp heat): the humidity leaves its setpoint and drifts back to the
    ambient value with the drift time constant, y(t) = amb + (y0 − amb)·e^(−t/τ_drift), while the temperature
    stays controlled; switched on again, it is brought back to the setpoint."""
    w = _world(worlds, humidity_gradient_pct_per_min=0.0)  # 0: the humidity setpoint steps
    ch = w.chamber
    ch.set_setpoint(2, 93.0)
    ch.set_setpoint(1, 40.0)
    ch.start()
    w.advance(3 * 3600.0)
    assert ch.humidity == pytest.approx(93.0, abs=1e-6) and ch.humidity_controlled
    ch.set_humidity_control(False)
    w.advance(1800.0)
    amb, tau = 50.0, 1800.0
    assert ch.humidity == pytest.approx(amb + (93.0 - amb) * math.exp(-1800.0 / tau), abs=1e-6)
    assert ch.humidity_setpoint == 93.0 and ch.temperature == pytest.approx(40.0, abs=1e-6)
    assert not ch.truth()["humidity_controlled"]
    ch.set_humidity_control(True)
    w.advance(3600.0)
    assert ch.humidity == pytest.approx(93.0, abs=1e-3)
