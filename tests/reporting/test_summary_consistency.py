"""One worst point everywhere, the limit envelope stepping at the range boundaries, rows without a percentage limit
and a broken meter's reason — the acceptance audit's reporting findings on issue 4.

The end-to-end check runs a short plan with `hil run` on the default simulated bench (served by `hil run` itself):
position 9 is out of limits below Itr, position 10 creeps (fails no-load), position 11 never pulses (broken).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from matplotlib.patches import StepPatch

from hil.reporting.plots import error_curve_figure, limit_envelope
from hil.reporting.tables import (
    console_cell,
    console_summary,
    meter_summaries,
    point_table,
    point_table_csv,
    point_table_html,
    short_reason,
    summary_html,
    summary_text,
    worst_row,
)
from hil.results import read_results

# -- IEC 62053-21:2020 class 1, direct connected (standards.md §2, §3), by hand ----------------------------------
ITR = 0.5  # A, the default simulated meters' rating 0.25-0.5(60) A (standards.md §1 worked example)
IMIN = 0.5 * ITR  # §2: Imin = 0.5 Itr
IREF = 10 * ITR  # §1: Iref = 10 Itr
IMAX = 60.0


def class1_limit(pf: str, element: str, current: float) -> float | None:
    """The class 1 limit (%) at ``current`` from the table of standards.md §3; None where no limit applies."""
    if element != "all":  # single element: PF 1 from Itr, PF 0.5L from 2 Itr
        start = ITR if pf == "1" else 2 * ITR
        return 2.0 if start <= current <= IMAX else None
    if pf == "1":
        if IMIN <= current < ITR:
            return 1.5
        return 1.0 if ITR <= current <= IMAX else None
    if ITR <= current < 2 * ITR:  # 0.5L, 0.8C
        return 1.5
    return 1.0 if 2 * ITR <= current <= IMAX else None


def step_value(edges: Sequence[float], values: Sequence[float], current: float) -> float | None:
    """The value of a step line (``Axes.stairs`` data) at ``current``; None outside it."""
    for lo, hi, v in zip(edges[:-1], edges[1:], values, strict=True):
        if lo <= current < hi:
            return float(v)
    return None


def _log_grid(lo: float, hi: float, n: int = 200) -> list[float]:
    return [lo * (hi / lo) ** (k / (n - 1)) for k in range(n)]


# the shipped accuracy plan's points (testplans/iec62053-21_2020_class1_3ph_accuracy.yaml), limits by hand
PLAN_POINTS: list[tuple[str, str, float]] = (
    [("1", "all", i) for i in (IMIN, ITR, 2 * ITR, IREF, IMAX)]
    + [(pf, "all", i) for pf in ("0.5L", "0.8C") for i in (ITR, 2 * ITR, IREF, IMAX)]
    + [("1", "1", i) for i in (ITR, IREF, IMAX)] + [("0.5L", "1", i) for i in (IREF, IMAX)]
)


def _curve_rows(errors: Mapping[float, float] | None = None) -> list[dict[str, Any]]:
    rows = []
    for pf, element, current in PLAN_POINTS:
        limit = class1_limit(pf, element, current)
        assert limit is not None
        rows.append({"position": 1, "serial": "M-1", "test": "accuracy", "point": f"{current:g} A PF {pf} {element}",
                     "current_a": current, "pf": pf, "element": element, "limit_pct": limit,
                     "error_pct": (errors or {}).get(current, 0.1), "verdict": "pass"})
    return rows


# -- 2. the limit envelope ----------------------------------------------------------------------------------------
def test_envelope_steps_at_itr_not_between_imin_and_itr() -> None:
    edges, values = limit_envelope([IMIN, ITR, 2 * ITR, IREF, IMAX], [1.5, 1.0, 1.0, 1.0, 1.0])
    # the audit's case: at 0.35 A (between Imin 0.25 A and Itr 0.5 A) class 1 allows ±1.5 %, not ±1.0 %
    assert step_value(edges, values, 0.35) == 1.5
    assert step_value(edges, values, 0.499) == 1.5
    assert step_value(edges, values, ITR) == 1.0  # Itr ≤ I: ±1.0 %
    assert step_value(edges, values, IMIN * 0.99) is None  # no limit below Imin
    assert step_value(edges, values, IMAX) == 1.0


def test_envelope_equals_the_class_1_table_at_every_current_of_each_series() -> None:
    for pf, element in {(pf, el) for pf, el, _ in PLAN_POINTS}:
        pts = [(i, class1_limit(pf, element, i)) for p, el, i in PLAN_POINTS if (p, el) == (pf, element)]
        edges, values = limit_envelope([i for i, _ in pts], [lim for _, lim in pts])
        for current in _log_grid(min(i for i, _ in pts), IMAX):
            assert step_value(edges, values, current) == class1_limit(pf, element, current), (pf, element, current)


def test_envelope_ignores_rows_without_a_percentage_limit_and_takes_the_wider_limit_at_one_current() -> None:
    edges, values = limit_envelope([0.0, 0.25, 0.5, 0.5, 5.0], [0.0, 1.5, 1.0, 1.2, float("nan")])
    assert (edges[:2], values) == ([0.25, 0.5], [1.5, 1.2])
    assert limit_envelope([1.0], [0.0]) == ([], [])
    single_edges, single_values = limit_envelope([5.0], [2.0])
    assert single_values == [2.0] and single_edges[0] == 5.0 and single_edges[1] > 5.0  # one point shows


def test_the_drawn_envelopes_are_the_class_1_table() -> None:
    """The StepPatch artists of the error-curve figure, evaluated against the table, on both panels."""
    fig = error_curve_figure(_curve_rows(), "M-1")
    panels = [ax for ax in fig.axes if ax.get_title() in ("balanced load", "single element")]
    assert [ax.get_title() for ax in panels] == ["balanced load", "single element"]
    seen = set()
    for ax, element in zip(panels, ("all", "1"), strict=True):
        for patch in ax.patches:
            assert isinstance(patch, StepPatch)
            pf = str(patch.get_gid()).removeprefix("limit PF ")
            data = patch.get_data()
            edges, values = [float(x) for x in data.edges], [float(v) for v in data.values]
            sign = 1.0 if values[0] > 0 else -1.0
            for current in _log_grid(edges[0], IMAX):
                hand = class1_limit(pf, element, current)
                assert hand is not None and step_value(edges, values, current) == sign * hand, (pf, current)
            seen.add((element, pf, sign))
    assert seen == {(el, pf, s) for pf, el, _ in PLAN_POINTS for s in (1.0, -1.0)}


# -- 1. one worst point --------------------------------------------------------------------------------------------
def _row(point: str, verdict: str, error: float | None, limit: float | None, test: str = "accuracy",
         reason: str = "") -> dict[str, Any]:
    return {"position": 10, "serial": "M-10", "test": test, "point": point, "verdict": verdict, "error_pct": error,
            "limit_pct": limit, "reason": reason}


CREEPER = [
    _row("Imax PF 0.5L", "pass", -0.149, 1.0),  # the largest share of a limit among the passes: 0.149
    _row("Itr PF 1", "pass", 0.12, 1.0),
    _row("Ist 0.02 A", "pass", None, 0.0, test="starting", reason="2 pulse(s) at Ist"),
    _row("no load 253 V", "fail", None, 0.0, test="no_load",
         reason="3 pulse(s) in 39.5 min at 253 V, no current (allowed ≤ 1; Δt ≥ …)"),
]


def test_a_failed_point_without_a_percentage_error_is_the_worst_point() -> None:
    w = worst_row(CREEPER)
    assert w is not None and w["point"] == "no load 253 V"
    (s,) = meter_summaries(CREEPER)
    assert (s.worst_point, s.worst_error_pct, s.worst_limit_pct, s.worst_ratio) == ("no load 253 V", None, None, None)
    assert s.worst_text == "no load 253 V: 3 pulse(s) in 39.5 min at 253 V, no current"
    # a results frame holds NaN where the session's row dicts hold None: the same answer
    from_frame = worst_row(pd.DataFrame(CREEPER).to_dict("records"))
    assert from_frame is not None and from_frame["point"] == "no load 253 V"


def test_the_worst_text_of_a_point_with_an_error() -> None:
    (s,) = meter_summaries([_row("Imin PF 1", "fail", 2.312, 1.5), _row("Itr PF 1", "pass", 0.9, 1.0)])
    # 2.312 / 1.5 = 1.54 and a fail; 0.9 / 1.0 passes
    assert s.worst_text == "Imin PF 1: +2.312 % of ±1.5 %"
    assert s.worst_ratio == pytest.approx(2.312 / 1.5)


# -- 3. no percentage limit ----------------------------------------------------------------------------------------
def test_rows_without_a_percentage_limit_show_no_limit() -> None:
    (s,) = meter_summaries(CREEPER)
    text = summary_text([s])
    line = text.splitlines()[2]
    assert "0.00" not in line
    assert "no_load / no load 253 V  —        —        —" in line
    assert "0.00" not in summary_html([s]) and "<td class=\"num\">—</td>" in summary_html([s])
    rows = [_row("no load 253 V", "fail", None, 0.0, test="no_load")]
    assert point_table(rows, "no_load", "no load 253 V")["limit_pct"].isna().all()
    csv_line = point_table_csv(rows, "no_load", "no load 253 V").splitlines()[1].split(",")
    header = point_table_csv(rows, "no_load", "no load 253 V").splitlines()[0].split(",")
    assert csv_line[header.index("limit_pct")] == ""
    assert "0.00" not in point_table_html(rows, "no_load", "no load 253 V")
    # a positive limit still shows
    assert "1.50" in summary_text(meter_summaries([_row("Imin PF 1", "fail", 2.3, 1.5)]))


def test_the_error_curve_draws_no_envelope_for_rows_without_a_limit() -> None:
    rows = [r | {"limit_pct": 0.0} for r in _curve_rows() if r["element"] == "all"]
    fig = error_curve_figure(rows, "M-1")
    assert all(not ax.patches for ax in fig.axes)


# -- 4. a broken meter's reason ------------------------------------------------------------------------------------
def test_a_broken_meter_shows_its_first_broken_reason_shortened() -> None:
    long = "no pulses from the meter within 63 s (expected one every 20.9 s at 172.5 W)"
    rows = [_row("Itr PF 0.5L", "broken", None, 1.5, reason=long),
            _row("Imax PF 1", "broken", None, 1.0, reason="no pulses from the meter within 1 s (…)"),
            _row("Iref PF 1", "pass", 0.3, 1.0)]
    (s,) = meter_summaries(rows)
    assert (s.verdict, s.reason) == ("broken", long)
    assert console_cell(s) == "no pulses from the meter within 63 s\nworst Iref PF 1: +0.300 % of ±1 %"
    assert summary_text([s]).splitlines()[2].endswith("no pulses from the meter within 63 s")
    page = summary_html([s])
    assert "<td>no pulses from the meter within 63 s</td>" in page and "expected one every" not in page
    # a passing or failing meter has no reason of its own
    assert meter_summaries([_row("a", "pass", 0.1, 1.0)])[0].reason is None


def test_short_reason() -> None:
    assert short_reason("bench fault: source: outputs did not settle") == "bench fault: source: outputs did not settle"
    assert short_reason("a (b)") == "a"
    assert short_reason(None) == ""
    long = "no pulses: the meter's pulse output gave nothing at every accuracy point of this run (28 point(s))"
    cut = short_reason(long)
    assert cut.endswith("…") and len(cut) <= 60 and long.startswith(cut[:-1])
    assert " " not in cut[-2:]  # cut at a word boundary


# -- end to end: Allure, summary.txt and the CLI name the same worst point ------------------------------------------
PLAN = textwrap.dedent("""\
    plan: reporting consistency (short)
    standard: IEC 62053-21
    edition: "2020"
    class: "1"
    tests:
      - id: balanced
        kind: accuracy
        load: balanced
        currents: [Imin, Itr, "2 Itr", Imax]
        power_factors: ["1", "0.5L"]
      - id: no-load
        kind: no_load
    """)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    d = tmp_path_factory.mktemp("consistency")
    plan = d / "short.yaml"
    plan.write_text(PLAN, encoding="utf-8")
    out = d / "run"
    env = {**os.environ, "COLUMNS": "200"}  # one line per meter in the console table
    p = subprocess.run([sys.executable, "-m", "hil.cli", "run", str(plan), "--out", str(out), "--no-progress"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, env=env)
    assert p.returncode == 1, p.stdout  # meters fail: pytest exit 1
    return out, p.stdout


def _hand_worst(rows: pd.DataFrame) -> str | None:
    """By the definition (docs/reporting.md): fails first (the first one if none has a percentage error), then the
    largest |error| / limit among judged points with a positive limit."""
    fails = rows[rows["verdict"] == "fail"]
    pool = fails if len(fails) else rows[rows["verdict"] == "pass"]
    best: tuple[float, str] | None = None
    for _, r in pool.iterrows():
        e, lim = r["error_pct"], r["limit_pct"]
        ratio = abs(e) / lim if pd.notna(e) and pd.notna(lim) and lim > 0 else None
        if ratio is None and r["verdict"] != "fail":
            continue
        key = ratio if ratio is not None else -1.0
        if best is None or key > best[0]:
            best = (key, str(r["point"]))
    return best[1] if best else None


def _allure_summaries(run: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for path in (run / "allure-results").glob("*-result.json"):
        r = json.loads(path.read_text(encoding="utf-8"))
        labels = {lab["name"]: lab["value"] for lab in r["labels"]}
        if labels.get("feature") == "summary":
            out[labels["suite"]] = r
    return out


def test_allure_summary_txt_and_cli_agree_on_every_meters_worst_point(short_run: tuple[Path, str]) -> None:
    run, stdout = short_run
    results = read_results(run)
    allure = _allure_summaries(run)
    txt = (run / "summary.txt").read_text(encoding="utf-8").splitlines()
    cli = [line for line in stdout.splitlines() if "│" in line]
    serials = results.groupby("position")["serial"].first()
    assert set(allure) == set(serials)
    for pos, serial in serials.items():
        rows = results[results["serial"] == serial]
        point = _hand_worst(rows)
        desc = allure[serial].get("description", "")
        txt_line = next(line for line in txt if f" {serial} " in line)
        cli_line = next(line for line in cli if f" {serial} " in line)
        if point is None:
            assert "no measured point" in desc and "worst" not in cli_line, pos
            continue
        assert f"worst point {point}:" in desc, (pos, desc)
        assert f" / {point} " in txt_line, (pos, txt_line)
        assert f"│ {point}:" in cli_line, (pos, cli_line)
        if allure[serial]["status"] == "failed":
            assert f"worst point {point}:" in allure[serial]["statusDetails"]["message"]
    # the creeping meter: its no-load fail, not its largest passed error, everywhere
    creeper = serials[10]
    assert "worst point no load" in allure[creeper]["description"]
    assert "worst point no load" in allure[creeper]["statusDetails"]["message"]
    creep_line = next(line for line in txt if f" {creeper} " in line)
    assert "no_load / no load" in creep_line and "0.00" not in creep_line


def test_the_dead_meter_says_why_in_the_cli_and_in_summary_txt(short_run: tuple[Path, str]) -> None:
    run, stdout = short_run
    results = read_results(run)
    dead = results[results["position"] == 11]
    serial = str(dead["serial"].iloc[0])
    first_reason = str(dead["reason"].iloc[0])
    assert set(dead["verdict"]) == {"broken"} and first_reason.startswith("no pulses from the meter within")
    short = first_reason.split(" (")[0]  # the first clause, by hand
    cli_line = next(line for line in stdout.splitlines() if f" {serial} " in line)
    assert "broken" in cli_line and short in cli_line and "expected one every" not in cli_line
    txt_line = next(line for line in (run / "summary.txt").read_text(encoding="utf-8").splitlines()
                    if f" {serial} " in line)
    assert txt_line.endswith(short)
    assert first_reason in _allure_summaries(run)[serial]["statusDetails"]["message"]


def test_the_run_rows_envelope_is_the_class_1_table(short_run: tuple[Path, str]) -> None:
    """Limits as the standards library gave them to the run, drawn: the envelope matches the table by hand."""
    run, _ = short_run
    results = read_results(run)
    rows = results[(results["position"] == 1) & (results["test"] == "accuracy")]
    assert rows["current_a"].min() == pytest.approx(IMIN)  # the simulated meters' Imin, as assumed above
    for pf, p in rows.groupby("pf"):
        edges, values = limit_envelope(p["current_a"], p["limit_pct"])
        for current in _log_grid(edges[0], IMAX):
            assert step_value(edges, values, current) == class1_limit(str(pf), "all", current), (pf, current)


def test_console_summary_columns() -> None:
    rows = console_summary(meter_summaries(CREEPER))
    assert rows == [("10", "M-10", "fail", "4", "no load 253 V: 3 pulse(s) in 39.5 min at 253 V, no current")]
