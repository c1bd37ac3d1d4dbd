"""Influence quantities (reference/standards.md §4) and the MID temperature bands (MI-003 Table 2)."""

from __future__ import annotations

import math

import pytest

from hil.standards import (
    MeterRating,
    NoLimitError,
    StandardsError,
    influence_limit,
    influence_points,
    influences,
    temperature_band,
)
from tests.standards.ratings import make_rating


def class_2003(cls: str) -> MeterRating:
    # Ib 10 A: 0.05 Ib = 0.5 A, 0.1 Ib = 1 A, 0.2 Ib = 2 A
    return make_rating(edition="2003", class_index=cls, ib_a=10.0, itr_a=None, imin_a=None, ist_a=None)


@pytest.mark.parametrize(
    ("cls", "influence", "current", "pf", "limit", "unit", "status"),
    [
        ("1", "voltage", 0.5, "1", 0.7, "%", "confirmed"),
        ("1", "voltage", 1.0, "0.5L", 1.0, "%", "confirmed"),
        ("2", "voltage", 60.0, "1", 1.0, "%", "confirmed"),
        ("2", "voltage", 1.0, "0.5L", 1.5, "%", "confirmed"),
        ("1", "frequency", 0.5, "1", 0.5, "%", "confirmed"),
        ("2", "frequency", 2.0, "0.5L", 1.0, "%", "confirmed"),
        ("1", "temperature", 1.0, "1", 0.05, "%/K", "confirmed"),
        ("2", "temperature", 2.0, "0.5L", 0.15, "%/K", "confirmed"),
        ("1", "reversed_phase_sequence", 1.0, "1", 1.5, "%", "confirmed"),
        ("2", "voltage_unbalance", 10.0, "1", 4.0, "%", "confirmed"),
        ("1", "harmonics", 30.0, "1", 0.8, "%", "confirmed"),  # 0.5 Imax
        ("2", "dc_even_harmonics", 60.0 / math.sqrt(2), "1", 6.0, "%", "confirmed"),  # Imax/√2
        ("1", "odd_harmonics", 5.0, "1", 3.0, "%", "unconfirmed"),  # 0.5 Ib
        ("2", "magnetic_induction", 10.0, "1", 3.0, "%", "unconfirmed"),
    ],
)
def test_2003_influence_limits(
    cls: str, influence: str, current: float, pf: str, limit: float, unit: str, status: str
) -> None:
    lim = influence_limit(class_2003(cls), influence, current, pf)
    assert (lim.limit, lim.unit, lim.provenance.status) == (limit, unit, status)


def test_influence_outside_its_range() -> None:
    with pytest.raises(NoLimitError):  # voltage at 0.5L only from 0.1 Ib
        influence_limit(class_2003("1"), "voltage", 0.5, "0.5L")
    with pytest.raises(NoLimitError):  # harmonics only at 0.5 Imax
        influence_limit(class_2003("1"), "harmonics", 10.0, "1")


def test_voltage_points_of_the_default_meter() -> None:
    pts = influence_points(make_rating(), "voltage")
    # at Iref 5 A, PF 1 and 0.5L, Un ±10 %: 207 V and 253 V
    assert [(p.current_a, str(p.pf)) for p in pts] == [(5.0, "1"), (5.0, "1"), (5.0, "0.5L"), (5.0, "0.5L")]
    assert [p.voltage_v for p in pts] == pytest.approx([0.9 * 230, 1.1 * 230] * 2)
    assert [p.limit for p in pts] == [0.7, 0.7, 1.0, 1.0]
    assert all(p.frequency_hz == 50.0 and p.provenance.status == "unconfirmed" for p in pts)  # 2020: U


def test_frequency_points() -> None:
    pts = influence_points(class_2003("2"), "frequency")
    assert sorted({p.frequency_hz for p in pts}) == [pytest.approx(0.98 * 50), pytest.approx(1.02 * 50)]
    assert {(str(p.pf), p.limit) for p in pts} == {("1", 0.8), ("0.5L", 1.0)}
    assert all(p.voltage_v == 230.0 and p.current_a == 10.0 for p in pts)


def test_point_influences_have_no_deviation_generator() -> None:
    assert "reversed_phase_sequence" in influences(make_rating())
    with pytest.raises(StandardsError, match="not a deviation or waveform test"):
        influence_points(make_rating(), "reversed_phase_sequence")


@pytest.mark.parametrize("edition", ["2003", "2020"])
def test_the_harmonics_point_adds_the_5th_at_half_imax(edition: str) -> None:
    # standards.md §4: 0.5 Imax PF 1, class 1 ±0.8 %; the waveform: 5th harmonic, I 40 %, U 10 %, in phase (U)
    rating = class_2003("1") if edition == "2003" else make_rating()
    (p,) = influence_points(rating, "harmonics")
    assert (p.current_a, str(p.pf), p.limit, p.deviation_pct) == (30.0, "1", 0.8, 0.0)
    assert (p.voltage_v, p.frequency_hz) == (230.0, 50.0)  # Un and fn: only the waveform changes
    assert [(h.circuit, h.order, h.percent, h.degrees) for h in p.harmonics] == [("I", 5, 40.0, 0.0),
                                                                                ("U", 5, 10.0, 0.0)]


def test_no_influence_table_for_mid() -> None:
    with pytest.raises(StandardsError, match="no influence table"):
        influence_limit(make_rating(standard="EN 50470-3", edition="2022", class_index="B"), "voltage", 5.0, 1)


@pytest.mark.parametrize(
    ("temperature", "band"),
    [(23.0, "T1"), (5.0, "T1"), (30.0, "T1"), (30.5, "T2"), (4.9, "T2"), (-10.0, "T2"), (-10.5, "T3"),
     (55.0, "T3"), (55.5, "T4"), (-40.0, "T4"), (70.0, "T4")],
)
def test_mid_temperature_band(temperature: float, band: str) -> None:
    assert temperature_band(temperature).id == band


def test_temperature_outside_mid_bands() -> None:
    with pytest.raises(StandardsError):
        temperature_band(-41.0)
