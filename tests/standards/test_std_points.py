"""Load-point matrices: counts and limits checked against the rules of reference/standards.md §3, applied by hand."""

from __future__ import annotations

import pytest

from hil.standards import LoadPoint, MeterRating, StandardsError, generate_load_points
from tests.standards.ratings import make_rating


def hand_limit_2020_class1(current: float, pf: str, single: bool) -> float | None:
    """IEC 62053-21:2020 class 1 (standards.md §3) for Imin 0.25, Itr 0.5, Imax 60 A; None: no limit."""
    imin, itr, imax = 0.25, 0.5, 60.0
    if not current <= imax:
        return None
    if single:
        if pf == "1":
            return 2.0 if current >= itr else None
        return 2.0 if pf == "0.5L" and current >= 2 * itr else None
    if pf == "1":
        return 1.5 if imin <= current < itr else 1.0 if current >= itr else None
    return 1.5 if itr <= current < 2 * itr else 1.0 if current >= 2 * itr else None


def test_default_meter_full_matrix(default_meter: MeterRating) -> None:
    m = generate_load_points(default_meter)
    # balanced: Imin, Itr, 2 Itr, Iref, Imax × PF 1, 0.5L, 0.8C; 0.5L and 0.8C only from Itr → 5 + 4 + 4
    # each element alone: Itr, 2 Itr, Iref, Imax × PF 1, 0.5L; 0.5L only from 2 Itr → 4 + 3, three elements
    assert len(m) == (5 + 4 + 4) + 3 * (4 + 3)
    assert len(m.omitted) == 2 + 3 * 1
    assert len({p.key for p in m}) == len(m)
    for p in m:
        assert p.limit_pct == hand_limit_2020_class1(p.current_a, str(p.pf), p.element is not None), p.key
        assert p.voltage_v == 230.0 and p.frequency_hz == 50.0
        assert p.limit.standard == "IEC 62053-21" and p.limit.status == "derived"
        assert p.elements_loaded == (3 if p.element is None else 1)
    assert {p.current_a for p in m} == {0.25, 0.5, 1.0, 5.0, 60.0}
    assert {str(p.pf) for p in m} == {"1", "0.5L", "0.8C"}
    assert {p.element for p in m} == {None, 1, 2, 3}


def test_omitted_points_say_why(default_meter: MeterRating) -> None:
    m = generate_load_points(default_meter)
    balanced = [o for o in m.omitted if o.element is None]
    assert {(o.current_a, str(o.pf)) for o in balanced} == {(0.25, "0.5L"), (0.25, "0.8C")}
    assert all("from 0.5 A (Itr)" in o.reason for o in balanced)
    single = [o for o in m.omitted if o.element is not None]
    assert {(o.current_a, str(o.pf)) for o in single} == {(0.5, "0.5L")}
    assert all("from 1 A (2 Itr)" in o.reason for o in single)


def test_point_power_and_angle(default_meter: MeterRating) -> None:
    p = next(p for p in generate_load_points(default_meter) if p.key == "e1/Imax/0.5L")
    assert p.power_w == pytest.approx(230.0 * 60.0 * 0.5)  # one element at 0.5L
    assert p.phi_deg == pytest.approx(60.0)
    q = next(p for p in generate_load_points(default_meter) if p.key == "bal/Iref/0.8C")
    assert q.power_w == pytest.approx(3 * 230.0 * 5.0 * 0.8)
    assert q.name == "Iref PF 0.8C"


def test_point_json_round_trip(default_meter: MeterRating) -> None:
    for p in generate_load_points(default_meter):
        assert LoadPoint.model_validate(p.model_dump(mode="json")) == p


def test_single_phase_meter_has_no_single_element_points() -> None:
    m = generate_load_points(make_rating(elements=1))
    assert len(m) == 5 + 4 + 4
    assert all(p.element is None and p.elements_loaded == 1 for p in m)


def test_configurable_current_set(default_meter: MeterRating) -> None:
    m = generate_load_points(default_meter, currents=["Imin", "0.5 Imax"], pfs=["1", "0.5L"], single_element=False)
    # 0.5 Imax = 30 A: PF 1 ±1.0, 0.5L ±1.0; Imin at 0.5L has no limit
    assert [(p.current_a, str(p.pf), p.limit_pct) for p in m] == [(0.25, "1", 1.5), (30.0, "1", 1.0),
                                                                   (30.0, "0.5L", 1.0)]
    assert len(m.omitted) == 1


def test_same_current_generated_once(default_meter: MeterRating) -> None:
    m = generate_load_points(default_meter, currents=["Iref", "Ib", "10 Itr"], pfs=[1], single_element=False)
    assert len(m) == 1  # Iref = Ib = 10 Itr = 5 A


def test_unknown_current_in_set(default_meter: MeterRating) -> None:
    with pytest.raises(StandardsError, match="In is not defined"):
        generate_load_points(default_meter, currents=["In"], pfs=[1])


def test_2003_class1_direct_matrix() -> None:
    m = generate_load_points(make_rating(edition="2003", ib_a=5.0, itr_a=None, imin_a=None, ist_a=None))
    # balanced 0.05/0.1/0.2 Ib, Ib, Imax × 3 PFs, 0.5L/0.8C from 0.1 Ib; single 0.1/0.2 Ib, Ib, Imax × 2, 0.5L
    # from 0.2 Ib
    assert len(m) == (5 + 4 + 4) + 3 * (4 + 3)
    low = next(p for p in m if p.key == "bal/0.05 Ib/1")
    assert low.current_a == pytest.approx(0.05 * 5.0)
    assert (low.limit_pct, low.limit.status) == (1.5, "unconfirmed")


def test_62053_22_matrix_balanced_only() -> None:
    r = make_rating(standard="IEC 62053-22", edition="2003", class_index="0.5S", connection="ct", in_a=5.0,
                    imax_a=10.0, itr_a=None, imin_a=None, ist_a=None)
    m = generate_load_points(r)
    # 0.01, 0.02, 0.05, 0.1 In, In, Imax × PF 1 (6) and × 0.5L, 0.8C from 0.02 In (5 each); no single-element rows
    assert len(m) == 6 + 5 + 5
    assert all(p.element is None for p in m)


def test_mid_matrix_covers_the_pf_range_at_every_current() -> None:
    m = generate_load_points(make_rating(standard="EN 50470-3", edition="2022", class_index="B"))
    # MID MPEs apply over 0.5L…0.8C at all currents: Imin, Itr, Iref, Imax × 3 PFs; no single-element rows
    assert len(m) == 4 * 3 and not m.omitted
    assert {p.limit_pct for p in m} == {2.0}
    hot = generate_load_points(make_rating(standard="EN 50470-3", edition="2022", class_index="B"),
                               temperature_c=50.0)
    assert {p.limit_pct for p in hot} == {3.5}


def test_reactive_points_use_sin_phi() -> None:
    r = make_rating(standard="IEC 62053-23", edition="2003", class_index="2", ib_a=5.0, itr_a=None, imin_a=None,
                    ist_a=None)
    m = generate_load_points(r)
    p = next(p for p in m if p.key == "bal/Ib/1")
    assert p.energy == "reactive" and p.phi_deg == pytest.approx(90.0)
