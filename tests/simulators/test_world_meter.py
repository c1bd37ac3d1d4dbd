"""The meter under test: true error, registers, tariffs, pulses, starting and creep, supply, faults.

Every expected value is computed here by hand from U, I, φ and the configured behaviour."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from instruments.simulators.world.config import load_sim_bench
from instruments.simulators.world.world import World

KWH = 3.6e6  # W·s


def test_registers_advance_by_p_times_t(worlds: Any) -> None:
    w = worlds.world(behaviour={"error_curve_pct": [[1.0, 0.5]]})
    worlds.energise(w, 5.0, lag_deg=60.0)
    w.advance(3600.0)
    true_kwh = 3 * 230.0 * 5.0 * math.cos(math.radians(60)) * 3600.0 / KWH  # 1.725 kWh
    regs = w.meters[1].registers
    assert regs["1.8.0"] == pytest.approx(true_kwh * 1.005, rel=1e-9)
    assert regs["1.8.1"] == pytest.approx(regs["1.8.0"], rel=1e-12)  # 08:00–09:00 is tariff 1
    assert regs["1.8.2"] == 0.0 and regs["2.8.0"] == 0.0
    # pulses: floor(energy·constant + initial phase), initial phase in [0, 1)
    assert w.meters[1].pulses in (math.floor(true_kwh * 1.005 * 1000), math.floor(true_kwh * 1.005 * 1000) + 1)


def test_flat_error_is_the_true_error(worlds: Any) -> None:
    w = worlds.world(behaviour={"error_curve_pct": [[1.0, 0.5]]})
    worlds.energise(w, 5.0)
    assert w.meters[1].error_pct() == pytest.approx(0.5, abs=1e-9)


def test_phase_error_gives_the_pf_error_of_cos_phi_plus_delta(worlds: Any) -> None:
    delta_arcmin = 10.0
    w = worlds.world(behaviour={"phase_error_curve_arcmin": [[1.0, delta_arcmin]]})
    worlds.energise(w, 5.0, lag_deg=60.0)
    d = math.radians(delta_arcmin / 60.0)
    expected = (math.cos(math.radians(60.0) + d) / math.cos(math.radians(60.0)) - 1.0) * 100.0
    assert w.meters[1].error_pct() == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(-0.504, abs=0.001)  # ≈ −tan 60°·δ
    # at PF 1 the same phase error is second order
    worlds.energise(w, 5.0, lag_deg=0.0)
    assert w.meters[1].error_pct() == pytest.approx((math.cos(d) - 1) * 100, abs=1e-9)


def test_error_curve_is_interpolated_in_log_current(worlds: Any) -> None:
    w = worlds.world(behaviour={"error_curve_pct": [[0.5, 1.0], [5.0, 0.0]]})
    for amps, expected in ((0.5, 1.0), (5.0, 0.0), (math.sqrt(0.5 * 5.0), 0.5), (0.1, 1.0), (60.0, 0.0)):
        worlds.energise(w, amps)
        assert w.meters[1].error_pct() == pytest.approx(expected, abs=1e-9), amps


def test_voltage_frequency_and_temperature_coefficients(worlds: Any) -> None:
    w = worlds.world(
        behaviour={
            "voltage_coefficient_pct_per_pct": 0.02,
            "frequency_coefficient_pct_per_pct": 0.1,
            "temperature_coefficient_pct_per_k": 0.05,
        },
        ambient_temperature_c=33.0,
    )
    worlds.energise(w, 5.0, volts=253.0)  # +10 % of Un
    w.source.set_frequency(51.0)  # +2 % of fn
    assert w.meters[1].temperature == 33.0
    assert w.meters[1].error_pct() == pytest.approx(0.02 * 10 + 0.1 * 2 + 0.05 * 10, abs=1e-9)


def test_harmonic_power_is_registered_with_its_own_error(worlds: Any) -> None:
    w = worlds.world(behaviour={"harmonic_error_pct": -10.0})
    worlds.energise(w, 30.0)
    for ph in (1, 2, 3):
        w.source.set_harmonic(ph, "U", 5, 10.0, 0.0)
        w.source.set_harmonic(ph, "I", 5, 40.0, 0.0)
    # P = P1 + 0.04·P1 (true); registered P1 + 0.9·0.04·P1
    assert w.meters[1].error_pct() == pytest.approx((1.036 / 1.04 - 1) * 100, abs=1e-9)


def test_export_goes_to_2_8_0(worlds: Any) -> None:
    w = worlds.world()
    worlds.energise(w, 5.0, lag_deg=180.0)
    w.advance(1800.0)
    regs = w.meters[1].registers
    assert regs["2.8.0"] == pytest.approx(3 * 230 * 5 * 1800 / KWH, rel=1e-9)
    assert regs["1.8.0"] == 0.0
    assert w.meters[1].pulses >= 1700  # pulses count |energy|: 1.725 kWh


def test_tariff_switches_at_22_00_by_the_meter_clock(worlds: Any) -> None:
    w = worlds.world(epoch="2026-03-02T21:00:00Z")
    worlds.energise(w, 5.0)
    w.advance(2 * 3600.0)
    one_hour = 3 * 230 * 5 * 3600 / KWH
    regs = w.meters[1].registers
    assert regs["1.8.1"] == pytest.approx(one_hour, rel=1e-9)
    assert regs["1.8.2"] == pytest.approx(one_hour, rel=1e-9)
    assert regs["1.8.0"] == pytest.approx(regs["1.8.1"] + regs["1.8.2"], rel=1e-12)
    # back to tariff 1 at 06:00: 21:00 → 07:00 next day is 1 h T1, 8 h T2, 1 h T1
    w.advance(8 * 3600.0)
    assert regs["1.8.1"] == pytest.approx(2 * one_hour, rel=1e-9)
    assert regs["1.8.2"] == pytest.approx(8 * one_hour, rel=1e-9)


def test_meter_clock_drifts_and_can_be_set(worlds: Any) -> None:
    w = worlds.world(behaviour={"clock_drift_ppm": 10.0})
    m = w.meters[1]
    w.advance(86400.0)
    ahead = (m.clock_datetime() - w.clock.datetime()).total_seconds()
    assert ahead == pytest.approx(0.864, abs=1e-5)  # 10 ppm of a day
    m.set_clock(datetime(2026, 3, 3, 21, 59, 0, tzinfo=UTC))
    worlds.energise(w, 5.0)
    w.advance(120.0)
    regs = m.registers
    # one minute in T1, then 22:00 by the meter's clock, one minute (±10 ppm) in T2
    minute = 3 * 230 * 5 * 60 / KWH
    assert regs["1.8.1"] == pytest.approx(minute * (1 - 1e-5), rel=1e-6)
    assert regs["1.8.2"] == pytest.approx(minute * (1 + 1e-5), rel=1e-6)


def test_start_threshold_per_element(worlds: Any) -> None:
    w = worlds.world(behaviour={"start_threshold_a": 0.012})
    worlds.energise(w, 0.010)
    w.advance(3600.0)
    assert w.meters[1].registers["1.8.0"] == 0.0
    assert w.meters[1].pulses == 0
    # at Ist = 0.02 A: 3·230·0.02·1 h = 13.8 Wh → 13 or 14 pulses at 1 imp/Wh
    worlds.energise(w, 0.02)
    w.advance(3600.0)
    assert w.meters[1].registers["1.8.0"] == pytest.approx(0.0138, rel=1e-9)
    assert w.meters[1].pulses in (13, 14)
    # only one element above the threshold: only that element registers
    w.source.set_current(2, 0.005)
    w.source.set_current(3, 0.005)
    before = w.meters[1].registers["1.8.0"]
    w.advance(3600.0)
    assert w.meters[1].registers["1.8.0"] - before == pytest.approx(0.0046, rel=1e-9)


def test_creep_at_no_load(worlds: Any) -> None:
    w = worlds.world(positions=2)
    w.meters[2].creep_w = 5.0
    worlds.energise(w, 0.0, volts=230 * 1.15)
    w.advance(43.5 * 60)
    # 5 W for 43.5 min = 3.625 Wh → 3 or 4 pulses at 1 imp/Wh; the good meter emits none
    assert w.meters[2].pulses in (3, 4)
    assert w.meters[2].registers["1.8.0"] == pytest.approx(5 * 43.5 * 60 / KWH, rel=1e-9)
    assert w.meters[1].pulses == 0 and w.meters[1].registers["1.8.0"] == 0.0
    # creep is a no-load effect: with load the creeping meter registers the load only
    worlds.energise(w, 5.0)
    assert w.meters[2].error_pct() == pytest.approx(0.0, abs=1e-9)


def test_broken_pulse_output_never_pulses_but_registers(worlds: Any) -> None:
    w = worlds.world(behaviour={"pulse_output_broken": True})
    worlds.energise(w, 10.0)
    w.advance(3600.0)
    m = w.meters[1]
    assert m.pulses == 0 and not m.pulsing
    assert m.registers["1.8.0"] == pytest.approx(6.9, rel=1e-9)
    assert m.port_alive


def test_supply_interruptions_stop_registering_and_are_counted(worlds: Any) -> None:
    w = worlds.world()
    m = w.meters[1]
    assert not m.port_alive  # output off at power-on
    worlds.energise(w, 5.0)
    assert m.port_alive
    w.advance(60.0)
    w.source.set_output(False)
    w.advance(60.0)
    assert not m.port_alive and not m.powered
    w.source.set_output(True)
    w.advance(60.0)
    w.source.set_voltage(1, 100.0)  # below 0.5·Un on phase 1: the meter's supply is gone
    w.advance(60.0)
    assert m.power_failures == 2 and m.registers["C.7.0"] == 2.0
    assert m.registers["1.8.0"] == pytest.approx(3 * 230 * 5 * 120 / KWH, rel=1e-9)
    # the meter's clock kept running through the interruptions
    assert (m.clock_datetime() - w.clock.datetime()).total_seconds() == pytest.approx(0.0, abs=1e-6)


def test_single_phase_meter_on_its_own_phase(worlds: Any) -> None:
    data = worlds.data(meter={"connection": "1P2W"})
    data["positions"][0]["phase"] = 2
    w = worlds.world(data)
    worlds.energise(w, 5.0)
    w.source.set_current(2, 10.0)
    w.advance(3600.0)
    assert w.meters[1].registers["1.8.0"] == pytest.approx(2.3, rel=1e-9)


def test_injected_faults(worlds: Any) -> None:
    w = worlds.world(positions=2)
    worlds.energise(w, 10.0)
    w.advance(60)
    m1, m2 = w.meters[1], w.meters[2]
    m1.inject_no_pulses()
    m2.fail_now()
    p1, r1, r2 = m1.pulses, m1.registers["1.8.0"], dict(m2.registers)
    w.advance(600)
    assert m1.pulses == p1 and m1.registers["1.8.0"] > r1 and m1.port_alive
    assert m2.registers == r2 and not m2.alive and not m2.port_alive and m2.failure_mode == "dead"
    assert m2.failed_at == pytest.approx(60.0)
    m1.clear_faults()
    m2.clear_faults()
    w.advance(600)
    assert m1.pulses > p1 and m2.alive and m2.registers["1.8.0"] > r2["1.8.0"]


def _errors_at(w: World, amps: float, lag_deg: float = 0.0) -> dict[int, float]:
    for ph in (1, 2, 3):
        u_angle = (0.0, -120.0, 120.0)[ph - 1]
        w.source.set_voltage(ph, 230.0)
        w.source.set_current(ph, amps)
        w.source.set_current_angle(ph, u_angle - lag_deg)
    w.source.set_output(True)
    w.advance(10.0)
    return {pos: m.error_pct() for pos, m in w.meters.items()}


def test_default_bench_errors_against_class_1_limits() -> None:
    """IEC 62053-21:2020 class 1 (standards.md §3): ±1.5 % for Imin ≤ I < Itr, ±1.0 % from Itr at PF 1;
    ±1.0 % from 2·Itr at 0.5L. Position 9 is out below Itr only; the good units are well inside."""
    w = World(load_sim_bench())
    for amps in (0.25, 0.35, 0.45):
        errs = _errors_at(w, amps)
        assert errs[9] > 1.5 + 0.3
        assert all(abs(e) < 0.45 for pos, e in errs.items() if pos != 9)
    for amps in (0.5, 1.0, 5.0, 60.0):
        errs = _errors_at(w, amps)
        assert abs(errs[9]) < 1.0 - 0.3
        assert all(abs(e) < 0.45 for pos, e in errs.items() if pos != 9)
    for amps in (1.0, 5.0, 60.0):
        errs = _errors_at(w, amps, lag_deg=60.0)
        assert all(abs(e) < 0.6 for e in errs.values())
    # units differ from each other (seeded production spread)
    assert len({round(e, 6) for e in _errors_at(w, 5.0).values()}) >= 10


def test_default_bench_creep_and_broken_output() -> None:
    """No-load test at 1.15 Un for 43.5 min (standards.md §5): at most one pulse allowed."""
    w = World(load_sim_bench())
    for ph in (1, 2, 3):
        w.source.set_voltage(ph, 230 * 1.15)
    w.source.set_output(True)
    w.advance(43.5 * 60)
    assert w.meters[10].pulses >= 3
    assert all(m.pulses == 0 for pos, m in w.meters.items() if pos != 10)
    _errors_at(w, 5.0)
    w.advance(600)
    assert w.meters[11].pulses == 0 and w.meters[11].registers["1.8.0"] > 0 and w.meters[11].port_alive
    assert w.meters[1].pulses > 0


def test_register_presets_keep_the_total_the_sum_of_the_tariffs(worlds: Any) -> None:
    m = worlds.world().meters[1]
    m.preset_register("1.8.1", 10.0)
    m.preset_register("1.8.2", 2.5)
    assert (m.registers["1.8.0"], m.registers["1.8.1"], m.registers["1.8.2"]) == (12.5, 10.0, 2.5)
    m.preset_register("2.8.0", 4.0)  # export is independent
    assert m.registers["1.8.0"] == 12.5 and m.registers["2.8.0"] == 4.0
    m.preset_register("1.8.0", 7.0)  # the total: all of it in tariff 1, tariff 2 cleared
    assert (m.registers["1.8.0"], m.registers["1.8.1"], m.registers["1.8.2"]) == (7.0, 7.0, 0.0)
    assert m.registers["2.8.0"] == 4.0 and m.registers["C.7.0"] == 0.0
    for address, kwh in (("1.8.1", -1.0), ("1.8.1", math.inf), ("1.8.1", math.nan)):
        with pytest.raises(ValueError):
            m.preset_register(address, kwh)
    with pytest.raises(KeyError):
        m.preset_register("C.7.0", 0.0)
    assert m.registers["1.8.0"] == 7.0


def test_serial_write_is_checked(worlds: Any) -> None:
    m = worlds.world().meters[1]
    m.set_serial("ABC123")
    assert m.serial == "ABC123" and m.truth()["serial"] == "ABC123"
    for bad in ("", "A B", "A,B", "X" * 33):
        with pytest.raises(ValueError):
            m.set_serial(bad)
    assert m.serial == "ABC123"


def test_power_interruption_counts_only_a_powered_living_meter(worlds: Any) -> None:
    w = worlds.world()
    m = w.meters[1]
    m.power_interruption()  # output off: no supply to lose
    assert m.power_failures == 0
    worlds.energise(w, 5.0)
    w.advance(60.0)
    kwh = m.registers["1.8.0"]
    m.power_interruption()
    assert m.power_failures == 1 and m.registers["C.7.0"] == 1.0
    assert m.registers["1.8.0"] == kwh  # registers survive
    m.fail_now()
    m.power_interruption()
    assert m.power_failures == 1
