"""Error calculator channels: gate edges, the error formula, continuous and counting modes, idle advance.

error % = (N·C_ref / (n_ref·C_mut) − 1)·100 (standards.md §6); resolution ±1 reference pulse = 100/n_ref %."""

from __future__ import annotations

import math
from typing import Any

import pytest

P_5A = 3 * 230.0 * 5.0  # W, balanced PF 1
C_MUT = 1000.0
C_REF = 5.0e6


def _pulse_period(power_w: float, constant: float) -> float:
    return 3.6e6 / (constant * power_w)


def test_flat_error_measured_through_the_calculator(worlds: Any) -> None:
    w = worlds.world(behaviour={"error_curve_pct": [[1.0, 0.5]]})
    worlds.energise(w, 5.0)
    c = w.calculators[1]
    c.mut_pulses = 10
    c.start()
    assert c.state == "WAITING"
    w.advance_until_idle(600)
    assert c.state == "FINISHED"
    n_ref = c.ref_counted
    tolerance = w.reference.accuracy_pct + 100.0 / n_ref
    assert c.error_pct == pytest.approx(0.5, abs=tolerance)
    # the formula, by hand, from the counted pulses
    assert c.error_pct == pytest.approx((10 * C_REF / (n_ref * C_MUT) - 1) * 100, abs=1e-12)
    # n_ref by hand: N MUT pulses are N/C_mut kWh registered = N/(C_mut·1.005) kWh true
    assert n_ref == pytest.approx(10 / (C_MUT * 1.005) * C_REF, rel=3e-4)
    assert c.mut_counted == 10


def test_gate_opens_on_the_next_mut_pulse_edge_and_lasts_n_periods(worlds: Any) -> None:
    w = worlds.world(behaviour={"error_curve_pct": [[1.0, 0.5]]})
    worlds.energise(w, 5.0)
    m, c = w.meters[1], w.calculators[1]
    rate = P_5A * 1.005 * C_MUT / 3.6e6  # registered pulses per second
    to_edge = (math.floor(m.pulse_acc) + 1 - m.pulse_acc) / rate
    c.mut_pulses = 25
    c.start()
    w.advance(0.5 * to_edge)
    assert c.state == "WAITING" and c.mut_counted == 0
    w.advance(0.51 * to_edge)
    assert c.state == "RUNNING"
    assert c.opened_at == pytest.approx(to_edge, rel=1e-9)
    elapsed = w.advance_until_idle(3600)
    assert c.finished_at == pytest.approx(to_edge + 25 * _pulse_period(P_5A * 1.005, C_MUT), rel=1e-9)
    assert w.clock.now == c.finished_at
    assert elapsed == pytest.approx(c.finished_at - 1.01 * to_edge, rel=1e-9)
    assert m.pulses == math.floor(m.pulse_acc)


def test_advance_until_idle_stops_at_the_last_finishing_channel(worlds: Any) -> None:
    w = worlds.world(positions=3)
    worlds.energise(w, 5.0)
    for pos, n in ((1, 5), (2, 20), (3, 10)):
        w.calculators[pos].mut_pulses = n
        w.calculators[pos].start()
    w.advance_until_idle(3600)
    finished = [w.calculators[p].finished_at for p in (1, 2, 3)]
    assert all(c.state == "FINISHED" for c in w.calculators.values())
    assert w.clock.now == max(f for f in finished if f is not None)
    assert w.clock.now == w.calculators[2].finished_at


def test_advance_until_idle_gives_up_at_max_seconds(worlds: Any) -> None:
    w = worlds.world(positions=2)
    worlds.energise(w, 5.0)
    w.meters[2].fail_now()
    for c in w.calculators.values():
        c.start()
    assert w.advance_until_idle(100.0) == pytest.approx(100.0)
    assert w.calculators[1].state == "FINISHED"
    assert w.calculators[2].state == "WAITING"
    # nothing started: no time passes
    w2 = worlds.world()
    assert w2.advance_until_idle(100.0) == 0.0 and w2.clock.now == 0.0


def test_phase_error_at_pf_half_through_the_calculator(worlds: Any) -> None:
    delta = 10.0 / 60.0  # degrees
    w = worlds.world(behaviour={"phase_error_curve_arcmin": [[1.0, 10.0]]})
    worlds.energise(w, 5.0, lag_deg=60.0)
    c = w.calculators[1]
    c.mut_pulses = 20
    c.start()
    w.advance_until_idle(3600)
    expected = (math.cos(math.radians(60 + delta)) / math.cos(math.radians(60)) - 1) * 100
    # the reference's own error at 0.5L stays within its class
    assert c.error_pct == pytest.approx(expected, abs=w.reference.accuracy_pct + 100.0 / c.ref_counted)


def test_wrong_reference_constant_shows_in_the_result(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0)
    c = w.calculators[1]
    c.ref_constant = C_REF / 2  # configured half of what the reference really emits
    c.mut_pulses = 10
    c.start()
    w.advance_until_idle(600)
    assert c.error_pct == pytest.approx(-50.0, abs=0.05)


def test_continuous_mode_keeps_measuring(worlds: Any) -> None:
    w = worlds.world(behaviour={"error_curve_pct": [[1.0, -0.3]]})
    worlds.energise(w, 5.0)
    c = w.calculators[1]
    c.mode = "CONTINUOUS"
    c.mut_pulses = 10
    c.start()
    w.advance(1000.0)
    gate = 10 * _pulse_period(P_5A * 0.997, C_MUT)
    # gates follow edge to edge after the first edge (≤ one period after the start)
    assert c.results in (math.floor(1000.0 / gate), math.floor(1000.0 / gate) - 1)
    assert c.state == "RUNNING"
    assert c.error_pct == pytest.approx(-0.3, abs=w.reference.accuracy_pct + 100.0 / 48_000)
    assert w.advance_until_idle(100.0) == 0.0  # a continuous channel never makes the bench idle
    c.abort()
    assert c.state == "IDLE"


def test_count_mode_counts_both_pulse_trains(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0)
    c = w.calculators[1]
    c.mode = "COUNT"
    c.start()
    assert c.state == "RUNNING"
    w.advance(3600.0)
    kwh = P_5A * 3600.0 / 3.6e6  # 3.45 kWh
    assert c.mut_counted in (math.floor(kwh * C_MUT), math.floor(kwh * C_MUT) + 1)
    assert c.ref_counted == pytest.approx(kwh * C_REF, rel=w.reference.accuracy_pct / 100)
    c.abort()
    counted = c.mut_counted
    w.advance(600.0)
    assert c.state == "IDLE" and c.mut_counted == counted


def test_count_mode_sees_no_pulses_from_a_dead_output(worlds: Any) -> None:
    w = worlds.world(behaviour={"pulse_output_broken": True})
    worlds.energise(w, 5.0)
    c = w.calculators[1]
    c.mode = "COUNT"
    c.start()
    w.advance(600)
    assert c.mut_counted == 0 and c.ref_counted > 0


def test_bad_settings_are_refused_at_start(worlds: Any) -> None:
    w = worlds.world()
    c = w.calculators[1]
    c.mut_pulses = 0
    with pytest.raises(ValueError):
        c.start()
    c.mut_pulses = 10
    c.mode = "SOMETIMES"
    with pytest.raises(ValueError):
        c.start()
    c.mode = "ERROR"
    c.mut_constant = -1
    with pytest.raises(ValueError):
        c.start()
    assert c.state == "IDLE"


def test_defaults_follow_the_meter_and_the_reference(worlds: Any) -> None:
    w = worlds.world()
    c = w.calculators[1]
    assert c.mut_constant == 1000.0
    assert c.ref_constant == w.reference.pulse_constant == C_REF
    assert c.mode == "ERROR" and c.state == "IDLE" and c.error_pct is None
