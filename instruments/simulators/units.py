"""Energy units shared by the physics world and the instrument servers (no I/O; the world may import it)."""

from __future__ import annotations

#: kWh ↔ W·s
WS_PER_KWH = 3.6e6

#: meter-constant units of the Fluke 6105A ENERgy subsystem (manual §5-95, §5-102, §5-107; no short forms) →
#: (factor, inverse): imp/kWh = factor·v, or factor / v when the unit is energy per impulse
CONSTANT_UNITS: dict[str, tuple[float, bool]] = {
    "IPWH": (1e3, False),
    "IPKWH": (1.0, False),
    "IPMWH": (1e-3, False),
    "WHPI": (1e3, True),
    "KWHPI": (1.0, True),
    "MWHPI": (1e-3, True),
}


def to_imp_per_kwh(value: float, unit: str) -> float:
    """A meter constant ``value`` in ``unit`` (a key of :data:`CONSTANT_UNITS`) → imp/kWh."""
    factor, inverse = CONSTANT_UNITS[unit]
    return factor / value if inverse else factor * value


def from_imp_per_kwh(constant: float, unit: str) -> float:
    """A meter constant in imp/kWh → its value in ``unit``."""
    factor, inverse = CONSTANT_UNITS[unit]
    return factor / constant if inverse else constant / factor
