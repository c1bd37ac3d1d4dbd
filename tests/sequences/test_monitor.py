"""Failure detection of one meter from its monitoring intervals (hand-made pulse counts)."""

from __future__ import annotations

from hil.sequences.monitor import MeterState

K = 1000.0  # imp/kWh
EXPECTED = 57.5  # pulses per 60 s at 3450 W: 3450 × 60 / 3.6e6 × 1000


def test_meter_dying_mid_interval_gets_that_interval_as_its_window() -> None:
    m = MeterState(1, K)
    assert not m.pulses_in(0, 60, 57, EXPECTED)
    assert not m.pulses_in(60, 120, 20, EXPECTED)  # stopped a third of the way through: short interval
    assert m.pulses_in(120, 180, 0, EXPECTED)  # first interval without pulses: stopped
    m.stopped(port_alive=False)
    assert m.failed and m.mode == "dead"
    assert (m.failed_after, m.failed_before) == (60, 120)  # the short interval
    assert m.failure_time == 90


def test_meter_dying_at_an_interval_edge_and_pulses_only() -> None:
    m = MeterState(1, K)
    m.pulses_in(0, 60, 58, EXPECTED)  # full count: alive to the end of it
    assert m.pulses_in(60, 120, 0, EXPECTED)
    m.stopped(port_alive=True)
    assert m.mode == "no_pulses" and (m.failed_after, m.failed_before) == (60, 120)
    assert not m.pulses_in(120, 180, 0, EXPECTED)  # reported once


def test_pulse_output_dead_from_the_start_is_not_a_failure() -> None:
    m = MeterState(11, K)
    for k in range(5):
        assert not m.pulses_in(60 * k, 60 * (k + 1), 0, EXPECTED)
    m.register(300, 1.0, 0.01, 1.0)
    assert not m.failed and not m.pulsed


def test_register_consistency_drift_and_port_silent() -> None:
    m = MeterState(1, K)
    m.pulses_in(0, 3600, 3450, 3450)
    m.register(3600, 10.000, 0.01, 1.0)  # baseline
    m.pulses_in(3600, 7200, 3450, 3450)
    # 3450 pulses / 1000 imp/kWh = 3.45 kWh; allowed 2 × 0.01 + 1/1000 + 1 % × 3.45 = 0.0555 kWh
    m.register(7200, 13.50, 0.01, 1.0)  # +3.50: 0.05 off, within
    assert not m.failed
    m.pulses_in(7200, 10800, 3450, 3450)
    m.register(10800, 17.01, 0.01, 1.0)  # +3.51: 0.06 off, beyond
    assert m.failed and m.mode == "drift" and (m.failed_after, m.failed_before) == (7200, 10800)
    s = MeterState(2, K)
    s.pulses_in(0, 60, 57, EXPECTED)
    s.register(60, 1.0, 0.01, 1.0)
    s.register(120, None, 0.01, 1.0)
    assert s.mode == "port_silent" and (s.failed_after, s.failed_before) == (60, 120)
