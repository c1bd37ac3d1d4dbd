"""Comparison of the Weibull shape β across stress levels (IEC 62059-31-1 style accelerated testing).

IEC 62059-31-1 tests meters at several elevated temperature/humidity levels, fits a Weibull distribution per
level and checks that β (and the failure mode) does not change between levels: acceleration may change the time
scale η but not the shape. A changed β suggests that the stress brought in a different failure mechanism, and
then extrapolating from the high levels to use conditions is not valid.

Test (likelihood ratio, Nelson "Accelerated Testing" ch. 9 §2): the full model has its own (βᵢ, ηᵢ) per level,
the reduced model one common β with its own ηᵢ per level. 2·[Σ ℓᵢ(β̂ᵢ, η̂ᵢ) − Σ ℓᵢ(β̂, η̂ᵢ(β̂))] is χ² with
(levels − 1) degrees of freedom when the shapes are equal; a small p-value says they are not. With few failures
per level the test is approximate (the MLE of β is biased upward in small samples).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scipy import stats

from hil.reliability._check import probability
from hil.reliability._likelihood import Profiles, critical, lr_interval, root_decreasing
from hil.reliability.lifedata import LifeData
from hil.reliability.weibull import DEFAULT_CONFIDENCE, WeibullFit, fit_weibull

DEFAULT_ALPHA = 0.05


@dataclass(frozen=True, eq=False)
class ShapeComparison:
    """Per-level fits, the common-β fit and the likelihood-ratio test of equal shapes."""

    fits: dict[str, WeibullFit]
    common_beta: float
    common_beta_interval: tuple[float, float]
    common_etas: dict[str, float]  # η of each level under the common β
    statistic: float  # 2·(ℓ_separate − ℓ_common)
    dof: int
    p_value: float
    alpha: float
    confidence: float

    @property
    def shapes_consistent(self) -> bool:
        """True if a common β is plausible at significance ``alpha`` (p-value ≥ alpha)."""
        return self.p_value >= self.alpha

    @property
    def verdict(self) -> str:
        if self.shapes_consistent:
            return (f"a common β is plausible (p = {self.p_value:.3g} ≥ {self.alpha:g}): no sign of a changed "
                    "failure mechanism between levels")
        return (f"β differs between levels (p = {self.p_value:.3g} < {self.alpha:g}): the failure mechanism may "
                "have changed with the stress; do not extrapolate across these levels")

    def to_dict(self) -> dict[str, Any]:
        return {
            "levels": {name: fit.to_dict() for name, fit in self.fits.items()},
            "common_beta": self.common_beta,
            "common_beta_interval": list(self.common_beta_interval),
            "common_eta_hours": dict(self.common_etas),
            "test": "likelihood ratio, equal Weibull shapes",
            "statistic": self.statistic,
            "dof": self.dof,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "shapes_consistent": self.shapes_consistent,
            "verdict": self.verdict,
        }


def compare_shapes(
    levels: Mapping[str, LifeData], *, confidence: float = DEFAULT_CONFIDENCE, alpha: float = DEFAULT_ALPHA
) -> ShapeComparison:
    """Fit each stress level and test whether one β fits all (χ² with levels − 1 dof)."""
    cl = probability("confidence", confidence)
    a = probability("significance alpha", alpha)
    if len(levels) < 2:
        raise ValueError(f"comparing shapes needs at least 2 stress levels, got {len(levels)}")
    fits: dict[str, WeibullFit] = {}
    for name, data in levels.items():
        try:
            fits[name] = fit_weibull(data, cl)
        except ValueError as exc:
            raise ValueError(f"stress level {name!r}: {exc}") from exc
    profiles = {name: Profiles(data) for name, data in levels.items()}

    def common_loglik(beta: float) -> float:
        return sum(p.at_beta(beta) for p in profiles.values())

    start = math.exp(sum(math.log(f.beta) for f in fits.values()) / len(fits))
    beta = root_decreasing(lambda b: sum(p.score_beta(b) for p in profiles.values()), start)
    l_common = common_loglik(beta)
    l_separate = sum(f.log_likelihood for f in fits.values())
    statistic = max(0.0, 2.0 * (l_separate - l_common))  # ≥ 0 in exact arithmetic; clip rounding noise
    dof = len(levels) - 1
    lo, hi = lr_interval(
        lambda x: common_loglik(math.exp(x)), math.log(beta), l_common - critical(cl)
    )
    return ShapeComparison(
        fits=fits, common_beta=beta, common_beta_interval=(math.exp(lo), math.exp(hi)),
        common_etas={name: math.exp(-p.a_of_beta(beta) / beta) for name, p in profiles.items()},
        statistic=statistic, dof=dof, p_value=float(stats.chi2.sf(statistic, dof)), alpha=a, confidence=cl,
    )
