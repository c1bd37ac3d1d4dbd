"""RMS voltage measurements: Urms(1/2) and the 10/12-cycle RMS (IEC 61000-4-30 Ed. 3 + A1, 5.2 and 5.4.1).

Synchronisation: **to the nominal frequency, no zero-crossing detection and no frequency tracking.** U: IEC 61000-4-30
5.4.1 (Ed. 3) has Urms(1/2) commence at a fundamental zero crossing and the 10/12-cycle interval (5.2) is of the
*actual* power frequency; here both are laid on a fixed grid from the first sample: value ``j`` of
:func:`rms_half_cycle` is the RMS of samples ``[round(j·h), round((j+2)·h))`` with ``h = fs / (2·f_nominal)``,
i.e. its window starts at ``t = j / (2·f_nominal)``. Where ``h`` is not an integer (60 Hz at 10 kS/s) the windows
hold ``⌊2h⌋`` or ``⌈2h⌉`` samples. A record whose first sample is at a positive-going zero crossing satisfies the
standard's alignment for a signal at nominal frequency.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from hil.pq.harmonics import FloatArray, as_samples, check_fs, window_cycles

MIN_SAMPLES_PER_CYCLE = 4
"""U: no rule of the standard; the smallest sampling rate accepted is 4 samples per nominal cycle."""


def _windowed_rms(x: FloatArray, starts: npt.NDArray[np.int64], ends: npt.NDArray[np.int64]) -> FloatArray:
    sq = np.zeros((*x.shape[:-1], x.shape[-1] + 1))
    np.cumsum(x * x, axis=-1, out=sq[..., 1:])
    energy = np.maximum(sq[..., ends] - sq[..., starts], 0.0)
    out: FloatArray = np.sqrt(energy / (ends - starts))
    return out


def _boundaries(step: float, span: float, n: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Window ``j`` = samples ``[⌊j·step + ½⌋, ⌊j·step + span + ½⌋)``, every window wholly inside ``n`` samples."""
    j = np.arange(math.floor(n / step) + 2, dtype=np.float64)
    starts = np.floor(j * step + 0.5 + 1e-9).astype(np.int64)
    ends = np.floor(j * step + span + 0.5 + 1e-9).astype(np.int64)
    keep = (ends <= n) & (ends > starts)
    return starts[keep], ends[keep]


def _check(samples: npt.ArrayLike, fs: float, f_nominal: float) -> tuple[FloatArray, float]:
    x = as_samples(samples)
    fs = check_fs(fs)
    window_cycles(f_nominal)
    if fs / f_nominal < MIN_SAMPLES_PER_CYCLE:
        raise ValueError(f"fs={fs!r} Hz is too low: at least {MIN_SAMPLES_PER_CYCLE} samples per cycle of "
                         f"{f_nominal:g} Hz are needed")
    return x, fs


def rms_half_cycle(samples: npt.ArrayLike, fs: float, f_nominal: float) -> FloatArray:
    """Urms(1/2): RMS over one nominal cycle, refreshed every half cycle (IEC 61000-4-30 5.4.1; U: the number of the
    definition in clause 3 is not checked).

    Value ``j`` covers ``[j·T/2, j·T/2 + T)``, ``T = 1/f_nominal`` (module docstring: fixed grid, no zero-crossing
    detection). Only whole windows are returned: ``⌊(n - 2h)/h⌋ + 1`` values for ``n`` samples, ``h = fs/(2·f)``.
    1-D input → 1-D output; 2-D (channels × time) → (channels × values). ValueError if shorter than one cycle.
    """
    x, fs = _check(samples, fs, f_nominal)
    h = fs / (2.0 * f_nominal)
    starts, ends = _boundaries(h, 2.0 * h, x.shape[-1])
    if starts.size == 0:
        raise ValueError(f"samples: {x.shape[-1]} samples is shorter than one cycle ({2 * h:g} samples)")
    return _windowed_rms(x, starts, ends)


def rms_10_12_cycle(samples: npt.ArrayLike, fs: float, f_nominal: float) -> FloatArray:
    """RMS over contiguous, non-overlapping 10-cycle (50 Hz) / 12-cycle (60 Hz) intervals (IEC 61000-4-30 5.2.1,
    4.4: the basic measurement time interval). Value ``j`` covers ``[j·Tw, (j+1)·Tw)``, ``Tw = N/f_nominal``
    (≈ 200 ms) of the *nominal* frequency (U: the standard's interval is of the actual frequency). A trailing
    part-interval is discarded. Shapes as :func:`rms_half_cycle`.
    """
    x, fs = _check(samples, fs, f_nominal)
    span = window_cycles(f_nominal) * fs / f_nominal
    starts, ends = _boundaries(span, span, x.shape[-1])
    if starts.size == 0:
        raise ValueError(f"samples: {x.shape[-1]} samples is shorter than one {window_cycles(f_nominal)}-cycle "
                         f"interval ({span:g} samples)")
    return _windowed_rms(x, starts, ends)
