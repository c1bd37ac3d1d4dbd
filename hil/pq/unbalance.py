"""Supply voltage unbalance by symmetrical components (IEC 61000-4-30 Ed. 3 + A1, 5.7.1).

``U0 = (Ua + Ub + Uc)/3``, ``U1 = (Ua + a·Ub + a²·Uc)/3``, ``U2 = (Ua + a²·Ub + a·Uc)/3`` with ``a = e^{j2π/3}``
(Fortescue), evaluated on the fundamental phasors only (5.7.1: "only the fundamental component is evaluated, all
other spectral components being excluded"). Results: negative-sequence ratio ``u2 = |U2|/|U1|·100 %`` and
zero-sequence ratio ``u0 = |U0|/|U1|·100 %``. The phase order is Ua, Ub, Uc with Ub lagging Ua (positive sequence
ABC). U: 5.7.1 also gives a magnitude-only formula for u2 from the three line-to-line voltages; not implemented.
"""

from __future__ import annotations

import cmath

import numpy as np
import numpy.typing as npt

from hil.pq.harmonics import ComplexArray, as_samples, fundamental_phasors

_A = cmath.exp(2j * cmath.pi / 3)


def _phasor(name: str, value: complex) -> complex:
    try:
        z = complex(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a complex phasor, got {value!r}") from None
    if not (cmath.isfinite(z)):
        raise ValueError(f"{name} is not finite: {value!r}")
    return z


def symmetrical_components(u1: complex, u2: complex, u3: complex) -> tuple[complex, complex, complex]:
    """Zero, positive and negative sequence phasors (U0, U1, U2) of phasors Ua, Ub, Uc (IEC 61000-4-30 5.7.1)."""
    a, b, c = _phasor("u1", u1), _phasor("u2", u2), _phasor("u3", u3)
    return (a + b + c) / 3, (a + _A * b + _A * _A * c) / 3, (a + _A * _A * b + _A * c) / 3


def unbalance(u1: complex, u2: complex, u3: complex) -> tuple[float, float]:
    """``(u2 %, u0 %)``: negative- and zero-sequence unbalance of the fundamental phasors ``u1, u2, u3`` of phases
    A, B, C (IEC 61000-4-30 5.7.1). ValueError if the positive-sequence component is zero (below 1e-12 of the
    largest phasor, i.e. rounding)."""
    z0, z1, z2 = symmetrical_components(u1, u2, u3)
    scale = max(abs(complex(u1)), abs(complex(u2)), abs(complex(u3)))
    if abs(z1) <= 1e-12 * scale or scale == 0:
        raise ValueError("u1, u2, u3 have no positive-sequence component: unbalance is undefined")
    return 100.0 * abs(z2) / abs(z1), 100.0 * abs(z0) / abs(z1)


def phasors(samples_3xN: npt.ArrayLike, fs: float, f_nominal: float, per_window: bool = False) -> ComplexArray:
    """Fundamental RMS phasors of a 3 × N record from the DFT of each 10/12-cycle window (IEC 61000-4-7 4.4.1
    window; IEC 61000-4-30 5.7.1). ``per_window=False``: shape (3,), the complex mean over the windows (U: valid
    for a signal at nominal frequency; a frequency deviation rotates the phasor from window to window and the mean
    shrinks — evaluate per window then); ``True``: shape (3, windows). Phase: angle of the cosine at the window's
    first sample (:func:`hil.pq.harmonics.fundamental_phasors`).
    """
    x = as_samples(samples_3xN, "samples_3xN")
    if x.ndim != 2 or x.shape[0] != 3:
        raise ValueError(f"samples_3xN must have shape (3, N), got {x.shape}")
    z = fundamental_phasors(x, fs, f_nominal)
    if per_window:
        return z
    out: ComplexArray = np.mean(z, axis=-1)
    return out
