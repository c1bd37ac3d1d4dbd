"""Plots of a run: the error curve of each meter and a summary of all meters (PNG).

Matplotlib's Agg canvas is used directly (no pyplot): no display is needed, and no global figure state is shared
with whatever else runs in the process.

Error curve (IEC 62053-21 §7.1 / tables 6–8 present the limits per current range and power factor): percentage
error against current on a log axis, one series per power factor (and per loaded element for single-element
points), the limit envelope ± limit of that series, each point marked by its verdict. A limit holds for a current
range that begins at a characteristic current (Imin ≤ I < Itr, Itr ≤ I ≤ Imax, …), so the envelope steps at the
load points' own currents (:func:`limit_envelope`).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from hil.reporting.sequence_plots import write_sequence_plots
from hil.reporting.tables import Rows, as_frame, meter_summaries, positive_limit
from hil.results import read_results
from hil.values import finite_or_none

#: size of every plot in pixels (width, height): FIGSIZE × DPI
DPI = 100
FIGSIZE_IN = (9.0, 5.6)
PLOT_SIZE_PX = (round(FIGSIZE_IN[0] * DPI), round(FIGSIZE_IN[1] * DPI))

#: tests whose points lie on a meter's error curve (percentage error at a load point)
CURVE_TESTS: tuple[str, ...] = ("accuracy",)

_PF_COLOURS = {"1": "#1f77b4", "0.5L": "#2ca02c", "0.8C": "#9467bd", "0.25L": "#8c564b", "0.5C": "#e377c2"}
_OTHER_COLOURS = ("#17becf", "#bcbd22", "#7f7f7f", "#ff7f0e")
# balanced and single-element series are on different panels, so element 1 can be solid too; none is dashed
# like the limit envelope
_ELEMENT_STYLES: dict[str, Any] = {"all": "-", "1": "-", "2": "-.", "3": ":"}
# marker per verdict: face colour, shape; a failed point is drawn big and red so it cannot be missed
_VERDICT_MARKS = {
    "pass": {"marker": "o", "s": 36, "edgecolors": "black", "linewidths": 0.5, "zorder": 3},
    "fail": {"marker": "X", "s": 110, "c": "#d62728", "edgecolors": "black", "linewidths": 0.7, "zorder": 4},
    "broken": {"marker": "^", "s": 70, "c": "#ff7f0e", "edgecolors": "black", "linewidths": 0.7, "zorder": 4},
}
_LIMIT_STYLE = (0, (4, 3))  # dashed: the ± limit envelope
_ENVELOPE_MARGIN = 1.25  # the envelope reaches this factor beyond the highest current (so one point shows too)
_VERDICT_TEXT = {"pass": "#1b7f3b", "fail": "#c62828", "broken": "#b26a00", "skipped": "#666666"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def plot_file_name(serial: str) -> str:
    """File name of a meter's plot: the serial with anything but ``A-Z a-z 0-9 . _ -`` replaced by ``_``."""
    name = _SAFE_NAME.sub("_", serial).strip("._") or "meter"
    if name.lower() == "summary":  # keep clear of the summary plot
        name = f"meter_{name}"
    return f"{name}.png"


def _figure() -> tuple[Figure, Axes]:
    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _png(fig: Figure, key: str | None = None) -> bytes:
    buf = io.BytesIO()
    # no bbox_inches="tight": it would change the pixel size from figure to figure
    meta: dict[str, str | None] = {"Software": None} | ({_KEY_CHUNK: key} if key else {})
    fig.savefig(buf, format="png", dpi=DPI, metadata=meta)
    return buf.getvalue()


#: PNG tEXt keyword under which a meter's plot records the key of the points it was drawn from
_KEY_CHUNK = "MeterHIL-points"


def _key_of(png: bytes) -> str | None:
    """The points key a plot was drawn with (its tEXt chunk), None if it has none."""
    marker = b"tEXt" + _KEY_CHUNK.encode("ascii") + b"\x00"
    at = png.find(marker)
    return png[at + len(marker): at + len(marker) + 64].decode("ascii", "replace") if at >= 0 else None


def _colour(key: str, seen: dict[str, str]) -> str:
    """A colour per series: the power factor's own for balanced series, else the first one not yet used."""
    if key not in seen:
        free = [c for c in _OTHER_COLOURS if c not in seen.values()]
        seen[key] = _PF_COLOURS.get(key) or (free[0] if free else _OTHER_COLOURS[len(seen) % len(_OTHER_COLOURS)])
    return seen[key]


def curve_rows(results: Rows, serial: str, tests: Iterable[str] = CURVE_TESTS) -> pd.DataFrame:
    """The rows of ``serial`` that belong on its error curve: a curve test, a positive current, not skipped.

    The test type is the ``kind`` column when the table has one (``test`` is then the plan's test id), else
    ``test``.
    """
    results = as_frame(results)
    if results.empty:
        return results
    wanted = set(tests)
    kind = results["kind"] if "kind" in results.columns else results["test"]
    r = results[(results["serial"].astype(str) == serial) & kind.astype(str).isin(wanted)]
    current = pd.to_numeric(r["current_a"], errors="coerce")
    return r[(current > 0) & (r["verdict"].astype(str) != "skipped")]


def limit_envelope(current: Iterable[Any], limit: Iterable[Any]) -> tuple[list[float], list[float]]:
    """Step edges and values (``len(edges) == len(values) + 1``, for ``Axes.stairs``) of the limit envelope of one
    series, from its load points' currents and limits.

    The limits of IEC 62053-21:2020 §7.1 (tables 6–8; standards.md §3) hold per current range, and a range begins
    at a characteristic current where the plans put a load point (class 1, PF 1: ±1.5 % for Imin ≤ I < Itr,
    ±1.0 % for Itr ≤ I ≤ Imax). So the envelope at current I is the limit of the highest load point at or below I:
    each point's limit holds from its own current up to the next point's current. Nothing is drawn below the
    lowest point (no limit applies below Imin); the highest point's limit is drawn a little beyond it so a single
    point shows too. Points with no percentage limit (0, NaN) are left out; at equal currents the wider limit
    counts. Empty lists when no point has a limit.
    """
    by_current: dict[float, float] = {}
    for c, li in zip(current, limit, strict=True):
        i, lim = finite_or_none(c), positive_limit(li)
        if i is not None and i > 0 and lim is not None:
            by_current[i] = max(lim, by_current.get(i, lim))
    xs = sorted(by_current)
    if not xs:
        return [], []
    return [*xs, xs[-1] * _ENVELOPE_MARGIN], [by_current[x] for x in xs]


def _numeric(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(
        current_a=pd.to_numeric(rows["current_a"], errors="coerce"),
        error_pct=pd.to_numeric(rows["error_pct"], errors="coerce"),
        limit_pct=pd.to_numeric(rows["limit_pct"], errors="coerce"),
        pf=rows["pf"].astype(str), element=rows["element"].astype(str), verdict=rows["verdict"].astype(str),
    )


def _draw_panel(ax: Axes, rows: pd.DataFrame, colours: dict[str, str]) -> None:
    """One panel: per power factor its limit envelope, and per loaded element its error line and points."""
    ax.set_xscale("log")
    ax.axhline(0.0, color="black", linewidth=0.6)
    for pf, p in rows.groupby("pf", sort=False):
        colour = _colour(str(pf), colours)
        edges, values = limit_envelope(p["current_a"], p["limit_pct"])
        if values:
            for sign in (1.0, -1.0):
                ax.stairs([sign * v for v in values], edges, baseline=None, linestyle=_LIMIT_STYLE, color=colour,
                          linewidth=1.0, alpha=0.8, gid=f"limit PF {pf}")
        for element, e in p.groupby("element", sort=False):
            e = e.sort_values("current_a")
            measured = e[e["error_pct"].notna()]
            ax.plot(measured["current_a"], measured["error_pct"], linestyle=_ELEMENT_STYLES.get(str(element), "-"),
                    color=colour, linewidth=1.3)
            for verdict, mark in _VERDICT_MARKS.items():
                v = e[e["verdict"] == verdict]
                if v.empty:
                    continue
                kw: dict[str, Any] = dict(mark)
                kw.setdefault("c", colour)
                # a broken point has no valid error: it is drawn on the zero line, at its current
                y = v["error_pct"].fillna(0.0) if verdict == "broken" else v["error_pct"]
                ax.scatter(v["current_a"], y, **kw)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.6)


def _verdict_handles(present: set[str]) -> list[Line2D]:
    return [
        Line2D([], [], linestyle="none", marker=str(mark["marker"]), markersize=7 if verdict == "pass" else 9,
               markerfacecolor=str(mark.get("c", "white")), markeredgecolor="black", label=verdict)
        for verdict, mark in _VERDICT_MARKS.items() if verdict in present
    ]


def _legend_handles(rows: pd.DataFrame, colours: dict[str, str]) -> list[Line2D]:
    handles = [Line2D([], [], color=colours[pf], linewidth=1.3, label=f"PF {pf}") for pf in colours]
    elements = sorted(e for e in dict.fromkeys(rows["element"]) if e != "all")
    # line styles tell the loaded elements apart on the single-element panel
    handles += [Line2D([], [], color="0.35", linestyle=_ELEMENT_STYLES.get(e, "-"), linewidth=1.3,
                       label=f"element {e}") for e in elements]
    handles.append(Line2D([], [], color="0.35", linestyle=_LIMIT_STYLE, linewidth=1.0, label="± limit"))
    return handles + _verdict_handles(set(rows["verdict"]))


def error_curve_png(results: Rows, serial: str, title: str | None = None,
                    tests: Iterable[str] = CURVE_TESTS) -> bytes:
    """The error curve of one meter as PNG bytes (:data:`PLOT_SIZE_PX`), also for a meter with no curve points."""
    return _png(error_curve_figure(results, serial, title, tests))


def error_curve_figure(results: Rows, serial: str, title: str | None = None,
                       tests: Iterable[str] = CURVE_TESTS) -> Figure:
    """The error curve of one meter as a figure (what :func:`error_curve_png` renders).

    Balanced-load points on the left; single-element points (IEC 62053-21 §7.1, one current circuit loaded) get a
    panel of their own on the right, one line style per element. Each panel's limit envelopes are its
    ``StepPatch`` artists (:func:`limit_envelope`).
    """
    results = as_frame(results)
    rows = _numeric(curve_rows(results, serial, tests)) if not results.empty else pd.DataFrame()
    pos = results.loc[results["serial"].astype(str) == serial, "position"] if not results.empty else pd.Series()
    where = f", position {int(pos.iloc[0])}" if len(pos) and pd.notna(pos.iloc[0]) else ""
    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI)
    FigureCanvasAgg(fig)
    fig.suptitle(title or f"Error curve — meter {serial}{where}")
    if rows.empty:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no error-curve points", ha="center", va="center", transform=ax.transAxes)
        ax.set_xscale("log")
        ax.set_xlim(0.01, 100.0)
        ax.set_xlabel("current I / A (log)")
        ax.set_ylabel("error / %")
        return fig
    panels = [(name, part) for name, part in (("balanced load", rows[rows["element"] == "all"]),
                                              ("single element", rows[rows["element"] != "all"])) if not part.empty]
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    colours: dict[str, str] = {}
    for ax, (name, part) in zip(axes, panels, strict=True):
        _draw_panel(ax, part, colours)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("current I / A (log)")
        lo, hi = float(part["current_a"].min()), float(part["current_a"].max())
        half = max(1.6 * (hi / lo) ** 0.5, 10**0.5)  # at least one decade, so the log axis gets labelled ticks
        mid = (lo * hi) ** 0.5
        ax.set_xlim(mid / half, mid * half)
        ax.xaxis.set_minor_formatter(NullFormatter())  # decades only: minor labels collide on a short axis
    axes[0].set_ylabel("error / %")
    limits = rows["limit_pct"].where(rows["limit_pct"] > 0)
    top = max(float(limits.max()) if limits.notna().any() else 1.0,
              float(rows["error_pct"].abs().max()) if rows["error_pct"].notna().any() else 0.0)
    axes[0].set_ylim(-1.25 * top, 1.25 * top)
    fig.legend(handles=_legend_handles(rows, colours), loc="upper left", bbox_to_anchor=(0.835, 0.9), fontsize=8,
               frameon=False)
    fig.subplots_adjust(left=0.08, right=0.82, top=0.86, bottom=0.1, wspace=0.08)
    return fig


def summary_png(results: Rows, title: str = "All meters: error / limit per point") -> bytes:
    """All meters on one plot: each point's signed error/limit by meter; ±1 is the limit (PNG, PLOT_SIZE_PX)."""
    results = as_frame(results)
    fig, ax = _figure()
    summaries = meter_summaries(results)
    ax.axhspan(-1.0, 1.0, color="#2ca02c", alpha=0.08)
    for y in (-1.0, 1.0):
        ax.axhline(y, color="#d62728", linewidth=1.0, linestyle=_LIMIT_STYLE)
    ax.axhline(0.0, color="black", linewidth=0.6)
    top = 1.0
    for x, s in enumerate(summaries):
        rows = results[results["serial"].astype(str) == s.serial]
        err = pd.to_numeric(rows["error_pct"], errors="coerce")
        lim = pd.to_numeric(rows["limit_pct"], errors="coerce")
        ratio = (err / lim.where(lim > 0)).astype("float64")
        verdict = rows["verdict"].astype(str)
        shown = (ratio.notna() | (verdict == "broken")).to_numpy()
        # spread a meter's points a little sideways, in run order, so they do not hide each other
        n = int(shown.sum())
        step = min(0.6 / max(n, 1), 0.08)
        offsets = np.full(len(rows), np.nan)
        offsets[shown] = [x + (i - (n - 1) / 2) * step for i in range(n)]
        for v, mark in _VERDICT_MARKS.items():
            sel = shown & (verdict == v).to_numpy()
            if not sel.any():
                continue
            kw: dict[str, Any] = dict(mark)
            kw.setdefault("c", "#1f77b4")
            ax.scatter(offsets[sel], ratio.fillna(0.0).to_numpy()[sel], **kw)
        finite = ratio[ratio.notna()].abs()
        if len(finite):
            top = max(top, float(finite.max()))
    ax.set_xticks(range(len(summaries)), [f"{s.serial}  {s.verdict.upper()}" for s in summaries], fontsize=8,
                  rotation=35, ha="right", rotation_mode="anchor")
    for label, s in zip(ax.get_xticklabels(), summaries, strict=True):
        label.set_color(_VERDICT_TEXT.get(s.verdict, "black"))
    ax.set_xlim(-0.6, max(len(summaries), 1) - 0.4)
    ax.set_ylim(-1.2 * top, 1.2 * top)
    ax.set_ylabel("error / limit")
    ax.set_title(title)
    ax.grid(True, axis="y", linewidth=0.3, alpha=0.6)
    handles = _verdict_handles(set(results["verdict"].astype(str)) if "verdict" in results.columns else set())
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.08, right=0.88, top=0.93, bottom=0.27)
    return _png(fig)


@dataclass(frozen=True)
class PlotFiles:
    """Plots written for a run: one per meter (by serial), the summary of all meters, and the stress sequences'
    plots by title (chamber trace, timeline, Weibull plot per sequence test)."""

    meters: dict[str, Path]
    summary: Path
    sequences: dict[str, Path] = field(default_factory=dict)


#: the columns an error curve is drawn from (with the serial and the position of its title)
_CURVE_INPUTS = ("test", "point", "current_a", "error_pct", "limit_pct", "pf", "element", "verdict")


def curve_key(results: Rows, serial: str) -> str:
    """SHA-256 of what ``serial``'s error curve is drawn from, in a form that does not depend on how the rows were
    read (dicts during the run, Parquet afterwards): the same points give the same key."""
    frame = as_frame(results)
    rows = _numeric(curve_rows(frame, serial)) if not frame.empty else pd.DataFrame()
    pos = frame.loc[frame["serial"].astype(str) == serial, "position"] if not frame.empty else pd.Series()
    lines = [f"{serial}|{int(pos.iloc[0]) if len(pos) and pd.notna(pos.iloc[0]) else ''}"]
    for r in rows.to_dict("records") if not rows.empty else []:
        values = (r.get(c) for c in _CURVE_INPUTS)
        lines.append("|".join("" if v is None or (isinstance(v, float) and np.isnan(v)) else
                              f"{v:.9g}" if isinstance(v, float) else str(v) for v in values))
    return hashlib.sha256("\n".join(sorted(lines[1:], key=str) + lines[:1]).encode("utf-8")).hexdigest()


def meter_plot(path: Path, results: Rows, serial: str) -> bytes:
    """``serial``'s error curve at ``path``, drawn only if the file is missing or was drawn from other points (the
    PNG carries the key of its points in a tEXt chunk): the meter summary of the run, ``hil run`` and ``hil report``
    all use this one drawing."""
    key = curve_key(results, serial)
    if path.exists():
        old = path.read_bytes()
        if _key_of(old) == key:
            return old
    png = _png(error_curve_figure(results, serial), key)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(png)
    os.replace(tmp, path)
    return png


def write_plots(run_dir: str | Path, results: pd.DataFrame | None = None) -> PlotFiles:
    """Write ``plots/<serial>.png`` for every meter with error-curve points and ``plots/summary.png`` into the run
    directory, and the
    plots of the run's stress sequences (:func:`hil.reporting.sequence_plots.write_sequence_plots`)."""
    d = Path(run_dir)
    frame = read_results(d) if results is None else results
    out_dir = d / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    meters: dict[str, Path] = {}
    for serial in dict.fromkeys(frame["serial"].astype(str)):
        if curve_rows(frame, serial).empty:
            continue  # a meter with no error-curve points (a sequence- or function-only run): no empty plot
        path = out_dir / plot_file_name(serial)
        n = 2
        while path in meters.values():  # two serials that differ only in unsafe characters
            path = out_dir / plot_file_name(f"{serial}-{n}")
            n += 1
        meter_plot(path, frame, serial)  # reused when the run's meter summary drew it from the same points
        meters[serial] = path
    summary = out_dir / "summary.png"
    summary.write_bytes(summary_png(frame))
    return PlotFiles(meters, summary, write_sequence_plots(d, frame, out_dir))


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG from its IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


__all__ = [
    "CURVE_TESTS",
    "PLOT_SIZE_PX",
    "PlotFiles",
    "curve_key",
    "curve_rows",
    "error_curve_figure",
    "error_curve_png",
    "limit_envelope",
    "meter_plot",
    "plot_file_name",
    "png_size",
    "summary_png",
    "write_plots",
]
