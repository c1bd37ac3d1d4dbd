"""Time aggregation of 10/12-cycle values (IEC 61000-4-30 Ed. 3 + A1, 4.5).

Every aggregation is the square root of the arithmetic mean of the squared input values (4.5.1). Kinds (4.5.2):

* ``"150/180-cycle"``: 15 consecutive 10/12-cycle values (150 cycles at 50 Hz, 180 at 60 Hz, ≈ 3 s). With time
  stamps, the 150/180-cycle intervals are resynchronised at each 10-min tick (4.5.3): a new interval begins with the
  first value of each 10-min interval and the last interval before a tick may hold fewer than 15 values (U: the
  standard's figure shows the interval that straddles the tick overlapping; here it is cut short, ``count`` says
  how many values it holds).
* ``"10-min"``: all 10/12-cycle values whose (start) time stamp lies in the same clock-aligned 10-min interval
  ``[k·600 s, (k+1)·600 s)`` (4.5.3: the interval is tagged by absolute clock time). Time stamps are seconds on a
  clock whose zero is a 10-min tick (e.g. POSIX UTC). U: the 10/12-cycle value that straddles a tick is counted in
  the interval where it starts (the standard counts its overlap in both).
* ``"2-h"``: 12 consecutive 10-min values (4.5.2), or with time stamps those in the same clock-aligned 2-h interval.

Each result carries ``start_s`` and ``end_s`` of its interval (U: the standard tags the interval with its end time,
4.5.3; both are given).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from hil.pq.harmonics import FloatArray, as_samples

AggregationKind = Literal["150/180-cycle", "10-min", "2-h"]

TEN_MIN_S = 600.0
TWO_H_S = 7200.0


@dataclass(frozen=True)
class Aggregate:
    """One aggregated value: interval ``[start_s, end_s)`` (``nan`` where no time stamps were given), the RMS
    aggregate ``value`` and the number of input values ``count``."""

    start_s: float
    end_s: float
    value: float
    count: int


def rms_aggregate(values: npt.ArrayLike) -> float:
    """Square root of the arithmetic mean of the squares of ``values`` (IEC 61000-4-30 4.5.1)."""
    v = as_samples(values, "values", max_ndim=1)
    return float(math.sqrt(float(np.mean(v * v))))


def _chunks(v: FloatArray, t: FloatArray | None, size: int, seconds_per_value: float) -> list[Aggregate]:
    out = []
    for a in range(0, v.shape[0], size):
        seg = v[a : a + size]
        if t is None:
            start, end = math.nan, math.nan
        else:
            start, end = float(t[a]), float(t[min(a + size, v.shape[0]) - 1]) + seconds_per_value
        out.append(Aggregate(start, end, rms_aggregate(seg), int(seg.shape[0])))
    return out


def aggregate(values: npt.ArrayLike, kind: AggregationKind, timestamps_s: npt.ArrayLike | None = None,
              f_nominal: float = 50.0) -> list[Aggregate]:
    """Aggregate ``values`` by ``kind`` (IEC 61000-4-30 4.5; the module docstring gives the rules).

    ``values``: 10/12-cycle values for ``"150/180-cycle"`` and ``"10-min"``, 10-min values for ``"2-h"``;
    ``timestamps_s``: the start time (s) of each value, non-decreasing — required for ``"10-min"``, optional for
    the others (with it, intervals are clock-aligned). ``f_nominal`` (50 / 60) sets the 10/12-cycle length used
    for the end time of a 150/180-cycle interval.
    """
    v = as_samples(values, "values", max_ndim=1)
    t: FloatArray | None = None
    if timestamps_s is not None:
        t = as_samples(timestamps_s, "timestamps_s", max_ndim=1)
        if t.shape != v.shape:
            raise ValueError(f"timestamps_s has shape {t.shape}, values {v.shape}: one time stamp per value")
        if np.any(np.diff(t) < 0):
            raise ValueError("timestamps_s must be non-decreasing")
    if f_nominal not in (50, 60):
        raise ValueError(f"f_nominal must be 50 or 60 (Hz), got {f_nominal!r}")
    if kind == "150/180-cycle":
        value_s = (10 if f_nominal == 50 else 12) / f_nominal
        if t is None:
            return _chunks(v, None, 15, value_s)
        out: list[Aggregate] = []
        for idx in _clock_groups(t, TEN_MIN_S):
            out.extend(_chunks(v[idx], t[idx], 15, value_s))
        return out
    if kind == "10-min":
        if t is None:
            raise ValueError("timestamps_s is required for 10-min aggregation: the interval is tagged by clock time")
        return _clock_aggregates(v, t, TEN_MIN_S)
    if kind == "2-h":
        if t is None:
            return _chunks(v, None, 12, TEN_MIN_S)
        return _clock_aggregates(v, t, TWO_H_S)
    raise ValueError(f"kind must be one of '150/180-cycle', '10-min', '2-h', got {kind!r}")


def _clock_groups(t: FloatArray, period: float) -> list[npt.NDArray[np.intp]]:
    k = np.floor(t / period + 1e-12).astype(np.int64)
    cuts = np.flatnonzero(np.diff(k)) + 1
    return np.split(np.arange(t.shape[0]), cuts)


def _clock_aggregates(v: FloatArray, t: FloatArray, period: float) -> list[Aggregate]:
    out = []
    for idx in _clock_groups(t, period):
        k = math.floor(float(t[idx[0]]) / period + 1e-12)
        out.append(Aggregate(k * period, (k + 1) * period, rms_aggregate(v[idx]), int(idx.shape[0])))
    return out
