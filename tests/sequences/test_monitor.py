"""Failure detection of one meter from its monitoring intervals (hand-made pulse counts)."""

from __future__ import annotations

import math
from pathlib import Path

from hil.kinds.sequences.monitor import MeterState

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


def test_chamber_deviation_alarm_follows_the_air_lag(tmp_path: Path) -> None:
    """A tight alarm band (0.05 K) on the simulated chamber: its air follows the program value with a first-order
    lag (τ = 120 s, default bench file), so at the end of a 1 K/min ramp the air trails by g·τ = 2 K and decays as
    2 K · exp(−t/τ): above 0.05 K for τ·ln(2 / 0.05) ≈ 443 s after the program value arrived. Soak intervals then
    alarm, and only those, and the result row counts them."""
    from hil.kinds.sequences import read_monitoring
    from hil.results import read_results
    from hil.simbench import simulated_bench
    from tests.sequences.plans import SEED, pytest_plan

    plan = tmp_path / "plan.yaml"
    plan.write_text("""\
plan: chamber alarm
standard: IEC 62053-21
edition: "2020"
class: "1"
tests:
  - id: bi
    kind: burn_in
    temperature_c: 40
    duration_h: 0.5
    gradient_k_per_min: 1.0
    monitoring: {interval_s: 60, port_every: 10, chunk_intervals: 30, chamber_band_k: 0.05}
""", encoding="utf-8")
    with simulated_bench(seed=SEED, write_to=tmp_path / "bench.yaml"):
        out, _ = pytest_plan(plan, tmp_path / "bench.yaml", tmp_path / "run").communicate(timeout=300)
    mon = read_monitoring(tmp_path / "run")
    one = mon[(mon["position"] == 1) & (mon["window"] == 0)].sort_values("t_end_s")
    soak = one[one["step_name"].str.contains("soak", case=False)]
    assert len(soak) > 0, out
    # each soak interval's alarm is exactly "actual further than 0.05 K from the setpoint"
    deviation = (soak["chamber_c"] - soak["setpoint_c"]).abs()
    assert (soak["chamber_alarm"] == (deviation > 0.05)).all()
    assert not one[~one.index.isin(soak.index)]["chamber_alarm"].any()  # ramps are never alarms
    # the lag decays as the first-order model says: alarms only early in the soak, and some there
    alarms = soak[soak["chamber_alarm"]]
    assert 1 <= len(alarms) <= math.ceil(120.0 * math.log(2.0 / 0.05) / 60.0) + 1
    assert alarms["t_end_s"].max() < soak["t_end_s"].min() + 120.0 * math.log(2.0 / 0.05) + 60.0
    rows = read_results(tmp_path / "run")
    assert (rows["chamber_alarm_intervals"] == len(alarms)).all()
