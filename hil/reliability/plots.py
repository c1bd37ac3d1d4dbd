"""Weibull probability plot: the failures at their median ranks, the fitted line, censored units marked (PNG).

On Weibull paper (x: log time; y: ln[−ln(1 − F)]) a Weibull distribution is a straight line of slope β crossing
F = 63.2 % at t = η. Plotting positions with censoring (IEC 61649 §6.2): Johnson's adjusted ranks, then
Bernard's median-rank approximation F = (rank − 0.3)/(n + 0.4). Censored units have no plotting position; they are
drawn as open triangles along the bottom edge at their life, so a reader sees how much of the sample survived.

Matplotlib's Agg canvas is used directly (no pyplot): no display needed and no global figure state.
"""

from __future__ import annotations

import io
import math

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hil.reliability.lifedata import HOURS, LifeData, unit_word
from hil.reliability.weibull import WeibullFit

DPI = 100
FIGSIZE_IN = (8.0, 6.0)
_PROBABILITY_TICKS_PCT = (0.1, 0.5, 1, 2, 5, 10, 20, 30, 50, 63.2, 80, 90, 95, 99, 99.9)


def median_ranks(data: LifeData) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Hours and unreliability F of the failures: Johnson's adjusted ranks with Bernard's approximation.

    Units are ordered by hours, failures before censored units at equal hours (a unit censored at t was seen
    working at t). Adjusted rank of each failure = previous + (n + 1 − previous)/(1 + units at or after it).
    """
    order = np.lexsort((data.failed.astype(np.int8) * -1, data.hours))  # by hours, failures first at ties
    n = data.n
    previous = 0.0
    hours: list[float] = []
    ranks: list[float] = []
    for position, idx in enumerate(order):
        if data.failed[idx]:
            at_or_after = n - position
            previous += (n + 1 - previous) / (1 + at_or_after)
            hours.append(float(data.hours[idx]))
            ranks.append(previous)
    f = (np.asarray(ranks) - 0.3) / (n + 0.4)
    return np.asarray(hours, dtype=np.float64), f


def _fmt(x: float) -> str:
    """Hours for a plot label: whole hours from 1000 up (no 1.6e+04), 3 significant digits below."""
    if not math.isfinite(x):
        return "∞"
    return f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def life_axis_label(unit: str) -> str:
    """The x label of a Weibull plot of life in ``unit``: "hours on test", "power cycles to failure / censoring"."""
    return "hours on test" if unit == HOURS else f"{unit_word(unit)} to failure / censoring"


def _suffix(unit: str) -> str:
    return " h" if unit == HOURS else f" {unit}"


def _weibull_y(f: npt.ArrayLike) -> npt.NDArray[np.float64]:
    return np.log(-np.log1p(-np.asarray(f, dtype=np.float64)))


def weibull_plot_png(
    data: LifeData, fit: WeibullFit | None = None, *, title: str = "Weibull probability plot"
) -> bytes:
    """PNG bytes of the Weibull probability plot of ``data`` with the fitted line of ``fit`` (if given)."""
    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    t_fail, f_fail = median_ranks(data)
    lo_t = float(data.hours.min()) / 2.0
    hi_t = float(data.hours.max()) * 2.0
    if fit is not None:
        lo_t, hi_t = min(lo_t, fit.b_life(1.0)), max(hi_t, fit.eta * 1.5)
    ax.set_xscale("log")
    ax.set_xlim(lo_t, hi_t)
    y_lo, y_hi = float(_weibull_y(0.001)[()]), float(_weibull_y(0.999)[()])
    if len(f_fail):
        y_lo = min(y_lo, float(_weibull_y(f_fail).min()) - 0.3)
    ax.set_ylim(y_lo, y_hi)
    ticks = [p for p in _PROBABILITY_TICKS_PCT if y_lo <= float(_weibull_y(p / 100)[()]) <= y_hi]
    ax.set_yticks([float(_weibull_y(p / 100)[()]) for p in ticks], [f"{p:g}" for p in ticks])
    ax.set_ylabel("unreliability F(t) (%)")
    ax.set_xlabel(life_axis_label(data.unit))
    u = _suffix(data.unit)
    ax.grid(True, which="both", color="#dddddd", linewidth=0.6)
    ax.scatter(t_fail, _weibull_y(f_fail), marker="o", s=30, color="#1f77b4", edgecolors="black", linewidths=0.5,
               zorder=3, label=f"failures ({data.failures}, median ranks)")
    t_cens = data.hours[~data.failed]
    if len(t_cens):
        ax.scatter(t_cens, np.full(len(t_cens), y_lo), marker="^", s=46, facecolors="none", edgecolors="#d62728",
                   linewidths=1.0, zorder=3, clip_on=False, label=f"censored / suspended ({len(t_cens)})")
        hours_c, counts = np.unique(t_cens, return_counts=True)
        for h, c in zip(hours_c, counts, strict=True):
            if c > 1:  # units censored together (a time-terminated test) overlap: say how many
                ax.annotate(f"×{c}", (float(h), y_lo), xytext=(0, 8), textcoords="offset points", ha="center",
                            fontsize=8, color="#d62728", annotation_clip=False)
    if fit is not None:
        t_line = np.geomspace(lo_t, hi_t, 200)
        ax.plot(t_line, fit.beta * (np.log(t_line) - math.log(fit.eta)), color="#2ca02c", linewidth=1.6,
                label=f"MLE fit: β = {fit.beta:.3g}, η = {_fmt(fit.eta)}{u}")
        ax.axhline(float(_weibull_y(0.1)[()]), color="#999999", linestyle=":", linewidth=0.8)
        ax.plot([fit.b10], [float(_weibull_y(0.1)[()])], marker="D", color="#2ca02c", markersize=6, linestyle="none",
                label=f"B10 = {_fmt(fit.b10)}{u}")
    title_box = None
    if fit is not None:
        title_box = (
            f"{fit.confidence:.0%} likelihood-ratio bounds (two-sided)\n"
            f"β {_fmt(fit.beta_interval[0])} … {_fmt(fit.beta_interval[1])}, "
            f"η {_fmt(fit.eta_interval[0])} … {_fmt(fit.eta_interval[1])}{u}\n"
            f"B10 {_fmt(fit.b10_interval[0])} … {_fmt(fit.b10_interval[1])}{u}"
        )
    ax.set_title(f"{title} — {data.n} units, {data.failures} failed, {data.censored} censored")
    # upper left: the points run from lower left to upper right, and the censored marks sit on the bottom edge
    ax.legend(loc="upper left", fontsize=9, title=title_box, title_fontsize=9, alignment="left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()
