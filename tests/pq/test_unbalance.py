"""hil.pq.unbalance against the symmetrical-component formulas by hand (IEC 61000-4-30 Ed. 3 + A1, 5.7.1).

One phase at 90 %: Ua = 0.9·U, Ub = U∠-120°, Uc = U∠+120°. With a = e^{j120°}:
U1 = (0.9 + a·a² + a²·a)·U/3 = 2.9·U/3; U2 = (0.9 + a²·a² + a·a)·U/3 = (0.9 + a + a²)·U/3 = -0.1·U/3;
U0 = (0.9 + a² + a)·U/3 = -0.1·U/3. So u2 = u0 = 0.1 / 2.9 · 100 %.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest

from hil.pq import phasors, symmetrical_components, unbalance

V = 230.0
FS = 10_000.0


def _polar(mag: float, deg: float) -> complex:
    return cmath.rect(mag, math.radians(deg))


def test_balanced_set_has_no_unbalance() -> None:
    u2, u0 = unbalance(_polar(V, 10), _polar(V, -110), _polar(V, 130))
    assert u2 == pytest.approx(0.0, abs=1e-12) and u0 == pytest.approx(0.0, abs=1e-12)


def test_one_phase_at_90_percent() -> None:
    u2, u0 = unbalance(0.9 * V, _polar(V, -120), _polar(V, 120))
    assert u2 == pytest.approx(0.1 / 2.9 * 100, rel=1e-12)
    assert u0 == pytest.approx(0.1 / 2.9 * 100, rel=1e-12)
    z0, z1, z2 = symmetrical_components(0.9 * V, _polar(V, -120), _polar(V, 120))
    assert z1 == pytest.approx(2.9 * V / 3) and z2 == pytest.approx(-0.1 * V / 3) and z0 == pytest.approx(-0.1 * V / 3)


def test_negative_sequence_only_and_zero_sequence_only() -> None:
    # ACB order on top of ABC: U1 = U, U2 = 0.02·U  ->  u2 = 2 %
    a, b, c = (_polar(V, d) + _polar(0.02 * V, -d) for d in (0, -120, 120))
    u2, u0 = unbalance(a, b, c)
    assert u2 == pytest.approx(2.0, rel=1e-12) and u0 == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="no positive-sequence component"):
        unbalance(V, V, V)


def test_phasors_from_samples_then_unbalance() -> None:
    t = np.arange(4000) / FS  # 20 cycles = two 10-cycle windows
    w = 2 * np.pi * 50
    x = np.vstack([math.sqrt(2) * 0.9 * V * np.cos(w * t),
                   math.sqrt(2) * V * np.cos(w * t - 2 * np.pi / 3),
                   math.sqrt(2) * V * np.cos(w * t + 2 * np.pi / 3)])
    # a 7 % 5th harmonic on phase A must not change the fundamental phasors (5.7.1: fundamental only)
    x[0] += math.sqrt(2) * 0.07 * V * np.cos(5 * w * t)
    p = phasors(x, FS, 50.0)
    np.testing.assert_allclose(p, [0.9 * V, _polar(V, -120), _polar(V, 120)], rtol=1e-9)
    assert phasors(x, FS, 50.0, per_window=True).shape == (3, 2)
    u2, u0 = unbalance(*p)
    assert u2 == pytest.approx(0.1 / 2.9 * 100, rel=1e-9) and u0 == pytest.approx(0.1 / 2.9 * 100, rel=1e-9)


def test_phasors_60_hz() -> None:
    t = np.arange(2000) / FS  # 12 cycles at 60 Hz
    phases = (0.3, 0.3 - 2 * np.pi / 3, 0.3 + 2 * np.pi / 3)
    x = np.vstack([math.sqrt(2) * V * np.cos(2 * np.pi * 60 * t + ph) for ph in phases])
    p = phasors(x, FS, 60.0)
    np.testing.assert_allclose(np.abs(p), V, rtol=1e-9)
    assert cmath.phase(p[0]) == pytest.approx(0.3)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"samples_3xN must have shape \(3, N\)"):
        phasors(np.zeros((2, 4000)), FS, 50.0)
    with pytest.raises(ValueError, match="samples_3xN must have shape"):
        phasors(np.zeros(4000), FS, 50.0)
    with pytest.raises(ValueError, match="samples_3xN contains NaN"):
        phasors(np.full((3, 4000), np.nan), FS, 50.0)
    with pytest.raises(ValueError, match="shorter than one 10-cycle window"):
        phasors(np.zeros((3, 100)), FS, 50.0)
    with pytest.raises(ValueError, match="u2 is not finite"):
        unbalance(V, complex(math.nan, 0), V)
    with pytest.raises(ValueError, match="u3 must be a complex phasor"):
        unbalance(V, V, "x")  # type: ignore[arg-type]
