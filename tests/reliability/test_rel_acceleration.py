"""Acceleration factors against the formulas of reference/standards.md §8, computed by hand here."""

from __future__ import annotations

import math

import pytest

from hil.reliability import arrhenius_af, coffin_manson_af, kelvin, peck_af

K = 8.617333e-5  # eV/K, as given in standards.md §8


def test_arrhenius_issue_example() -> None:
    # issue 5 acceptance: 0.7 eV, 25 → 85 °C → AF ≈ 96
    expected = math.exp((0.7 / K) * (1 / 298.15 - 1 / 358.15))
    af = arrhenius_af(0.7, 25, 85)
    assert af == pytest.approx(expected, rel=1e-6)
    assert round(af) == 96


def test_arrhenius_direction_and_identity() -> None:
    assert arrhenius_af(0.7, 85, 25) == pytest.approx(1 / arrhenius_af(0.7, 25, 85))
    assert arrhenius_af(0.7, 40, 40) == 1.0
    assert arrhenius_af(0.0, 25, 125) == 1.0


def test_peck() -> None:
    # 60 % RH / 30 °C in use, 85 % RH / 85 °C in test, Peck's defaults n = 2.66, Ea = 0.79 eV
    expected = (60 / 85) ** -2.66 * math.exp((0.79 / K) * (1 / 303.15 - 1 / 358.15))
    assert peck_af(60, 85, 30, 85) == pytest.approx(expected, rel=1e-6)
    expected_custom = (50 / 85) ** -3.0 * math.exp((0.7 / K) * (1 / 298.15 - 1 / 358.15))
    assert peck_af(50, 85, 25, 85, ea_ev=0.7, n=3.0) == pytest.approx(expected_custom, rel=1e-6)


def test_coffin_manson() -> None:
    assert coffin_manson_af(20, 100) == pytest.approx(5**1.9, rel=1e-12)
    assert coffin_manson_af(30, 165, n=2.5) == pytest.approx((165 / 30) ** 2.5, rel=1e-12)


def test_kelvin() -> None:
    assert kelvin(25) == pytest.approx(298.15)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: arrhenius_af(0.7, -300, 85), "absolute zero"),
        (lambda: arrhenius_af(-0.1, 25, 85), "activation energy"),
        (lambda: peck_af(0, 85, 25, 85), "use humidity"),
        (lambda: peck_af(60, 120, 25, 85), r"\(0, 100\]"),
        (lambda: coffin_manson_af(0, 100), "ΔT_use"),
        (lambda: coffin_manson_af(20, -100), "ΔT_test"),
        (lambda: arrhenius_af(0.7, math.inf, 85), "finite"),
    ],
)
def test_bad_input(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]
