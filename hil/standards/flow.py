"""Energy flow of a load point: which quadrant a point sits in and the current angle the source sets for it.

Quadrants as IEC 62053-24:2020 / IEC 62053-23:2003 draw them (active power on the horizontal axis, reactive on the
vertical): I import active + inductive (Q+), II export active + Q+, III export active + Q−, IV import active + Q−.
Exporting reverses the active power, i.e. the current turns by 180° against its voltage.
"""

from __future__ import annotations

from typing import Literal

from hil.standards.model import PowerFactor

Energy = Literal["active", "reactive"]
Direction = Literal["import", "export"]


def current_angle_deg(pf: PowerFactor, energy: Energy = "active", direction: Direction = "import") -> float:
    """The current's angle against its voltage (lagging below U) for ``pf`` read as cos φ (active) or sin φ (reactive).

    Export adds 180° (reversed active power), result wrapped into (−180°, 180°].
    """
    phi = pf.reactive_phi_deg if energy == "reactive" else pf.phi_deg
    angle = -phi + (180.0 if direction == "export" else 0.0)
    angle = (angle + 180.0) % 360.0 - 180.0
    return 180.0 if angle == -180.0 else angle


def quadrant(angle_deg: float) -> int:
    """Quadrant I..IV of a current at ``angle_deg`` (lagging below U): P ∝ cos(−angle), Q ∝ sin(−angle).

    A point on an axis is given by convention: pure P+ or Q+ → I, pure P− → II, pure Q− → III.
    """
    phi = (-angle_deg) % 360.0
    return 1 + int(phi // 90.0) if phi % 90.0 else {0: 1, 90: 1, 180: 2, 270: 3}[int(phi)]
