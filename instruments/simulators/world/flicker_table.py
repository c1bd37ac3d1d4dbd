"""What a simulated meter's flickermeter answers for a rectangular fluctuation: Pst is proportional to ΔV/V, and
IEC 61000-4-15 Ed. 2 (2010) Table 5 gives the ΔV/V of Pst = 1 at seven rates (facts as tabulated by M. Šíra, CMI,
for the QWTB flicker_sim package; the same values as tests/pq). Between the rates: log-log interpolation, outside
them the nearest end (U: the real curve between 110 and 1620 changes per minute dips to its minimum near 1056).
The simulator computes Pst this way, not by sampling: a model independent of ``hil.pq``, which the kinds use for
the expected values."""

from __future__ import annotations

import math

#: (f_nominal, lamp) → (changes per minute, ΔV/V % giving Pst = 1)
TABLE5: dict[float, tuple[tuple[float, ...], tuple[float, ...]]] = {
    50.0: ((1, 2, 7, 39, 110, 1620, 4000), (2.715, 2.191, 1.450, 0.894, 0.722, 0.407, 2.343)),  # 230 V lamp
    60.0: ((1, 2, 7, 39, 110, 1620, 4800), (3.181, 2.564, 1.694, 1.040, 0.844, 0.548, 4.837)),  # 120 V lamp
}


def unit_depth(cpm: float, f_nominal: float) -> float:
    """ΔV/V (%) of a rectangular fluctuation at ``cpm`` that gives Pst = 1."""
    rates, depths = TABLE5[60.0 if abs(f_nominal - 60.0) < abs(f_nominal - 50.0) else 50.0]
    if cpm <= rates[0]:
        return depths[0]
    if cpm >= rates[-1]:
        return depths[-1]
    for (r0, d0), (r1, d1) in zip(zip(rates, depths, strict=True), zip(rates[1:], depths[1:], strict=True),
                                  strict=False):
        if r0 <= cpm <= r1:
            x = (math.log(cpm) - math.log(r0)) / (math.log(r1) - math.log(r0))
            return math.exp(math.log(d0) + x * (math.log(d1) - math.log(d0)))
    raise AssertionError("unreachable")


def pst_of(depth_pct: float, cpm: float, f_nominal: float) -> float:
    """Pst of a steady rectangular fluctuation (Pst ∝ ΔV/V, IEC 61000-4-15 block 5 on a periodic Pinst)."""
    return depth_pct / unit_depth(cpm, f_nominal)
