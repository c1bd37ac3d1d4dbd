"""Two-parameter Weibull analysis of life data with right censoring (IEC 61649).

Model: F(t) = 1 − exp[−(t/η)^β], shape β, scale η (characteristic life, 63.2 % failed), location 0.
β < 1: early failures (infant mortality, what screening removes); β ≈ 1: random failures; β > 1: wear-out.

Estimation: maximum likelihood with censored units (IEC 61649 §7.2). The estimate comes from
``scipy.stats.weibull_min.fit(CensoredData(...), floc=0)`` and is then polished by solving the profile score
equation (below), so that the likelihood-ratio bounds are measured from the true maximum rather than from where
scipy's general-purpose optimiser stopped.

Confidence bounds: **likelihood-ratio** (profile likelihood) bounds, IEC 61649 §7.2.3 / Meeker & Escobar §8.3. A
two-sided interval at confidence CL holds every value x of the quantity with 2·[ℓ_max − ℓ*(x)] ≤ χ²₁(CL), ℓ*(x)
the log-likelihood maximised over the other parameter with x held. LR bounds are used instead of Fisher-matrix
bounds because they keep their coverage with few failures and heavy censoring, where the Fisher-matrix normal
approximation is too narrow. A one-sided bound at CL is the matching end of the two-sided interval at 2·CL − 1.

Numerics: with a = −β·ln η the log-likelihood

    ℓ(β, a) = r·ln β + (β − 1)·Σ_failed ln tᵢ + r·a − Σ_all exp(β·ln tᵢ + a)

is jointly concave in (β, a). Every profile used here holds a line a = ln c − β·x fixed (x = ln η with c = 1;
x = ln B_p with c = −ln(1 − p)), so each profile is a 1-D concave maximisation solved by a bracketed root of
its score, and each confidence set is an interval.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from scipy.special import logsumexp

from hil.reliability._check import positive, probability
from hil.reliability._likelihood import Profiles, critical, lr_interval
from hil.reliability.lifedata import LifeData

DEFAULT_CONFIDENCE = 0.90
BOUNDS_METHOD = "likelihood-ratio (profile likelihood), two-sided"


def log_likelihood(beta: float, eta: float, data: LifeData) -> float:
    """Weibull log-likelihood with right censoring: Σ_failed ln f(tᵢ) + Σ_censored ln R(tᵢ), t in hours."""
    b, e = positive("beta", beta), positive("eta", eta)
    z = np.log(data.hours / e)
    return float(
        data.failures * (math.log(b) - math.log(e)) + (b - 1.0) * z[data.failed].sum() - np.exp(b * z).sum()
    )


def eta_given_beta(beta: float, data: LifeData) -> float:
    """Closed-form MLE of η for a fixed β: η = (Σ_all tᵢ^β / r)^(1/β) (IEC 61649 §7.2.2)."""
    b = positive("beta", beta)
    if data.failures == 0:
        raise ValueError("no failures: η cannot be estimated")
    return math.exp((float(logsumexp(b * np.log(data.hours))) - math.log(data.failures)) / b)


def _b_life(beta: float, eta: float, percent: float) -> float:
    p = probability("B-life fraction", percent / 100.0)
    return eta * float((-math.log1p(-p)) ** (1.0 / beta))


def _b_life_interval(
    prof: Profiles, beta: float, eta: float, l_max: float, percent: float, confidence: float
) -> tuple[float, float]:
    lnc = math.log(-math.log1p(-percent / 100.0))
    x_hat = math.log(_b_life(beta, eta, percent))
    lo, hi = lr_interval(lambda x: prof.on_line(x, lnc, beta), x_hat, l_max - critical(confidence))
    return math.exp(lo), math.exp(hi)


@dataclass(frozen=True, eq=False)
class WeibullFit:
    """Maximum-likelihood Weibull fit with likelihood-ratio bounds; intervals are two-sided at ``confidence``."""

    beta: float
    eta: float
    log_likelihood: float
    confidence: float
    beta_interval: tuple[float, float]
    eta_interval: tuple[float, float]
    b10: float
    b10_interval: tuple[float, float]
    data: LifeData = field(repr=False)
    scipy_estimate: tuple[float, float] = field(repr=False)
    bounds_method: str = BOUNDS_METHOD

    @property
    def n(self) -> int:
        return self.data.n

    @property
    def failures(self) -> int:
        return self.data.failures

    @property
    def censored(self) -> int:
        return self.data.censored

    def reliability(self, hours: float) -> float:
        """R(t) = exp[−(t/η)^β]."""
        return math.exp(-((max(hours, 0.0) / self.eta) ** self.beta))

    def b_life(self, percent: float) -> float:
        """B_p life: hours by which ``percent`` % of units have failed, η·[−ln(1 − p)]^(1/β)."""
        return _b_life(self.beta, self.eta, percent)

    def b_life_interval(self, percent: float, confidence: float | None = None) -> tuple[float, float]:
        """Two-sided likelihood-ratio interval of the B_p life at ``confidence`` (default: the fit's)."""
        cl = probability("confidence", self.confidence if confidence is None else confidence)
        return _b_life_interval(Profiles(self.data), self.beta, self.eta, self.log_likelihood, percent, cl)

    def b_life_lower(self, percent: float, confidence: float | None = None) -> float:
        """One-sided lower confidence bound of the B_p life (the lower end of the two-sided 2·CL − 1 interval)."""
        cl = probability("confidence", self.confidence if confidence is None else confidence)
        if cl <= 0.5:
            raise ValueError(f"a one-sided bound needs confidence > 0.5, got {cl}")
        return self.b_life_interval(percent, 2.0 * cl - 1.0)[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (infinite bounds become None)."""

        def num(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "model": "Weibull 2-parameter (location 0)",
            "method": "maximum likelihood with right censoring (scipy.stats.weibull_min.fit, polished)",
            "bounds_method": self.bounds_method,
            "confidence": self.confidence,
            "units": self.n,
            "failures": self.failures,
            "censored": self.censored,
            "beta": self.beta,
            "beta_interval": [num(x) for x in self.beta_interval],
            "eta_hours": self.eta,
            "eta_interval_hours": [num(x) for x in self.eta_interval],
            "b10_hours": self.b10,
            "b10_interval_hours": [num(x) for x in self.b10_interval],
            "log_likelihood": self.log_likelihood,
        }


def _scipy_estimate(data: LifeData) -> tuple[float, float]:
    """scipy's censored MLE (shape, scale); NaN if its optimiser gives up (the polish then starts from β = 1)."""
    censored = stats.CensoredData(uncensored=data.hours[data.failed], right=data.hours[~data.failed])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            c, _, scale = stats.weibull_min.fit(censored, floc=0)
        except (ValueError, RuntimeError, FloatingPointError):
            return math.nan, math.nan
    return float(c), float(scale)


def fit_weibull(data: LifeData, confidence: float = DEFAULT_CONFIDENCE) -> WeibullFit:
    """Fit β and η by maximum likelihood (right censoring allowed) with two-sided LR bounds at ``confidence``.

    Needs at least one failure, and the data must determine β: if every failure is at the longest time on test
    (no unit outlived a failure), the likelihood grows without bound in β and a ``ValueError`` says so.
    """
    cl = probability("confidence", confidence)
    if data.failures == 0:
        raise ValueError(f"no failures among {data.n} units: a Weibull fit needs at least one failure")
    if np.all(data.hours[data.failed] == data.hours.max()):
        raise ValueError(
            "every failure is at the longest time on test: the data do not determine β (it grows without bound)"
        )
    scipy_c, scipy_scale = _scipy_estimate(data)
    prof = Profiles(data)
    start = scipy_c if math.isfinite(scipy_c) and 1e-3 < scipy_c < 1e3 else 1.0
    beta = prof.beta_hat(start)
    eta = math.exp(-prof.a_of_beta(beta) / beta)
    l_max = prof.at_beta(beta)
    l_crit = l_max - critical(cl)
    lb_lo, lb_hi = lr_interval(lambda x: prof.at_beta(math.exp(x)), math.log(beta), l_crit)
    le_lo, le_hi = lr_interval(lambda x: prof.on_line(x, 0.0, beta), math.log(eta), l_crit)
    return WeibullFit(
        beta=beta, eta=eta, log_likelihood=l_max, confidence=cl,
        beta_interval=(math.exp(lb_lo), math.exp(lb_hi)), eta_interval=(math.exp(le_lo), math.exp(le_hi)),
        b10=_b_life(beta, eta, 10.0), b10_interval=_b_life_interval(prof, beta, eta, l_max, 10.0, cl),
        data=data, scipy_estimate=(scipy_c, scipy_scale),
    )
