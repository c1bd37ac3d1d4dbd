"""Weibull MLE with right censoring and likelihood-ratio bounds, checked against hand formulas and grid searches.

The log-likelihood, the closed-form η given β and the χ²₁ quantile are written out here, not taken from the code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hil.reliability import LifeData, eta_given_beta, fit_weibull, log_likelihood

BETA, ETA, N = 1.8, 5000.0, 60
CHI2_1_90 = 1.6448536269514722**2  # χ²₁(0.90) = z(0.95)²


def loglik(beta: float, eta: float, t: np.ndarray, failed: np.ndarray) -> float:
    """ln L = Σ_failed [ln(β/η) + (β−1) ln(t/η)] − Σ_all (t/η)^β."""
    z = t / eta
    return float(np.sum(np.log(beta / eta) + (beta - 1) * np.log(z[failed])) - np.sum(z**beta))


def eta_hat(beta: float, t: np.ndarray, failed: np.ndarray) -> float:
    return float((np.sum(t**beta) / failed.sum()) ** (1 / beta))


def censored_sample(seed: int, n: int, censored_fraction: float) -> tuple[np.ndarray, np.ndarray, float]:
    """n units from Weibull(β, η), all stopped at the time by which ``censored_fraction`` survive."""
    t_stop = ETA * (-math.log(censored_fraction)) ** (1 / BETA)  # R(t_stop) = censored_fraction
    t = ETA * np.random.default_rng(seed).weibull(BETA, n)
    return np.minimum(t, t_stop), t < t_stop, t_stop


def test_recovers_beta_and_eta_within_bounds() -> None:
    t, failed, _ = censored_sample(seed=1, n=N, censored_fraction=0.30)
    assert 0.2 < 1 - failed.mean() < 0.4  # ~30 % censored, as intended
    fit = fit_weibull(LifeData.of(t, failed))
    assert fit.beta_interval[0] <= BETA <= fit.beta_interval[1]
    assert fit.eta_interval[0] <= ETA <= fit.eta_interval[1]
    b10_true = ETA * (-math.log(0.9)) ** (1 / BETA)
    assert fit.b10_interval[0] <= b10_true <= fit.b10_interval[1]
    assert fit.failures == int(failed.sum()) and fit.censored == N - int(failed.sum())


def test_heavily_censored() -> None:
    t, failed, _ = censored_sample(seed=5, n=100, censored_fraction=0.85)
    assert failed.sum() < 25
    heavy = fit_weibull(LifeData.of(t, failed))
    assert heavy.beta_interval[0] <= BETA <= heavy.beta_interval[1]
    assert heavy.eta_interval[0] <= ETA <= heavy.eta_interval[1]
    light = fit_weibull(LifeData.of(*censored_sample(seed=5, n=100, censored_fraction=0.10)[:2]))
    # fewer failures, less information: wider intervals (as a ratio, on the log scale)
    assert heavy.eta_interval[1] / heavy.eta_interval[0] > light.eta_interval[1] / light.eta_interval[0]


def test_interval_coverage_over_many_samples() -> None:
    # 90 % intervals should cover the truth ~36 times in 40; ≥ 30 is 3 standard deviations below that
    hits = np.zeros(3, dtype=int)
    b10_true = ETA * (-math.log(0.9)) ** (1 / BETA)
    for seed in range(40):
        t, failed, _ = censored_sample(seed=100 + seed, n=N, censored_fraction=0.30)
        fit = fit_weibull(LifeData.of(t, failed), confidence=0.90)
        hits += [
            fit.beta_interval[0] <= BETA <= fit.beta_interval[1],
            fit.eta_interval[0] <= ETA <= fit.eta_interval[1],
            fit.b10_interval[0] <= b10_true <= fit.b10_interval[1],
        ]
    assert all(hits >= 30), hits


def test_mle_matches_a_grid_search() -> None:
    t, failed, _ = censored_sample(seed=2, n=40, censored_fraction=0.4)
    fit = fit_weibull(LifeData.of(t, failed))
    betas = np.linspace(0.5, 4.0, 35001)  # step 1e-4
    profile = [loglik(b, eta_hat(b, t, failed), t, failed) for b in betas]
    best = int(np.argmax(profile))
    assert fit.beta == pytest.approx(betas[best], abs=2e-4)
    assert fit.eta == pytest.approx(eta_hat(fit.beta, t, failed), rel=1e-9)
    assert fit.log_likelihood == pytest.approx(loglik(fit.beta, fit.eta, t, failed), rel=1e-12)
    assert fit.log_likelihood >= max(profile) - 1e-9
    # scipy's own estimate (the starting point) agrees with the polished one
    assert fit.scipy_estimate[0] == pytest.approx(fit.beta, rel=1e-3)
    assert fit.scipy_estimate[1] == pytest.approx(fit.eta, rel=1e-3)


def test_exponential_closed_form_of_eta() -> None:
    # β = 1: η = total time on test / failures
    t = np.array([120.0, 340.0, 500.0, 500.0, 800.0, 1000.0])
    failed = np.array([True, True, False, True, False, False])
    data = LifeData.of(t, failed)
    assert eta_given_beta(1.0, data) == pytest.approx(t.sum() / 3, rel=1e-12)
    assert eta_given_beta(2.0, data) == pytest.approx(math.sqrt(np.sum(t**2) / 3), rel=1e-12)
    assert log_likelihood(1.3, 700.0, data) == pytest.approx(loglik(1.3, 700.0, t, failed), rel=1e-12)


def test_likelihood_ratio_bounds_sit_on_the_critical_level() -> None:
    t, failed, _ = censored_sample(seed=3, n=30, censored_fraction=0.3)
    fit = fit_weibull(LifeData.of(t, failed), confidence=0.90)
    l_crit = fit.log_likelihood - CHI2_1_90 / 2
    for b in fit.beta_interval:  # profile over η in closed form
        assert loglik(b, eta_hat(b, t, failed), t, failed) == pytest.approx(l_crit, abs=1e-6)
    betas = np.linspace(0.3, 6.0, 57001)
    for e in fit.eta_interval:  # profile over β by a dense grid
        best = max(loglik(b, e, t, failed) for b in betas)
        assert best == pytest.approx(l_crit, abs=1e-5)


def test_b_life_point_and_one_sided_bound() -> None:
    t, failed, _ = censored_sample(seed=4, n=50, censored_fraction=0.3)
    fit = fit_weibull(LifeData.of(t, failed), confidence=0.90)
    assert fit.b10 == pytest.approx(fit.eta * (-math.log(0.9)) ** (1 / fit.beta), rel=1e-12)
    assert fit.b_life(1.0) == pytest.approx(fit.eta * (-math.log(0.99)) ** (1 / fit.beta), rel=1e-12)
    assert fit.b_life(63.212055882855765) == pytest.approx(fit.eta, rel=1e-9)
    # one-sided 95 % lower bound = lower end of the two-sided 90 % interval
    assert fit.b_life_lower(10, 0.95) == pytest.approx(fit.b10_interval[0], rel=1e-9)
    lo, hi = fit.b_life_interval(10, 0.99)
    assert lo < fit.b10_interval[0] and hi > fit.b10_interval[1]
    assert fit.reliability(fit.b10) == pytest.approx(0.9, rel=1e-12)


def test_to_dict_is_json_ready() -> None:
    fit = fit_weibull(LifeData.of([100.0, 1000.0, 1000.0, 1000.0], [1, 0, 0, 0]))
    d = fit.to_dict()
    assert d["bounds_method"].startswith("likelihood-ratio")
    assert d["failures"] == 1 and d["censored"] == 3


@pytest.mark.parametrize(
    ("hours", "failed", "confidence", "match"),
    [
        ([100.0, 200.0], [0, 0], 0.9, "no failures"),
        ([100.0, 200.0, 300.0], [0, 0, 1], 0.9, "longest time"),
        ([100.0, 200.0], [1, 1], 1.5, "confidence must be between 0 and 1"),
        ([100.0, 200.0], [1, 1], 0.0, "confidence must be between 0 and 1"),
    ],
)
def test_fit_refuses(hours: list[float], failed: list[int], confidence: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_weibull(LifeData.of(hours, failed), confidence)


@pytest.mark.parametrize(
    ("hours", "failed", "match"),
    [
        ([100.0, -5.0], [1, 0], r"unit #2: negative hours \(-5\)"),
        ([100.0, 0.0], [1, 0], "0 hours"),
        ([100.0, math.nan], [1, 0], "finite"),
        ([100.0, 200.0], [1], "differ in length"),
        ([], [], "no units"),
    ],
)
def test_life_data_refuses(hours: list[float], failed: list[int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        LifeData.of(hours, failed)
