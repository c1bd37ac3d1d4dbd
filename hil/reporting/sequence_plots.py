"""Plots of stress sequences, from the run directory only (monitoring rows, results, checkpoint): PNG bytes.

- chamber trace: temperature actual vs setpoint over sequence time; humidity actual vs setpoint on a second axis
  when the rows carry it; chamber alarm intervals and interruptions (PC down, unmonitored) shaded;
- timeline: one row per meter, coloured spans alive / drifted / failed, the failure window hatched and its
  midpoint (the recorded failure time) marked, interruptions shaded;
- Weibull probability plot of a sequence test's failures (:func:`hil.reliability.weibull_plot_png`); with fewer
  than two failures the figure says so instead of fitting.

Matplotlib's Agg canvas is used directly (no pyplot), as in :mod:`hil.reporting.plots`.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from hil.reporting import sequence_data as sd
from hil.values import finite_or_none

DPI = 100
WIDTH_IN = 9.0

ALIVE, DRIFTED, FAILED = "alive", "drifted", "failed"
STATE_COLOURS = {ALIVE: "#2ca02c", DRIFTED: "#ff7f0e", FAILED: "#d62728"}
_WINDOW = "window"
_GAP_STYLE: dict[str, Any] = {"facecolor": "#bbbbbb", "alpha": 0.45, "hatch": "//", "edgecolor": "#777777",
                              "linewidth": 0}
_GAP_LABEL = "PC down / unmonitored"
_CHECK_STYLE: dict[str, Any] = {"facecolor": "#9ecae1", "alpha": 0.45, "hatch": "..", "edgecolor": "#3182bd",
                                "linewidth": 0}
_CHECK_LABEL = "accuracy check (monitoring paused)"
_ALARM_STYLE: dict[str, Any] = {"facecolor": "#ff7f0e", "alpha": 0.18, "linewidth": 0}
_EPS_S = 1e-6


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _figure(height_in: float) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _empty(text: str, title: str) -> bytes:
    fig, ax = _figure(3.0)
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, wrap=True, transform=ax.transAxes)
    return _png(fig)


def _runs(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[tuple[float, float]]:
    """Contiguous spans (start, end) of the intervals where ``mask`` holds (intervals in time order)."""
    out: list[tuple[float, float]] = []
    for on, s, e in zip(mask, starts, ends, strict=True):
        if not on:
            continue
        if out and abs(out[-1][1] - s) <= _EPS_S:
            out[-1] = (out[-1][0], float(e))
        else:
            out.append((float(s), float(e)))
    return out


def _gap_look(g: sd.Interruption) -> tuple[str, dict[str, Any]]:
    return (_CHECK_LABEL, _CHECK_STYLE) if g.check else (_GAP_LABEL, _GAP_STYLE)


def _shade_gaps(ax: Axes, gaps: Sequence[sd.Interruption], label_y: float | None = None, zorder: float = 0.5
                ) -> None:
    """PC-down interruptions and check pauses, each kind in its own style (one legend entry per kind)."""
    labelled: set[str] = set()
    for g in gaps:
        label, style = _gap_look(g)
        ax.axvspan(g.from_s / 3600, g.to_s / 3600, label=None if label in labelled else label, zorder=zorder,
                   **style)
        labelled.add(label)
        if label_y is not None and not g.check:  # a check's own items say what it was; PC down needs saying here
            ax.annotate(_GAP_LABEL, ((g.from_s + g.to_s) / 7200, label_y), xycoords=("data", "axes fraction"),
                        ha="center", va="top", fontsize=8, color="#444444", rotation=90)


def _with_breaks(ch: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Interval-end points of the chamber, with a NaN row where monitoring stopped (a line must not bridge it)."""
    x = ch["t_end_s"].to_numpy(dtype=float) / 3600
    gap = np.r_[False, ch["t_start_s"].to_numpy(dtype=float)[1:] > ch["t_end_s"].to_numpy(dtype=float)[:-1] + _EPS_S]
    frame = pd.DataFrame({"h": x, **{c: pd.to_numeric(ch[c], errors="coerce").to_numpy() for c in columns}})
    if not gap.any():
        return frame
    breaks = frame[gap].assign(**{c: np.nan for c in columns})
    breaks["h"] = ch["t_start_s"].to_numpy(dtype=float)[gap] / 3600 - 1e-9
    return pd.concat([frame, breaks]).sort_values("h", kind="stable").reset_index(drop=True)


def chamber_trace_png(mon: pd.DataFrame, gaps: Sequence[sd.Interruption] = (), *,
                      title: str = "chamber") -> bytes:
    """Chamber temperature (and humidity, when recorded) actual vs setpoint over sequence time (h)."""
    ch = sd.chamber_intervals(mon)
    if ch.empty:
        return _empty("no monitoring rows", title)
    humid = sd.has_humidity(ch)
    fig, ax = _figure(5.2)
    cols = ["chamber_c", "setpoint_c"] + ([sd.HUMIDITY] if humid else []) + (
        [sd.HUMIDITY_SETPOINT] if humid and sd.HUMIDITY_SETPOINT in ch.columns else [])
    pts = _with_breaks(ch, cols)
    ax.plot(pts["h"], pts["chamber_c"], color="#d62728", linewidth=1.3, label="temperature, actual")
    ax.plot(pts["h"], pts["setpoint_c"], color="#7f0000", linewidth=1.0, linestyle="--", drawstyle="steps-pre",
            label="temperature, setpoint")
    ax.set_xlabel("sequence time (h)")
    ax.set_ylabel("temperature (°C)")
    ax.grid(True, linewidth=0.3, alpha=0.6)
    starts, ends = ch["t_start_s"].to_numpy(dtype=float), ch["t_end_s"].to_numpy(dtype=float)
    alarms = ch["chamber_alarm"].astype(bool).to_numpy() if "chamber_alarm" in ch else np.zeros(len(ch), bool)
    if sd.HUMIDITY_ALARM in ch:  # a humidity out of its band is a chamber alarm too
        alarms = alarms | ch[sd.HUMIDITY_ALARM].fillna(False).astype(bool).to_numpy()
    for i, (s, e) in enumerate(_runs(alarms, starts, ends)):
        ax.axvspan(s / 3600, e / 3600, label="chamber alarm" if i == 0 else None, zorder=0.4, **_ALARM_STYLE)
    _shade_gaps(ax, gaps, label_y=0.97)
    handles, labels = ax.get_legend_handles_labels()
    if humid:
        ax2 = ax.twinx()
        ax2.plot(pts["h"], pts[sd.HUMIDITY], color="#1f77b4", linewidth=1.1, label="humidity, actual")
        if sd.HUMIDITY_SETPOINT in pts:
            ax2.plot(pts["h"], pts[sd.HUMIDITY_SETPOINT], color="#08306b", linewidth=0.9, linestyle="--",
                     drawstyle="steps-pre", label="humidity, setpoint")
        ax2.set_ylabel("relative humidity (%RH)")
        ax2.set_ylim(0, 100)
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    # below the axes: up to seven entries, clear of the title and the traces
    ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=4, fontsize=8, frameon=False)
    ax.set_title(title)
    fig.subplots_adjust(left=0.08, right=0.91 if humid else 0.97, top=0.93, bottom=0.22)
    return _png(fig)


def _state(alive: bool, mode: str) -> str:
    if alive:
        return ALIVE
    return DRIFTED if mode == "drift" else FAILED


def meter_spans(rows: pd.DataFrame, result: Mapping[Any, Any] | None) -> list[tuple[float, float, str]]:
    """(start s, end s, state) spans of one meter, from its monitoring rows in time order; the result's failure
    window overrides them: alive before ``failed_after``, the window, then drifted/failed from ``failed_before``
    (the monitoring flag turns only when the failure was detected, up to an interval later)."""
    rows = rows.sort_values("t_end_s", kind="stable")
    modes = rows["failure_mode"].fillna("").astype(str).to_numpy() if "failure_mode" in rows else \
        np.full(len(rows), "")
    states = [_state(bool(a), str(m)) for a, m in zip(rows["alive"].to_numpy(), modes, strict=True)]
    starts, ends = rows["t_start_s"].to_numpy(dtype=float), rows["t_end_s"].to_numpy(dtype=float)
    after = finite_or_none(result.get("failed_after_h")) if result else None
    before = finite_or_none(result.get("failed_before_h")) if result else None
    mode = str(result.get("failure_mode") or "") if result else ""
    spans: list[tuple[float, float, str]] = []

    def add(s: float, e: float, state: str) -> None:
        if e - s <= _EPS_S:
            return
        if spans and spans[-1][2] == state and abs(spans[-1][1] - s) <= _EPS_S:
            spans[-1] = (spans[-1][0], e, state)
        else:
            spans.append((s, e, state))

    for s, e, state in zip(starts, ends, states, strict=True):
        if after is None or before is None or not mode:
            add(float(s), float(e), state)
            continue
        a, b = after * 3600, before * 3600
        dead = _state(False, mode)
        add(float(s), min(float(e), a), ALIVE if state == ALIVE else state)
        add(max(float(s), a), min(float(e), b), _WINDOW)
        add(max(float(s), b), float(e), dead)
    return spans


def timeline_png(mon: pd.DataFrame, results: pd.DataFrame, gaps: Sequence[sd.Interruption] = (), *,
                 positions: Sequence[int] | None = None, title: str = "timeline") -> bytes:
    """One row per meter: alive / drifted / failed over sequence time, the failure window and midpoint marked."""
    if mon.empty:
        return _empty("no monitoring rows", title)
    by_pos = {int(r["position"]): r for r in results.to_dict("records")} if not results.empty else {}
    wanted = sorted(positions) if positions is not None else sorted({int(p) for p in mon["position"]})
    fig, ax = _figure(1.6 + 0.32 * len(wanted))
    labels = []
    for y, pos in enumerate(wanted):
        res = by_pos.get(pos)
        labels.append(f"{pos}: {res['serial']}" if res is not None and "serial" in res else f"position {pos}")
        spans = meter_spans(mon[mon["position"] == pos], res)
        for state in (ALIVE, DRIFTED, FAILED, _WINDOW):
            bars = [(s / 3600, (e - s) / 3600) for s, e, st in spans if st == state]
            if not bars:
                continue
            if state == _WINDOW:
                colour = STATE_COLOURS[DRIFTED if res is not None and res.get("failure_mode") == "drift" else FAILED]
                ax.broken_barh(bars, (y - 0.35, 0.7), facecolors="white", edgecolors=colour, hatch="xxx",
                               linewidth=0.6)
            else:
                ax.broken_barh(bars, (y - 0.35, 0.7), facecolors=STATE_COLOURS[state], linewidth=0)
        ft = finite_or_none(res.get("failure_time_h")) if res is not None else None
        if ft is not None:
            ax.plot([ft], [y], marker="X", markersize=9, color="black", markeredgecolor="white", zorder=4)
    _shade_gaps(ax, gaps, zorder=3)  # over the bars: no state is known there
    ax.set_yticks(range(len(wanted)), labels, fontsize=8)
    ax.set_ylim(len(wanted) - 0.5, -0.5)
    ax.set_xlabel("sequence time (h)")
    ax.grid(True, axis="x", linewidth=0.3, alpha=0.6)
    handles: list[Artist] = [Patch(facecolor=STATE_COLOURS[s], label=s) for s in (ALIVE, DRIFTED, FAILED)]
    handles.append(Patch(facecolor="white", edgecolor=STATE_COLOURS[FAILED], hatch="xxx", label="failure window"))
    handles.append(Line2D([], [], marker="X", color="black", linestyle="none", label="failure time (midpoint)"))
    for label, style in dict(_gap_look(g) for g in gaps).items():
        handles.append(Patch(label=label, **style))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
    ax.set_title(title, pad=16 + 14 * ((len(handles) + 2) // 3))
    fig.tight_layout()
    return _png(fig)


def weibull_png(results: pd.DataFrame, test_id: str) -> bytes:
    """Weibull probability plot of one sequence test's failures (survivors censored at the sequence end)."""
    from hil.reliability import fit_weibull, life_data_from_results, weibull_plot_png  # scipy: lazily
    from hil.reliability.summary import MIN_FAILURES_FOR_FIT

    title = f"{test_id}: Weibull probability plot"
    try:
        data = life_data_from_results(results, [test_id])
    except ValueError as exc:
        return _empty(f"no life data: {exc}", title)
    if data.failures < MIN_FAILURES_FOR_FIT:
        return weibull_plot_png(data, None, title=f"{test_id}: no fit, {data.failures} failure(s) "
                                                  f"(≥ {MIN_FAILURES_FOR_FIT} needed)")
    try:
        fit = fit_weibull(data)
    except ValueError as exc:  # e.g. every failure at the longest time: β is not determined
        return weibull_plot_png(data, None, title=f"{test_id}: no fit ({exc})")
    return weibull_plot_png(data, fit, title=title)


def plot_names(test_id: str) -> dict[str, str]:
    """File names of a sequence test's plots, by kind (``test_id`` is a plan id: ``[A-Za-z0-9_.-]+``)."""
    return {kind: f"{kind}_{test_id}.png" for kind in ("chamber_trace", "timeline", "weibull")}


def write_sequence_plots(run_dir: str | Path, results: pd.DataFrame, out_dir: str | Path | None = None
                         ) -> dict[str, Path]:
    """Write every sequence test's chamber trace, timeline and Weibull plot; ``{title: path}``."""
    d = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else d / "plots"
    written: dict[str, Path] = {}
    tests = sd.sequence_tests(results)
    if not tests:
        return written
    out.mkdir(parents=True, exist_ok=True)
    mon_all = sd.monitoring(d)
    for test_id in tests:
        mon = mon_all[mon_all["test_id"].astype(str) == test_id] if "test_id" in mon_all else mon_all
        gaps = sd.unmonitored(d, test_id)
        names = plot_names(test_id)
        pngs = {
            f"{test_id}: chamber trace": (names["chamber_trace"],
                                          chamber_trace_png(mon, gaps, title=f"{test_id}: chamber")),
            f"{test_id}: timeline per meter": (names["timeline"], timeline_png(
                mon, sd.rows_of(results, test_id), gaps, title=f"{test_id}: meters over sequence time")),
            f"{test_id}: Weibull plot": (names["weibull"], weibull_png(results, test_id)),
        }
        for title, (name, png) in pngs.items():
            path = out / name
            path.write_bytes(png)
            written[title] = path
    return written
