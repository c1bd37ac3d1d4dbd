"""Reference standard: readings within its class, integration state machine, HF pulse output."""

from __future__ import annotations

import math
from typing import Any

import pytest

from instruments.simulators.world.reference import IntegrationError


def _within_class(w: Any, measured: float, true: float, factor: float = 1.0) -> None:
    """Readings may deviate by the class (plus the configured noise, zero in these tests)."""
    assert measured == pytest.approx(true, rel=factor * w.reference.accuracy_pct / 100)


def test_readings_per_element_and_sigma_at_pf_half(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0, lag_deg=60.0)
    ref = w.reference
    for e in (1, 2, 3):
        _within_class(w, ref.measure("U", e), 230.0)
        _within_class(w, ref.measure("I", e), 5.0)
        _within_class(w, ref.measure("P", e), 575.0)
        _within_class(w, ref.measure("S", e), 1150.0)
        _within_class(w, ref.measure("Q", e), 1150.0 * math.sin(math.radians(60)))
        _within_class(w, ref.measure("LAMBDA", e), 0.5)
        assert ref.measure("PHI", e) == pytest.approx(60.0, abs=0.05)
    _within_class(w, ref.measure("P", "SIGMA"), 1725.0)
    _within_class(w, ref.measure("U", "sigma"), 230.0)
    _within_class(w, ref.measure("LAMBDA", "SIGMA"), 0.5)
    assert ref.measure("PHI", "SIGMA") == pytest.approx(60.0, abs=0.05)
    assert ref.measure("FU", 1) == pytest.approx(50.0, rel=1e-5)
    assert math.isnan(worlds.world().reference.measure("LAMBDA", 1))  # no current: no power factor


def test_unknown_function_or_element_raises(worlds: Any) -> None:
    ref = worlds.world().reference
    with pytest.raises(ValueError):
        ref.measure("XYZ", 1)
    with pytest.raises(ValueError):
        ref.measure("P", 4)
    with pytest.raises(ValueError):
        ref.measure("P", "ALL")


def test_noise_is_small_and_seeded(worlds: Any) -> None:
    data = worlds.data()
    data["reference"]["noise_pct"] = 0.01
    a, b = worlds.world(data, seed=3), worlds.world(data, seed=3)
    for w in (a, b):
        worlds.energise(w, 5.0)
    ra = [a.reference.measure("P", "SIGMA") for _ in range(50)]
    rb = [b.reference.measure("P", "SIGMA") for _ in range(50)]
    assert ra == rb
    assert len(set(ra)) == 50
    assert all(abs(x / 3450.0 - 1) < 0.02 / 100 + 5 * 0.01 / 100 for x in ra)


def test_integration_energy_and_states(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0)
    integ = w.reference.integration
    assert integ.state == "RESET"
    integ.start()
    assert integ.state == "START"
    w.advance(100.0)
    integ.stop()
    assert integ.state == "STOP"
    w.advance(50.0)  # stopped: nothing accumulates
    _within_class(w, w.reference.measure("WH", "SIGMA"), 3450.0 * 100 / 3600)
    _within_class(w, w.reference.measure("WHP", 1), 1150.0 * 100 / 3600)
    _within_class(w, w.reference.measure("AH", 2), 5.0 * 100 / 3600)
    assert w.reference.measure("WHM", "SIGMA") == 0.0
    assert w.reference.measure("TIME", "SIGMA") == pytest.approx(100.0)
    integ.start()  # continues from STOP
    w.advance(20.0)
    assert w.reference.measure("TIME", 1) == pytest.approx(120.0)


def test_integration_timer_ends_in_timeup_and_needs_a_reset(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0, lag_deg=180.0)  # export: WH− accumulates (negative, as the WT shows it)
    integ = w.reference.integration
    integ.timer_s = 60.0
    assert integ.state == "READY"
    integ.start()
    w.advance(100.0)
    assert integ.state == "TIMEUP"
    assert w.reference.measure("TIME", "SIGMA") == 60.0
    _within_class(w, w.reference.measure("WHM", "SIGMA"), -3450.0 * 60 / 3600)
    _within_class(w, w.reference.measure("WH", "SIGMA"), -3450.0 * 60 / 3600)
    with pytest.raises(IntegrationError):
        integ.start()
    integ.reset()
    assert integ.state == "READY" and w.reference.measure("WH", "SIGMA") == 0.0
    integ.start()
    assert integ.state == "START"


def test_continuous_integration_restarts_every_period(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0)
    integ = w.reference.integration
    integ.mode = "CONTINUOUS"
    with pytest.raises(IntegrationError):
        integ.start()  # needs a timer
    integ.timer_s = 60.0
    integ.start()
    w.advance(150.0)
    assert integ.state == "START"
    assert w.reference.measure("TIME", "SIGMA") == pytest.approx(30.0)
    _within_class(w, w.reference.measure("WH", "SIGMA"), 3450.0 * 30 / 3600)


def test_reference_pulses_follow_the_measured_energy(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 10.0)
    w.advance(3600.0)
    expected = 3 * 230.0 * 10.0 * 3600 / 3.6e6 * 5.0e6  # 34.5 million pulses
    assert w.reference.pulses == pytest.approx(expected, rel=w.reference.accuracy_pct / 100)
    assert w.segments <= 2  # one segment for 34.5 million pulses


def test_reset_keeps_the_pulse_output_counting(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0)
    w.reference.integration.start()
    w.advance(10)
    pulses = w.reference.pulses
    w.reference.reset()
    assert w.reference.integration.state == "RESET" and w.reference.measure("WH", 1) == 0.0
    assert w.reference.pulses == pulses
