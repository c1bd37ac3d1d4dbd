"""Test timing (reference/standards.md §5–§6): pulse period, no-load duration, starting time, pulses per point."""

from __future__ import annotations

import math

import pytest

from hil.standards import (
    MeterRating,
    StandardsError,
    fixed_practice_pulses,
    generate_load_points,
    meter_constant_deviation_pct,
    meter_constant_test,
    no_load_minutes,
    no_load_test,
    plan_point_pulses,
    pulse_period_s,
    pulses_for_point,
    starting_test,
)
from tests.standards.ratings import make_rating


@pytest.mark.parametrize(("k_factor", "expected_min"), [(480, 34.8), (600, 43.5), (900, 65.2)])
def test_no_load_minutes_example(k_factor: float, expected_min: float) -> None:
    # standards.md §5: k 1000, m 1, 230 V, 60 A → 34.8 / 43.5 / 65.2 min
    minutes = no_load_minutes(k_factor, 1000, 1, 230.0, 60.0)
    assert minutes == pytest.approx(k_factor * 1e6 / (1000 * 1 * 230 * 60))
    assert round(minutes, 1) == expected_min


@pytest.mark.parametrize(
    ("standard", "cls", "connection", "expected_min"),
    [
        ("IEC 62053-21", "2", "direct", 34.8),
        ("IEC 62053-21", "1", "direct", 43.5),
        ("IEC 62053-22", "0.5S", "ct", 43.5),
        ("IEC 62053-22", "0.2S", "ct", 65.2),
    ],
)
def test_no_load_2003_editions(standard: str, cls: str, connection: str, expected_min: float) -> None:
    ratings = {"ib_a": 5.0} if connection == "direct" else {"in_a": 5.0}
    r = make_rating(standard=standard, edition="2003", class_index=cls, connection=connection, elements=1,
                    itr_a=None, imin_a=None, ist_a=None, **ratings)
    t = no_load_test(r)
    assert round(t.min_duration_s / 60, 1) == expected_min
    assert t.duration_s == t.min_duration_s
    assert t.voltage_v == pytest.approx(1.15 * 230)  # 115 % Un (C)
    assert t.max_pulses == 1
    assert t.provenance["voltage"].status == "confirmed"
    assert t.provenance["duration"].status == "unconfirmed"  # K per class (U)


def test_no_load_labs_run_twice_the_minimum() -> None:
    r = make_rating(edition="2003", elements=1, ib_a=5.0, itr_a=None, imin_a=None, ist_a=None)
    t = no_load_test(r, factor=2.0)
    assert t.duration_s == pytest.approx(2 * 600e6 / (1000 * 1 * 230 * 60) * 60)
    with pytest.raises(ValueError):
        no_load_test(r, factor=0.5)


def test_no_load_2020_placeholder_is_ist_based_and_marked(default_meter: MeterRating) -> None:
    t = no_load_test(default_meter)
    u_test = 1.10 * 230  # 110 % Un for the 2020 editions
    assert t.voltage_v == pytest.approx(u_test)
    # placeholder K 0.6 at the test voltage and Ist: ten pulse periods at Ist
    assert t.min_duration_s == pytest.approx(0.6e6 / (1000 * 3 * u_test * 0.02) * 60)
    assert t.min_duration_s == pytest.approx(10 * 3.6e6 / (1000 * 3 * u_test * 0.02))
    assert t.provenance["duration"].status == "unconfirmed"
    assert t.provenance["voltage"].status == "unconfirmed"
    lab = no_load_test(default_meter, k_factor=1.2)
    assert lab.min_duration_s == pytest.approx(2 * t.min_duration_s)


def test_no_load_en50470_at_115_un() -> None:
    t = no_load_test(make_rating(standard="EN 50470-3", edition="2022", class_index="B"))
    assert t.voltage_v == pytest.approx(1.15 * 230)


def test_no_load_without_a_constant() -> None:
    ansi = make_rating(standard="ANSI C12.20", edition="2015", class_index="0.2", ta_a=30.0, imax_a=200.0,
                       itr_a=None, imin_a=None, ist_a=None)
    with pytest.raises(StandardsError, match="no_load_voltage_factor"):
        no_load_test(ansi)


def test_pulse_period_at_ist() -> None:
    # standards.md §5: k 1000, 253 V, 0.02 A → one pulse ≈ 712 s
    tau = pulse_period_s(1000, 1, 253.0, 0.02)
    assert tau == pytest.approx(3.6e6 / (1000 * 1 * 253 * 0.02))
    assert tau == pytest.approx(712, abs=1)
    # PF and elements divide it
    assert pulse_period_s(1000, 3, 253.0, 0.02, "0.5L") == pytest.approx(tau / 3 / 0.5)


def test_starting_test_of_the_default_meter(default_meter: MeterRating) -> None:
    t = starting_test(default_meter)
    tau = 3.6e6 / (1000 * 3 * 230 * 0.02)  # all three elements at Ist, Un, PF 1
    assert (t.current_a, t.voltage_v) == (0.02, 230.0)
    assert t.pulse_period_s == pytest.approx(tau)
    assert t.time_limit_s == pytest.approx(1.5 * tau)  # multiple from the table (U)
    assert t.provenance["time_limit"].status == "unconfirmed"
    assert starting_test(default_meter, time_multiple=3.0).time_limit_s == pytest.approx(3 * tau)


def test_starting_current_from_the_2003_table() -> None:
    r = make_rating(edition="2003", class_index="2", elements=1, ib_a=10.0, itr_a=None, imin_a=None, ist_a=None)
    t = starting_test(r)
    assert t.current_a == pytest.approx(0.005 * 10)  # class 2 direct: 0.005 Ib
    assert t.pulse_period_s == pytest.approx(3.6e6 / (1000 * 230 * 0.05))


def test_starting_test_needs_an_ist() -> None:
    r = make_rating(standard="ANSI C12.20", edition="2015", class_index="0.2", ta_a=30.0, imax_a=200.0,
                    itr_a=None, imin_a=None, ist_a=None)
    with pytest.raises(StandardsError, match="ist_a"):
        starting_test(r)


def test_pulse_rule_resolution_binding() -> None:
    # Iref 5 A, 3 × 230 V, PF 1: P = 3450 W; meter 1000 imp/kWh; reference 100 000 imp/kWh; limit 1.0 %
    # resolution 100/n_ref ≤ 0.1 % → n_ref ≥ 1000 → N ≥ 1000 · 1000 / 100 000 = 10 pulses (exactly on the bound)
    p = pulses_for_point(limit_pct=1.0, mut_constant=1000, ref_constant=1e5, power_w=3450.0)
    tau = 3.6e6 / (1000 * 3450)
    assert p.pulses == 10 and p.binding == "resolution"
    assert p.ref_pulses == pytest.approx(10 * 1e5 / 1000)
    assert p.resolution_pct == pytest.approx(0.1)
    assert p.duration_s == pytest.approx(10 * tau)


def test_pulse_rule_duration_binding() -> None:
    # Imax 60 A, 3 × 230 V: P = 41 400 W; with a 5·10⁶ imp/kWh reference one pulse already resolves 0.02 %;
    # the 10 s minimum needs N = 10 s · k · P / 3.6·10⁶ = 115 pulses (exactly)
    p = pulses_for_point(limit_pct=1.0, mut_constant=1000, ref_constant=5e6, power_w=41400.0)
    assert p.pulses == 115 and p.binding == "duration"
    assert p.duration_s == pytest.approx(10.0)
    slow = pulses_for_point(limit_pct=1.0, mut_constant=1000, ref_constant=5e6, power_w=41400.0, min_duration_s=20)
    assert slow.pulses == 230


def test_pulse_rule_on_a_generated_point(default_meter: MeterRating) -> None:
    point = next(p for p in generate_load_points(default_meter) if p.key == "bal/Imin/1")
    plan = plan_point_pulses(point, default_meter, ref_constant=5e6)
    # 3 × 230 V × 0.25 A = 172.5 W: τ = 3.6e6/(1000·172.5) ≈ 20.9 s > 10 s, resolution needs < 1 pulse → N = 1
    assert plan.pulses == 1
    assert plan.duration_s == pytest.approx(3.6e6 / (1000 * 172.5))
    assert plan.resolution_pct <= 0.1 * 1.5


def test_fixed_practice_for_comparison() -> None:
    low = fixed_practice_pulses(mut_constant=1000, ref_constant=5e6, power_w=172.5)
    assert low.pulses == 25  # τ ≈ 20.9 s: 25 pulses already exceed 30 s
    high = fixed_practice_pulses(mut_constant=1000, ref_constant=5e6, power_w=41400.0)
    assert high.pulses == math.ceil(30 / (3.6e6 / (1000 * 41400)) - 1e-9)  # 30 s at τ ≈ 0.087 s: 345 pulses
    assert high.pulses == 345
    rule = pulses_for_point(limit_pct=1.0, mut_constant=1000, ref_constant=5e6, power_w=172.5)
    assert rule.duration_s < low.duration_s / 20  # the rule's bench time at Imin is 1 pulse instead of 25


def test_meter_constant_test_energy() -> None:
    # register resolution 0.01 kWh ≤ 0.1 % of E → E = 10 kWh; at 1000 imp/kWh 10 000 pulses
    t = meter_constant_test(constant_imp_per_kwh=1000, register_resolution_kwh=0.01, power_w=41400.0)
    assert t.energy_kwh == pytest.approx(10.0)
    assert t.pulses == pytest.approx(10_000)
    assert t.duration_s == pytest.approx(10.0 * 3.6e6 / 41400.0)
    assert t.register_resolution_pct == pytest.approx(0.1)
    assert meter_constant_deviation_pct(1001, 1.0, 1000) == pytest.approx(0.1)
