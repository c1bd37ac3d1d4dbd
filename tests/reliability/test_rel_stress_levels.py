"""β across stress levels (IEC 62059-31-1 style): the likelihood-ratio test of equal shapes.

The common-β log-likelihood is found here by a grid search with the hand formula, and the χ²₁ p-value by
erfc (P(χ²₁ > x) = erfc(√(x/2))), independently of the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hil.reliability import LifeData, compare_shapes


def level(seed: int, beta: float, eta: float, n: int = 80, survive: float = 0.2) -> LifeData:
    t_stop = eta * (-math.log(survive)) ** (1 / beta)
    t = eta * np.random.default_rng(seed).weibull(beta, n)
    return LifeData.of(np.minimum(t, t_stop), t < t_stop)


def profile(beta: float, d: LifeData) -> float:
    """max over η of ln L at this β: η = (Σ t^β / r)^(1/β)."""
    t, f = d.hours, d.failed
    eta = (np.sum(t**beta) / f.sum()) ** (1 / beta)
    z = t / eta
    return float(np.sum(np.log(beta / eta) + (beta - 1) * np.log(z[f])) - np.sum(z**beta))


def test_same_beta_is_not_rejected() -> None:
    levels = {"85C/85%": level(11, 2.0, 1500.0), "70C/85%": level(12, 2.0, 4000.0)}
    cmp = compare_shapes(levels)
    assert cmp.p_value > 0.05 and cmp.shapes_consistent
    assert cmp.dof == 1
    for name, fit in cmp.fits.items():
        assert fit.beta_interval[0] <= 2.0 <= fit.beta_interval[1], name
    assert "plausible" in cmp.verdict


def test_different_beta_is_rejected() -> None:
    cmp = compare_shapes({"low": level(21, 1.2, 3000.0), "high": level(22, 3.5, 3000.0)})
    assert cmp.p_value < 0.001
    assert not cmp.shapes_consistent
    assert "failure mechanism" in cmp.verdict


def test_statistic_and_p_value_by_hand() -> None:
    levels = {"a": level(31, 1.5, 2000.0, n=40), "b": level(32, 2.5, 2000.0, n=40)}
    cmp = compare_shapes(levels)
    betas = np.linspace(0.8, 4.0, 32001)
    common = max(sum(profile(b, d) for d in levels.values()) for b in betas)
    separate = sum(max(profile(b, d) for b in betas) for d in levels.values())
    statistic = 2 * (separate - common)
    assert cmp.statistic == pytest.approx(statistic, abs=1e-5)
    assert cmp.p_value == pytest.approx(math.erfc(math.sqrt(cmp.statistic / 2)), rel=1e-9)
    assert cmp.common_beta_interval[0] < cmp.common_beta < cmp.common_beta_interval[1]


def test_three_levels_use_two_dof() -> None:
    levels = {f"L{i}": level(40 + i, 2.0, 1000.0 * (i + 1), n=30) for i in range(3)}
    cmp = compare_shapes(levels)
    assert cmp.dof == 2
    assert cmp.p_value == pytest.approx(math.exp(-cmp.statistic / 2), rel=1e-9)  # χ²₂ survival: e^(−x/2)
    assert set(cmp.to_dict()["levels"]) == {"L0", "L1", "L2"}


def test_needs_two_levels_and_failures() -> None:
    with pytest.raises(ValueError, match="at least 2 stress levels"):
        compare_shapes({"only": level(1, 2.0, 1000.0)})
    with pytest.raises(ValueError, match="stress level 'dead': no failures"):
        compare_shapes({"ok": level(1, 2.0, 1000.0), "dead": LifeData.of([10.0, 10.0], [0, 0])})
    with pytest.raises(ValueError, match="alpha"):
        compare_shapes({"a": level(1, 2.0, 1000.0), "b": level(2, 2.0, 1000.0)}, alpha=5)
