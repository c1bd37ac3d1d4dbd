"""IEC 61000-4-15 flickermeter (Ed. 2.0 2010; Amendment 1 2012 leaves blocks 1-5 unchanged as far as known here).

Pure numpy/scipy digital model of the analogue flickermeter of IEC 61000-4-15 ("Description of the instrument",
blocks 1 to 5, and the functional diagram figure of the standard).  The analogue prototypes of the standard are
discretised with the bilinear transform (scipy.signal), second-order sections throughout.

Block 1 - input voltage adaptor: the input is scaled to an internal reference level so that the result does not
    depend on the input amplitude.  The standard allows a slowly adapting gain based on the r.m.s. value of the
    input with a first-order time constant of 27.3 s (a 10 %-90 % step response of 1 min).  Here the mean square of
    the instantaneous samples is smoothed with that 27.3 s first-order low-pass (started at the mean square of the
    first second, i.e. of whole nominal cycles), and the samples are divided by sqrt(2 * mean square): the carrier
    then has unit peak value.
Block 2 - square-law demodulator: u**2.  For u = (1 + m(t)) sin(wt) the low-frequency part is 1/2 + m + m**2/2,
    so a relative voltage fluctuation dV/V (peak to peak) appears with amplitude dV/(2V).
Block 3 - weighting filters: first-order high-pass 0.05 Hz; sixth-order Butterworth low-pass 35 Hz (50 Hz systems)
    or 42 Hz (60 Hz systems) suppressing the 2 f_nominal ripple; lamp-eye-brain weighting filter

        F(s) = k w1 s / (s**2 + 2 lambda s + w1**2) * (1 + s/w2) / ((1 + s/w3)(1 + s/w4))

    with the standard's coefficients for the 230 V / 60 W and the 120 V / 60 W coiled-coil filament lamp.
Block 4 - squaring and a first-order sliding mean (low-pass) with a 300 ms time constant; the result is scaled so
    that the reference fluctuation gives a maximum instantaneous flicker sensation Pinst,max = 1.  The reference is
    the standard's sinusoidal fluctuation at 8.8 Hz (Table 1a/1b): dV/V = 0.250 % for the 230 V lamp and 0.321 % for
    the 120 V lamp.  The scale factor is computed from the actual discrete filters (their gain at 8.8 Hz and the
    ripple of the 300 ms mean at 17.6 Hz), so it is exact at every sampling rate.
Block 5 - statistical evaluation: the cumulative probability function of Pinst over the observation period, here
    by exact empirical percentiles (finer than the standard's minimum of 64 classes), the smoothed percentiles
    P0.1, P1s, P3s, P10s, P50s and Pst = sqrt(0.0314 P0.1 + 0.0525 P1s + 0.0657 P3s + 0.28 P10s + 0.08 P50s);
    Plt is the cube root of the mean of the cubes of (normally 12) successive Pst values.

Settling: the high-pass starts in its steady state for the demodulated carrier (1/2 is subtracted before it, which
changes only its start-up transient), the 27.3 s adaptor starts at the measured mean square, and all other filters
have time constants below 0.4 s.  ``pst`` therefore discards only the first ``SETTLING_S`` = 10 s (about three
high-pass time constants, 3.2 s each, plus 30 of the 300 ms smoothing time constant) of ``instantaneous_flicker``
before the statistics, so a 2-minute record gives a usable Pst over 110 s (the standard's Pst interval is 10 min).

The test points of the standard (Tables 1, 2 and 5) are checked in tests/pq/test_flicker.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import signal

__all__ = ["SETTLING_S", "instantaneous_flicker", "plt", "pst", "pst_from_instantaneous"]

SETTLING_S = 10.0
"""Start of every record discarded by :func:`pst` (filter settling), seconds."""

ADAPTOR_TIME_CONSTANT_S = 27.3
HIGH_PASS_HZ = 0.05
SMOOTHING_TIME_CONSTANT_S = 0.3
REFERENCE_FREQUENCY_HZ = 8.8

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Lamp:
    """Weighting filter coefficients of one reference lamp (frequencies in Hz) and its 8.8 Hz reference dV/V."""

    k: float
    lam_hz: float
    f1: float
    f2: float
    f3: float
    f4: float
    reference_dv_v: float


# IEC 61000-4-15 block 3 weighting filter (230 V / 60 W and 120 V / 60 W lamps); reference fluctuation at 8.8 Hz
# from Table 1a/1b (sinusoidal, Pinst,max = 1).
_LAMPS: dict[str, _Lamp] = {
    "230V": _Lamp(1.74802, 4.05981, 9.15494, 2.27979, 1.22535, 21.9, 0.250e-2),
    "120V": _Lamp(1.6357, 4.167375, 9.077169, 2.939902, 1.394468, 17.31512, 0.321e-2),
}

_LOW_PASS_HZ = {50.0: 35.0, 60.0: 42.0}

# Block 5 percentile sets (percent of time exceeded) of the smoothed percentiles.
_P1S = (0.7, 1.0, 1.5)
_P3S = (2.2, 3.0, 4.0)
_P10S = (6.0, 8.0, 10.0, 13.0, 17.0)
_P50S = (30.0, 50.0, 80.0)


def _lamp_key(lamp: str | None, f_nominal: float) -> str:
    if lamp is None:
        return "230V" if f_nominal == 50.0 else "120V"
    key = lamp.replace(" ", "").upper()
    if not key.endswith("V"):
        key += "V"
    if key not in _LAMPS:
        raise ValueError(f"lamp must be '230V' or '120V' (IEC 61000-4-15 reference lamps), not {lamp!r}")
    return key


def _check_rate(fs: float, f_nominal: float) -> float:
    if not math.isfinite(f_nominal) or float(f_nominal) not in _LOW_PASS_HZ:
        raise ValueError(f"f_nominal must be 50 or 60 Hz (IEC 61000-4-15 systems), not {f_nominal!r}")
    f_nom = float(f_nominal)
    if not math.isfinite(fs) or fs < 8.0 * f_nom:
        raise ValueError(
            f"fs = {fs!r} Hz is too low for the flickermeter filters: need fs >= 8 x f_nominal = {8.0 * f_nom:g} Hz "
            f"so that the {2.0 * f_nom:g} Hz demodulation ripple and the {_LOW_PASS_HZ[f_nom]:g} Hz low-pass lie "
            "well below the Nyquist frequency"
        )
    return f_nom


def _block3_sos(fs: float, f_nom: float, lamp: _Lamp) -> FloatArray:
    """Second-order sections of block 3: 0.05 Hz high-pass, Butterworth low-pass, lamp-eye weighting filter."""
    high_pass = signal.butter(1, HIGH_PASS_HZ, btype="highpass", fs=fs, output="sos")
    low_pass = signal.butter(6, _LOW_PASS_HZ[f_nom], btype="lowpass", fs=fs, output="sos")
    two_pi = 2.0 * math.pi
    lam, w1, w2, w3, w4 = (two_pi * f for f in (lamp.lam_hz, lamp.f1, lamp.f2, lamp.f3, lamp.f4))
    # F(s) = k w1 w3 w4 / w2 * s (s + w2) / ((s**2 + 2 lam s + w1**2)(s + w3)(s + w4))
    zeros = np.array([0.0, -w2])
    poles = np.concatenate([np.roots([1.0, 2.0 * lam, w1 * w1]), [-w3, -w4]])
    gain = lamp.k * w1 * w3 * w4 / w2
    z, p, k = signal.bilinear_zpk(zeros, poles, gain, fs)
    weighting = signal.zpk2sos(z, p, k)
    return np.asarray(np.vstack([high_pass, low_pass, weighting]), dtype=np.float64)


def _smoothing_ba(fs: float) -> tuple[FloatArray, FloatArray]:
    """Block 4 first-order sliding mean 1 / (1 + 0.3 s), bilinear transform."""
    b, a = signal.bilinear([1.0], [SMOOTHING_TIME_CONSTANT_S, 1.0], fs)
    return np.asarray(b, dtype=np.float64), np.asarray(a, dtype=np.float64)


def _scale(sos: FloatArray, b: FloatArray, a: FloatArray, fs: float, lamp: _Lamp) -> float:
    """Block 4 gain giving Pinst,max = 1 for the 8.8 Hz sinusoidal reference fluctuation of the lamp."""
    f_ref = REFERENCE_FREQUENCY_HZ
    _, h3 = signal.sosfreqz(sos, worN=[f_ref], fs=fs)
    _, h4 = signal.freqz(b, a, worN=[2.0 * f_ref], fs=fs)
    amplitude = lamp.reference_dv_v / 2.0 * abs(complex(h3[0]))  # block 3 output amplitude for the reference
    peak = amplitude**2 / 2.0 * (1.0 + abs(complex(h4[0])))  # squared: mean + 17.6 Hz ripple left by the mean
    return 1.0 / peak


def _as_record(samples: npt.ArrayLike) -> FloatArray:
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"samples must be a 1-D array of instantaneous voltages, got shape {x.shape}")
    if x.size == 0:
        raise ValueError("samples is empty: the flickermeter needs a record of instantaneous voltages")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples contains NaN or infinite values")
    return x


def instantaneous_flicker(
    samples: npt.ArrayLike, fs: float, f_nominal: float, *, lamp: str | None = None
) -> FloatArray:
    """Instantaneous flicker sensation Pinst (output of block 4, IEC 61000-4-15), one value per input sample.

    ``samples`` are instantaneous voltages (any unit: block 1 normalises), ``fs`` the sampling rate in Hz,
    ``f_nominal`` 50 or 60 Hz (selects the 35 Hz or 42 Hz low-pass), ``lamp`` '230V' or '120V' (default 230 V for
    50 Hz, 120 V for 60 Hz).  The first ``SETTLING_S`` seconds contain the filters' start-up and are not valid.
    Raises ValueError for an empty, non-1-D or non-finite record, a record of zero voltage, or too low an fs.
    """
    f_nom = _check_rate(float(fs), float(f_nominal))
    fs = float(fs)
    params = _LAMPS[_lamp_key(lamp, f_nom)]
    x = _as_record(samples)

    # Block 1: 27.3 s first-order adaptation of the mean square, started at the mean square of the first second.
    squares = x * x
    n0 = min(x.size, max(1, round(fs)))
    ms0 = float(np.mean(squares[:n0]))
    if not ms0 > 0.0:
        raise ValueError("samples start with zero voltage: block 1 cannot normalise the input")
    alpha = -math.expm1(-1.0 / (fs * ADAPTOR_TIME_CONSTANT_S))
    b_ad = np.array([alpha])
    a_ad = np.array([1.0, alpha - 1.0])
    mean_square, _ = signal.lfilter(b_ad, a_ad, squares, zi=signal.lfilter_zi(b_ad, a_ad) * ms0)
    mean_square = np.maximum(mean_square, ms0 * 1e-12)

    # Block 2: square-law demodulator (unit-peak carrier); 1/2 removed so the high-pass starts settled.
    demodulated = squares / (2.0 * mean_square) - 0.5

    # Block 3: band-pass and weighting filters.
    sos = _block3_sos(fs, f_nom, params)
    weighted = signal.sosfilt(sos, demodulated)

    # Block 4: squaring, 300 ms sliding mean, scaling to the perceptibility unit.
    b, a = _smoothing_ba(fs)
    smoothed = signal.lfilter(b, a, weighted * weighted)
    return np.asarray(smoothed * _scale(sos, b, a, fs, params), dtype=np.float64)


def pst_from_instantaneous(pinst: npt.ArrayLike) -> float:
    """Block 5: short-term flicker severity from settled Pinst values (exact percentiles of the record)."""
    p = np.asarray(pinst, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError("pinst must be a non-empty 1-D array")
    if not np.all(np.isfinite(p)):
        raise ValueError("pinst contains NaN or infinite values")
    levels = (0.1, *_P1S, *_P3S, *_P10S, *_P50S)
    # P_x is the level exceeded for x % of the observation period.
    values = dict(zip(levels, np.percentile(p, [100.0 - x for x in levels]), strict=True))

    def smoothed(keys: tuple[float, ...]) -> float:
        return float(np.mean([values[k] for k in keys]))

    total = (
        0.0314 * float(values[0.1])
        + 0.0525 * smoothed(_P1S)
        + 0.0657 * smoothed(_P3S)
        + 0.28 * smoothed(_P10S)
        + 0.08 * smoothed(_P50S)
    )
    return math.sqrt(max(total, 0.0))


def pst(samples: npt.ArrayLike, fs: float, f_nominal: float, *, lamp: str | None = None) -> float:
    """Short-term flicker severity Pst of the record (IEC 61000-4-15 block 5).

    The standard's observation period is 10 min; any record longer than ``SETTLING_S`` + 1 s is accepted, the
    first ``SETTLING_S`` seconds being discarded as filter settling.  Arguments as :func:`instantaneous_flicker`.
    """
    p = instantaneous_flicker(samples, fs, f_nominal, lamp=lamp)
    start = round(SETTLING_S * float(fs))
    if p.size < start + round(float(fs)):
        raise ValueError(
            f"record of {p.size / float(fs):.3g} s is too short: Pst needs more than {SETTLING_S:g} s of filter "
            "settling plus at least 1 s of evaluation (normally 10 min)"
        )
    return pst_from_instantaneous(p[start:])


def plt(pst_values: Sequence[float]) -> float:
    """Long-term flicker severity: cube root of the mean of the cubes of the Pst values (normally 12, i.e. 2 h)."""
    values = np.asarray(list(pst_values), dtype=np.float64)
    if values.size == 0:
        raise ValueError("plt needs at least one Pst value (normally 12 successive 10-min values)")
    if not np.all(np.isfinite(values)) or np.any(values < 0.0):
        raise ValueError("Pst values must be finite and non-negative")
    return float(np.cbrt(np.mean(values**3)))
