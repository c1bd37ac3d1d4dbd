"""Harmonic and interharmonic groups and subgroups, total harmonic distortion (IEC 61000-4-7 Ed. 2 + A1).

Method (IEC 61000-4-7 4.4.1, 5.5 / 5.6 / 5.7): the record is cut into contiguous, non-overlapping windows of exactly
``N`` nominal cycles, ``N = 10`` at 50 Hz and ``N = 12`` at 60 Hz (Tw ≈ 200 ms, 5 Hz bin spacing), rectangular
weighting, and a DFT is taken of each. The spectral components ``C_k`` are RMS values (``√2·|X_k|/M`` for
``0 < k < M/2``, ``|X_0|/M`` for DC), so bin ``k = n·N`` is harmonic order ``n``.

Synchronisation: **no frequency tracking**. The window is exactly ``N`` cycles of the *nominal* frequency
(``M = N·fs/f_nominal`` samples, which must be an integer), not of the measured power frequency as the standard
requires of a synchronised instrument (4-7 4.4.1, the ±0.03 % synchronisation tolerance). A signal whose fundamental
deviates from nominal leaks into the neighbouring bins; the groups (which sum the neighbouring bins) are the quantity
the standard designed to be robust to that, the subgroups less so.

Averaging over the record: the per-window group values are **RMS-averaged** (square root of the arithmetic mean of
the squares over all whole windows, as the aggregation of IEC 61000-4-30 4.5.2); a trailing part-window is
discarded. U: this is *not* the 1.5 s first-order smoothing filter of IEC 61000-4-7 5.5.1 (used for limit
comparison of fluctuating harmonics); it equals the 4-30 aggregation of the 10/12-cycle values over the record.
Because the groups are sums of squared bins, RMS-averaging the groups equals grouping the window-averaged power
spectrum, which is what the code does.

Clause numbers: the main clauses (3.2 harmonic groups / subgroups, 3.3 THD, 3.4 interharmonic groups, 4.4.1 window,
5.6 / 5.7 grouping) are as the brief gives them; U: the sub-clause and equation numbers (3.2.2, 3.2.4, 3.3.2, 3.3.3,
3.4.2, 3.4.3, eq. 8–11) are quoted from memory, not checked against the text.

Order 0 (DC): U — the standard defines no harmonic *group* of order 0; index 0 of :func:`harmonic_groups` and
:func:`harmonic_subgroups` is the DC component ``C_0`` alone.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]

MAX_ORDER = 50
"""Highest harmonic order evaluated (IEC 61000-4-7 scope: up to the 50th order, 4.1 / 5.6)."""


def window_cycles(f_nominal: float) -> int:
    """Nominal cycles per DFT window: 10 at 50 Hz, 12 at 60 Hz (IEC 61000-4-7 4.4.1; IEC 61000-4-30 5.2)."""
    if not isinstance(f_nominal, numbers.Real) or isinstance(f_nominal, bool) or not math.isfinite(f_nominal):
        raise ValueError(f"f_nominal must be 50 or 60 (Hz), got {f_nominal!r}")
    if f_nominal == 50:
        return 10
    if f_nominal == 60:
        return 12
    raise ValueError(f"f_nominal must be 50 or 60 (Hz), got {f_nominal!r}")


def check_fs(fs: float) -> float:
    """``fs`` as a float, or ValueError if it is not a finite positive number."""
    if isinstance(fs, bool) or not isinstance(fs, numbers.Real) or not math.isfinite(fs) or fs <= 0:
        raise ValueError(f"fs must be a finite sampling rate > 0 (Hz), got {fs!r}")
    return float(fs)


def as_samples(samples: npt.ArrayLike, name: str = "samples", *, max_ndim: int = 2) -> FloatArray:
    """``samples`` as a float64 array of 1 (one channel) or 2 (channels × time) dimensions, all finite, non-empty."""
    try:
        x = np.asarray(samples, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be an array of real numbers: {e}") from None
    if x.ndim < 1 or x.ndim > max_ndim:
        shape = "1-D (time)" if max_ndim == 1 else "1-D (time) or 2-D (channels × time)"
        raise ValueError(f"{name} must be {shape}, got shape {x.shape}")
    if x.size == 0 or x.shape[-1] == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def window_length(fs: float, f_nominal: float) -> int:
    """Samples in one 10/12-cycle window, ``N·fs/f_nominal``; ValueError unless it is an integer (synchronised)."""
    m_exact = window_cycles(f_nominal) * check_fs(fs) / f_nominal
    m = round(m_exact)
    if m < 1 or abs(m_exact - m) > 1e-6 * max(1.0, m_exact):
        raise ValueError(f"fs={fs!r} Hz gives {m_exact:g} samples per {window_cycles(f_nominal)}-cycle window: "
                         "the window must hold a whole number of samples (fs a multiple of 5 Hz)")
    return m


def spectrum_rms(samples: npt.ArrayLike, fs: float, f_nominal: float) -> FloatArray:
    """RMS spectral components ``C_k`` of every 10/12-cycle window (IEC 61000-4-7 3.1, 4.4.1).

    Returns shape ``(windows, M//2 + 1)`` for 1-D input, ``(channels, windows, M//2 + 1)`` for 2-D; bin spacing
    ``f_nominal / N`` = 5 Hz. Rectangular window, no frequency tracking (see the module docstring).
    """
    x = as_samples(samples)
    m = window_length(fs, f_nominal)
    w = x.shape[-1] // m
    if w == 0:
        raise ValueError(f"samples: {x.shape[-1]} samples is shorter than one {window_cycles(f_nominal)}-cycle "
                         f"window ({m} samples at fs={fs!r} Hz)")
    frames = x[..., : w * m].reshape(*x.shape[:-1], w, m)
    c = np.abs(np.fft.rfft(frames, axis=-1)) * (math.sqrt(2.0) / m)
    c[..., 0] /= math.sqrt(2.0)
    if m % 2 == 0:
        c[..., -1] /= math.sqrt(2.0)  # the Nyquist bin has no mirror
    return c


def _mean_power(samples: npt.ArrayLike, fs: float, f_nominal: float, top_bin: int, what: str) -> FloatArray:
    """Window-averaged ``C_k²`` (…, bins), after checking that bin ``top_bin`` lies below Nyquist."""
    m = window_length(fs, f_nominal)
    if top_bin >= m / 2:
        f_top = top_bin * f_nominal / window_cycles(f_nominal)
        raise ValueError(f"fs={fs!r} Hz is too low for {what}: the DFT bins up to {f_top:g} Hz are needed, "
                         f"which requires fs > {2 * f_top:g} Hz")
    c = spectrum_rms(samples, fs, f_nominal)
    p: FloatArray = np.mean(c * c, axis=-2)
    return p


def _check_order(max_order: int, lowest: int = 0) -> int:
    ok = not isinstance(max_order, bool) and isinstance(max_order, int | np.integer)
    if not ok or not lowest <= max_order <= MAX_ORDER:
        raise ValueError(f"max_order must be an integer {lowest}…{MAX_ORDER}, got {max_order!r}")
    return int(max_order)


def _apply(p: FloatArray, weights: FloatArray) -> FloatArray:
    out: FloatArray = np.sqrt(p[..., : weights.shape[1]] @ weights.T)
    return out


def _group_weights(n_cyc: int, max_order: int) -> FloatArray:
    half = n_cyc // 2
    wts = np.zeros((max_order + 1, max_order * n_cyc + half + 1))
    wts[0, 0] = 1.0
    for n in range(1, max_order + 1):
        k = n * n_cyc
        wts[n, k - half + 1 : k + half] = 1.0
        wts[n, k - half] = wts[n, k + half] = 0.5
    return wts


def harmonic_groups(samples: npt.ArrayLike, fs: float, f_nominal: float, max_order: int = MAX_ORDER) -> FloatArray:
    """RMS of each harmonic group ``G_g,n``, index = order 0…``max_order`` (IEC 61000-4-7 3.2.2, 5.6, eq. 8).

    At 50 Hz (``k = 10·n``): ``G²_g,n = C²_{k-5}/2 + Σ_{i=-4..4} C²_{k+i} + C²_{k+5}/2``; at 60 Hz (``k = 12·n``) the
    same with ±6 / ±5. The two edge bins are shared half-and-half with the neighbouring groups, so the harmonic
    groups tile the whole spectrum: an interharmonic tone also counts in the harmonic group whose ±f1/2 band holds it
    (e.g. 285 Hz at 50 Hz is in group 6, bins 55…65). Index 0 is the DC component alone (U, module docstring).
    RMS-averaged over all whole windows of the record. 1-D input → shape ``(max_order+1,)``; 2-D → per channel.
    """
    n_cyc = window_cycles(f_nominal)
    max_order = _check_order(max_order)
    p = _mean_power(samples, fs, f_nominal, max_order * n_cyc + n_cyc // 2, f"harmonic groups up to order {max_order}")
    return _apply(p, _group_weights(n_cyc, max_order))


def harmonic_subgroups(samples: npt.ArrayLike, fs: float, f_nominal: float, max_order: int = MAX_ORDER) -> FloatArray:
    """RMS of each harmonic subgroup ``G_sg,n = √(Σ_{i=-1..1} C²_{k+i})``, order 0…``max_order`` (IEC 61000-4-7
    3.2.4, 5.6, eq. 9): the bin at ``n·f1`` and its two neighbours. Index 0 is the DC component alone (U).
    RMS-averaged over the record, shapes as :func:`harmonic_groups`.
    """
    n_cyc = window_cycles(f_nominal)
    max_order = _check_order(max_order)
    p = _mean_power(samples, fs, f_nominal, max_order * n_cyc + 1, f"harmonic subgroups up to order {max_order}")
    wts = np.zeros((max_order + 1, max_order * n_cyc + 2))
    wts[0, 0] = 1.0
    for n in range(1, max_order + 1):
        wts[n, n * n_cyc - 1 : n * n_cyc + 2] = 1.0
    return _apply(p, wts)


def _interharmonic(samples: npt.ArrayLike, fs: float, f_nominal: float, max_order: int, skip: int,
                   what: str) -> FloatArray:
    n_cyc = window_cycles(f_nominal)
    max_order = _check_order(max_order)
    top = (max_order + 1) * n_cyc - skip
    p = _mean_power(samples, fs, f_nominal, top, f"{what} up to order {max_order}")
    wts = np.zeros((max_order + 1, top + 1))
    for n in range(max_order + 1):
        wts[n, n * n_cyc + skip : (n + 1) * n_cyc - skip + 1] = 1.0
    return _apply(p, wts)


def interharmonic_groups(samples: npt.ArrayLike, fs: float, f_nominal: float,
                         max_order: int = MAX_ORDER) -> FloatArray:
    """RMS of each interharmonic group ``C_ig,n``: all the bins strictly between harmonic orders ``n`` and ``n+1``
    (IEC 61000-4-7 3.4.2, 5.7, eq. 10): ``C²_ig,n = Σ_{i=1..N-1} C²_{n·N+i}``, ``N`` = 10 (50 Hz) / 12 (60 Hz).

    Index ``n`` = 0…``max_order`` names the group above order ``n`` (index 0: between DC and the fundamental).
    U: the standard's label for the group between orders n and n+1 (``n`` here; some texts write ``n + ½``).
    RMS-averaged over the record, shapes as :func:`harmonic_groups`.
    """
    return _interharmonic(samples, fs, f_nominal, max_order, 1, "interharmonic groups")


def interharmonic_centred_subgroups(samples: npt.ArrayLike, fs: float, f_nominal: float,
                                    max_order: int = MAX_ORDER) -> FloatArray:
    """RMS of each interharmonic centred subgroup ``C_isg,n``: the interharmonic group less the two bins adjacent
    to the harmonics (IEC 61000-4-7 3.4.3, 5.7, eq. 11): ``C²_isg,n = Σ_{i=2..N-2} C²_{n·N+i}``.

    Index and averaging as :func:`interharmonic_groups`.
    """
    return _interharmonic(samples, fs, f_nominal, max_order, 2, "interharmonic centred subgroups")


def thd_from_groups(values: npt.ArrayLike, max_order: int = 40) -> float:
    """Total harmonic distortion in percent from an array indexed by order (groups or subgroups, index 1 the
    fundamental): ``100·√(Σ_{n=2..H} Y²_n) / Y_1`` (IEC 61000-4-7 3.3.2 THDG / 3.3.3 THDS, ``H = max_order``)."""
    y = as_samples(values, "values", max_ndim=1)
    max_order = _check_order(max_order, 2)
    if y.shape[0] < max_order + 1:
        raise ValueError(f"values holds orders 0…{y.shape[0] - 1}, max_order={max_order} needs 0…{max_order}")
    if y[1] <= 0:
        raise ValueError("values: the fundamental (index 1) is zero; THD is undefined")
    return float(100.0 * math.sqrt(float(np.sum(y[2 : max_order + 1] ** 2))) / y[1])


def thd(samples: npt.ArrayLike, fs: float, f_nominal: float, max_order: int = 40, groups: bool = True) -> float:
    """Total harmonic distortion, percent of the fundamental, of one channel (IEC 61000-4-7 3.3).

    ``groups=True``: THDG, group-based, ``100·√(Σ_{n=2..H} G²_g,n) / G_g,1`` (3.3.2); ``groups=False``: THDS,
    subgroup-based (3.3.3). ``H = max_order``, 40 by default (the standard's default H; U: 50 where a product
    standard asks for it). Computed from the record's RMS-averaged groups (not a mean of per-window THDs).
    Note that THDG counts interharmonic content near each harmonic (the groups tile the spectrum).
    """
    as_samples(samples, max_ndim=1)
    max_order = _check_order(max_order, 2)
    fn = harmonic_groups if groups else harmonic_subgroups
    return thd_from_groups(fn(samples, fs, f_nominal, max_order), max_order)


def fundamental_phasors(samples: npt.ArrayLike, fs: float, f_nominal: float) -> ComplexArray:
    """Complex RMS phasor of the fundamental (bin ``N``) of every 10/12-cycle window: shape (…, windows).

    Phase convention: angle of the cosine, ``x = √2·|U|·cos(2π·f1·t + arg U)`` with t = 0 at the window's first
    sample; synchronised to the nominal frequency (no tracking, module docstring).
    """
    x = as_samples(samples)
    m = window_length(fs, f_nominal)
    n_cyc = window_cycles(f_nominal)
    if n_cyc >= m / 2:
        raise ValueError(f"fs={fs!r} Hz is too low to resolve the fundamental")
    w = x.shape[-1] // m
    if w == 0:
        raise ValueError(f"samples: {x.shape[-1]} samples is shorter than one {n_cyc}-cycle window ({m} samples)")
    frames = x[..., : w * m].reshape(*x.shape[:-1], w, m)
    t = np.arange(m)
    kernel = np.exp(-2j * np.pi * n_cyc * t / m)
    out: ComplexArray = (frames @ kernel) * (math.sqrt(2.0) / m)
    return out
