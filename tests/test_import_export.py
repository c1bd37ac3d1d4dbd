"""Current angles and quadrants of import/export and reactive load points (hand-computed expectations)."""

from __future__ import annotations

import math

import pytest

from hil.standards.flow import current_angle_deg, quadrant
from hil.standards.model import PowerFactor


@pytest.mark.parametrize(
    ("pf", "energy", "direction", "expected", "quad"),
    [
        ("1", "active", "import", 0.0, 1),
        ("1", "active", "export", 180.0, 2),
        ("0.5L", "active", "import", -60.0, 1),  # cos φ 0.5 lagging: φ = 60°
        ("0.5L", "active", "export", 120.0, 3),  # turned by 180°: P < 0, Q < 0
        ("0.8C", "active", "import", math.degrees(math.acos(0.8)), 4),
        ("1", "reactive", "import", -90.0, 1),  # sin φ 1: pure inductive
        ("0.5C", "reactive", "import", 30.0, 4),  # sin φ 0.5 leading: φ = −30°
    ],
)
def test_angle_and_quadrant(pf: str, energy: str, direction: str, expected: float, quad: int) -> None:
    angle = current_angle_deg(PowerFactor.parse(pf), energy, direction)  # type: ignore[arg-type]
    assert angle == pytest.approx(expected)
    assert quadrant(angle) == quad
    p = math.cos(math.radians(-angle))
    assert (p < 0) == (direction == "export") or abs(p) < 1e-9
