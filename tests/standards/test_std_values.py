"""Value types: power factor with its sense and phase angle, current expressions and ranges."""

from __future__ import annotations

import math

import pytest

from hil.standards import CurrentExpr, CurrentRange, PowerFactor
from hil.standards.model import AccuracyRow


def test_inductive_pf_current_lags_by_acos() -> None:
    pf = PowerFactor.parse("0.5L")
    assert (pf.value, pf.sense) == (0.5, "L")
    # cos φ = 0.5 → φ = 60°: the current lags its voltage, so its angle is below the voltage's
    assert pf.phi_deg == pytest.approx(60.0, abs=1e-9)
    assert pf.current_angle_deg == pytest.approx(-60.0, abs=1e-9)


def test_capacitive_pf_current_leads() -> None:
    pf = PowerFactor.parse("0.8C")
    # cos φ = 0.8 → sin φ = 0.6 → φ = atan(0.6/0.8) = 36.87°, leading
    assert pf.phi_deg == pytest.approx(-math.degrees(math.atan2(0.6, 0.8)), abs=1e-9)
    assert pf.phi_deg == pytest.approx(-36.87, abs=0.005)
    assert pf.current_angle_deg > 0


def test_unity_and_notation() -> None:
    assert PowerFactor.parse(1) == PowerFactor.parse("1") == PowerFactor(1.0)
    assert PowerFactor.parse(1).phi_deg == 0.0
    assert str(PowerFactor.parse("0,5l")) == "0.5L"
    assert PowerFactor.from_phi(60.0) == PowerFactor(0.5, "L")
    assert PowerFactor.from_phi(0.0) == PowerFactor(1.0)


def test_reactive_reading_of_the_notation() -> None:
    # IEC 62053-23 states sin φ: sin φ 0.5 capacitive → the current leads by 30°; sin φ 1 → lags by 90°
    assert PowerFactor.parse("0.5C").reactive_phi_deg == pytest.approx(-30.0, abs=1e-9)
    assert PowerFactor.parse("1").reactive_phi_deg == pytest.approx(90.0, abs=1e-9)


@pytest.mark.parametrize("bad", ["0.5", "1L", "1.2", "0", "abc", "0.5X", "-0.5L"])
def test_bad_power_factor_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        PowerFactor.parse(bad)


def test_current_expression() -> None:
    e = CurrentExpr.parse("0.05 Ib")
    assert (e.factor, e.base) == (0.05, "Ib")
    assert e.amps({"Ib": 5.0}) == pytest.approx(0.25)
    assert CurrentExpr.parse("Imax") == CurrentExpr(1.0, "Imax")
    assert CurrentExpr.parse("2·Itr") == CurrentExpr(2.0, "Itr")
    assert str(CurrentExpr.parse("2 Itr")) == "2 Itr" and str(CurrentExpr.parse("1 Iref")) == "Iref"


@pytest.mark.parametrize("bad", ["0.05 Ix", "Ib Imax", "-1 Ib", "0 Ib", "", "5 A"])
def test_bad_current_expression_is_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        CurrentExpr.parse(bad)


ITR = {"Itr": 0.5, "Imax": 60.0, "Imin": 0.25}


@pytest.mark.parametrize(
    ("text", "current", "inside"),
    [
        ("[Itr, 2 Itr)", 0.5, True),  # closed lower bound
        ("[Itr, 2 Itr)", 0.999, True),
        ("[Itr, 2 Itr)", 1.0, False),  # open upper bound
        ("[Itr, 2 Itr)", 0.4999, False),
        ("(Itr, Imax]", 0.5, False),
        ("[Itr, Imax]", 60.0, True),
        ("[Itr, Imax]", 60.001, False),
        ("0.5 Imax", 30.0, True),  # a single current
        ("0.5 Imax", 30.1, False),
    ],
)
def test_current_range_bounds(text: str, current: float, inside: bool) -> None:
    assert CurrentRange.parse(text).contains(current, ITR) is inside


def test_range_tolerates_float_rounding_at_a_bound() -> None:
    # 0.1 · 5 A computed differently must still sit on the bound "0.1 Ib"
    rng = CurrentRange.parse("[0.1 Ib, Imax]")
    assert rng.contains(5.0 / 10 * (1 - 1e-12), {"Ib": 5.0, "Imax": 60.0})


def test_value_types_round_trip_through_a_row() -> None:
    row = AccuracyRow.model_validate({
        "id": "r", "status": "derived", "class_index": 1, "current": "[Itr, 2 Itr)", "pf": [1, "0.5L", "0.8C"],
        "limit_pct": 1.5,
    })
    assert row.class_index == "1"
    dumped = row.model_dump(mode="json")
    assert dumped["current"] == "[Itr, 2 Itr)" and dumped["pf"] == ["1", "0.5L", "0.8C"]
    assert AccuracyRow.model_validate(dumped) == row
