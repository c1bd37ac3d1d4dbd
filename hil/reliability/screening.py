"""Screening strength of environmental stress screens — HEURISTIC (MIL-HDBK-344A, as commonly reproduced).

Screening strength SS is the probability that a screen precipitates a latent defect into a failure (given the
defect is there). The formulas below are those of MIL-HDBK-344A (1993) as commonly reproduced (standards.md §8,
status unconfirmed); the handbook is dated and its constants come from 1980s equipment. Treat the numbers as a
way to compare one screen with another, not as a proven defect-removal rate. Every result carries
``heuristic=True`` and the caveat text, and the CLI prints it.

- temperature cycling: SS = 1 − exp{−0.0017·(R + 0.6)^0.6·[ln(e + rate)]³·N}, R the range (°C), rate (°C/min), N
  cycles;
- random vibration: SS = 1 − exp(−0.0046·Grms^1.71·t), t in minutes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hil.reliability._check import non_negative, probability, whole

HEURISTIC_NOTE = (
    "HEURISTIC: MIL-HDBK-344A screening-strength formula as commonly reproduced; status unconfirmed and the "
    "handbook (1993) is dated. Use it to compare screens, not as a proven defect-removal rate."
)
_TC_K = 0.0017
_RV_K = 0.0046
_RV_EXP = 1.71


@dataclass(frozen=True)
class ScreeningStrength:
    """One screen's strength SS (0…1), always flagged as heuristic."""

    screen: str  # "thermal-cycling" | "random-vibration"
    strength: float
    inputs: dict[str, float] = field(default_factory=dict)
    formula: str = ""
    heuristic: bool = True
    note: str = HEURISTIC_NOTE

    def to_dict(self) -> dict[str, Any]:
        return {
            "screen": self.screen, "screening_strength": self.strength, "inputs": dict(self.inputs),
            "formula": self.formula, "heuristic": self.heuristic, "note": self.note,
        }


def _tc_rate_term(range_c: float, rate_c_per_min: float) -> float:
    return float(_TC_K * (range_c + 0.6) ** 0.6 * math.log(math.e + rate_c_per_min) ** 3)


def thermal_cycling_strength(range_c: float, rate_c_per_min: float, cycles: int) -> ScreeningStrength:
    """HEURISTIC MIL-HDBK-344A temperature-cycling screening strength (see the module docstring)."""
    r = non_negative("temperature range R (°C)", range_c)
    rate = non_negative("temperature rate of change (°C/min)", rate_c_per_min)
    n = whole("cycles N", cycles)
    return ScreeningStrength(
        screen="thermal-cycling",
        strength=-math.expm1(-_tc_rate_term(r, rate) * n),
        inputs={"range_c": r, "rate_c_per_min": rate, "cycles": n},
        formula="SS = 1 − exp{−0.0017·(R + 0.6)^0.6·[ln(e + rate)]³·N}",
    )


def thermal_cycles_for_strength(target: float, range_c: float, rate_c_per_min: float) -> int:
    """HEURISTIC: fewest cycles whose MIL-HDBK-344A screening strength reaches ``target`` (0…1)."""
    ss = probability("target screening strength", target)
    r = non_negative("temperature range R (°C)", range_c)
    rate = non_negative("temperature rate of change (°C/min)", rate_c_per_min)
    return max(1, math.ceil(-math.log1p(-ss) / _tc_rate_term(r, rate) - 1e-9))


def random_vibration_strength(grms: float, minutes: float) -> ScreeningStrength:
    """HEURISTIC MIL-HDBK-344A random-vibration screening strength: 1 − exp(−0.0046·Grms^1.71·t[min])."""
    g = non_negative("vibration level (Grms)", grms)
    t = non_negative("duration (minutes)", minutes)
    return ScreeningStrength(
        screen="random-vibration",
        strength=-math.expm1(-_RV_K * g**_RV_EXP * t),
        inputs={"grms": g, "minutes": t},
        formula="SS = 1 − exp(−0.0046·Grms^1.71·t)",
    )
