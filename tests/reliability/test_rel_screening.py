"""MIL-HDBK-344A screening strength (HEURISTIC) against the formula of standards.md §8, by hand."""

from __future__ import annotations

import math

import pytest

from hil.reliability import (
    HEURISTIC_NOTE,
    random_vibration_strength,
    thermal_cycles_for_strength,
    thermal_cycling_strength,
)


def test_thermal_cycling_by_hand() -> None:
    r, rate, n = 100.0, 10.0, 10
    expected = 1 - math.exp(-0.0017 * (r + 0.6) ** 0.6 * math.log(math.e + rate) ** 3 * n)
    ss = thermal_cycling_strength(r, rate, n)
    assert ss.strength == pytest.approx(expected, rel=1e-12)
    assert ss.heuristic is True and "HEURISTIC" in ss.note
    assert ss.to_dict()["heuristic"] is True


def test_thermal_cycling_slow_rate() -> None:
    # rate 0: ln(e + 0) = 1, the bracket term vanishes from the formula
    expected = 1 - math.exp(-0.0017 * (60 + 0.6) ** 0.6 * 5)
    assert thermal_cycling_strength(60, 0, 5).strength == pytest.approx(expected, rel=1e-12)
    assert thermal_cycling_strength(60, 5, 0).strength == 0.0


def test_random_vibration_by_hand() -> None:
    expected = 1 - math.exp(-0.0046 * 6.0**1.71 * 10.0)
    ss = random_vibration_strength(6.0, 10.0)
    assert ss.strength == pytest.approx(expected, rel=1e-12)
    assert ss.heuristic and ss.note == HEURISTIC_NOTE


def test_cycles_for_strength_is_the_smallest_that_reaches_it() -> None:
    n = thermal_cycles_for_strength(0.95, 100, 5)
    assert thermal_cycling_strength(100, 5, n).strength >= 0.95
    assert thermal_cycling_strength(100, 5, n - 1).strength < 0.95


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: thermal_cycling_strength(-10, 5, 10), "range"),
        (lambda: thermal_cycling_strength(100, -5, 10), "rate"),
        (lambda: thermal_cycling_strength(100, 5, 2.5), "whole number"),  # type: ignore[arg-type]
        (lambda: random_vibration_strength(6, -1), "duration"),
        (lambda: thermal_cycles_for_strength(1.0, 100, 5), "between 0 and 1"),
    ],
)
def test_bad_input(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]
