"""Profile log-likelihoods of the 2-parameter Weibull with right censoring (package-internal).

With a = −β·ln η the log-likelihood ℓ(β, a) = r·ln β + (β − 1)·Σ_failed ln tᵢ + r·a − Σ_all exp(β·ln tᵢ + a) is
jointly concave in (β, a); every profile here holds a line a = ln c − β·x, so it is a 1-D concave problem solved
by a bracketed root of its score (see :mod:`hil.reliability.weibull`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import optimize, stats
from scipy.special import logsumexp

from hil.reliability.lifedata import LifeData

_EXP_CAP = 700.0  # exp() argument cap: keeps far-off bracket ends finite; never reached near a root


class Profiles:
    """The concave profile log-likelihoods of one data set (see the module docstring)."""

    def __init__(self, data: LifeData) -> None:
        self.lt = np.log(data.hours)
        self.r = data.failures
        self.s = float(self.lt[data.failed].sum())

    def loglik(self, beta: float, a: float) -> float:
        return float(
            self.r * math.log(beta) + (beta - 1) * self.s + self.r * a
            - np.exp(np.minimum(beta * self.lt + a, _EXP_CAP)).sum()
        )

    # profile over η (closed form) at fixed β
    def a_of_beta(self, beta: float) -> float:
        return math.log(self.r) - float(logsumexp(beta * self.lt))

    def at_beta(self, beta: float) -> float:
        return self.loglik(beta, self.a_of_beta(beta))

    def score_beta(self, beta: float) -> float:
        w = np.exp(beta * self.lt - logsumexp(beta * self.lt))
        return self.r / beta - self.r * float((w * self.lt).sum()) + self.s

    def beta_hat(self, start: float) -> float:
        return root_decreasing(self.score_beta, start)

    # profile over β with a = ln c − β·x held (x = ln η, c = 1; x = ln B_p, c = −ln(1 − p))
    def beta_on_line(self, x: float, lnc: float, start: float) -> float:
        y = self.lt - x
        fail_sum = self.s - self.r * x

        def score(beta: float) -> float:
            return float(self.r / beta + fail_sum - (np.exp(np.minimum(beta * y + lnc, _EXP_CAP)) * y).sum())

        return root_decreasing(score, start)

    def on_line(self, x: float, lnc: float, start: float) -> float:
        beta = self.beta_on_line(x, lnc, start)
        return self.loglik(beta, lnc - beta * x)


def root_decreasing(f: Callable[[float], float], start: float) -> float:
    """Root in β > 0 of a strictly decreasing ``f`` (+∞ at 0⁺), bracketed by doubling/halving from ``start``."""
    lo = hi = start
    if f(start) > 0:
        while f(hi) > 0:
            lo, hi = hi, hi * 2.0
            if hi > 1e6:
                raise ValueError("the shape parameter β is not determined by these data (it grows without bound)")
    else:
        while f(lo) <= 0:
            hi, lo = lo, lo / 2.0
            if lo < 1e-8:
                raise ValueError("the shape parameter β is not determined by these data (it tends to 0)")
    return float(optimize.brentq(f, lo, hi, xtol=1e-14, rtol=1e-13))


def lr_interval(profile: Callable[[float], float], x_hat: float, l_crit: float) -> tuple[float, float]:
    """Both ends of {x : profile(x) ≥ l_crit} around ``x_hat`` (a log quantity); ±inf if not reached."""
    ends = []
    for sign in (-1.0, 1.0):
        step, inner, outer = 0.02, x_hat, None
        while step < 64.0:
            x = x_hat + sign * step
            if profile(x) < l_crit:
                outer = x
                break
            inner, step = x, step * 2.0
        if outer is None:
            ends.append(sign * math.inf)
        else:
            a, b = sorted((inner, outer))
            ends.append(float(optimize.brentq(lambda v: profile(v) - l_crit, a, b, xtol=1e-12)))
    return ends[0], ends[1]


def critical(confidence: float) -> float:
    """Half the χ²₁ quantile: the log-likelihood drop that bounds a two-sided interval at ``confidence``."""
    return float(stats.chi2.ppf(confidence, 1)) / 2.0
