"""Results tables of stress sequences, written into the run directory.

- ``reliability.csv``: per sequence test, the life data (units, failures, censored, left out, total unit-hours),
  the Weibull fit with its likelihood-ratio bounds when there are ≥ 2 failures (hil.reliability.weibull,
  IEC 61649 §7), and the MTBF as a time-terminated test: T/r and the one-sided lower bounds 2T/χ²(CL; 2r + 2)
  (IEC 60605-4 §6, standards.md §8) at the confidence levels of :data:`MTBF_CONFIDENCES`;
  Life is in the test's ``life_unit``: hours (burn-in, environmental kinds), thermal or power cycles (thermal
  cycling, power cycling: :func:`hil.reliability.life_data_from_results`); a test in cycles fills the same columns
  named in cycles (``total_unit_cycles``, ``eta_cycles``, ``mcbf_point_cycles``, ``mcbf_lower_90pct_cycles`` …);
- ``sequence_summary.csv`` / ``.html``: per meter, survived or failed, failure mode, time and window, and the
  interruptions of each sequence.

The constant-failure-rate MTBF and the Weibull fit are both given: the MTBF bound is what a demonstration asks
for, β says whether the rate was constant at all (β < 1: early failures, which a burn-in is meant to find).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hil.reporting import sequence_data as sd
from hil.reporting.tables import _html_table
from hil.values import finite_or_none

#: one-sided confidence levels of the MTBF lower bounds in reliability.csv: 60 % and 90 % are the levels
#: MIL-HDBK-781A's test plans use (the report's choice, not a limit of a standard)
MTBF_CONFIDENCES: tuple[float, ...] = (0.6, 0.9)
RELIABILITY_CSV = "reliability.csv"
SUMMARY_CSV = "sequence_summary.csv"
SUMMARY_HTML = "sequence_summary.html"


def _pct(cl: float) -> str:
    return f"{cl * 100:g}"



def _in_cycles(row: dict[str, Any]) -> dict[str, Any]:
    """A row's hour-named columns named for a life in cycles: ``_h``/``hours`` → ``cycles``, ``mtbf`` → ``mcbf``."""
    def name(c: str) -> str:
        c = c.replace("hours", "cycles").replace("mtbf", "mcbf")
        return c[:-2] + "_cycles" if c.endswith("_h") else c
    return {name(k): v for k, v in row.items()}


def _unit_of_rows(rows: pd.DataFrame) -> str:
    from hil.reliability import HOURS

    units = [u for u in rows.get("life_unit", pd.Series(dtype=object)).tolist() if isinstance(u, str) and u]
    return units[0] if units else HOURS


def reliability_table(results: pd.DataFrame, confidences: Sequence[float] = MTBF_CONFIDENCES) -> pd.DataFrame:
    """One row per sequence test of the run (columns as in docs/reporting.md), life in the test's unit."""
    from hil.reliability.lifedata import is_cycles

    out = []
    for test_id in sd.sequence_tests(results):
        row = _reliability_row(results, test_id, confidences)
        out.append(_in_cycles(row) if is_cycles(row["life_unit"]) else row)
    return pd.DataFrame(out)


def _reliability_row(results: pd.DataFrame, test_id: str, confidences: Sequence[float]) -> dict[str, Any]:
    from hil.reliability import DEFAULT_CONFIDENCE, life_data_from_results, mtbf_lower_bound  # scipy: lazily
    from hil.reliability.summary import summarise_life

    rows = sd.rows_of(results, test_id)
    row: dict[str, Any] = {"test_id": test_id, "kind": str(rows["test"].iloc[0]) if "test" in rows else "",
                           "life_unit": _unit_of_rows(rows)}
    try:
        data = life_data_from_results(results, [test_id])
    except ValueError as exc:  # every row broken: nothing to analyse
        row.update(units=0, failures=0, censored=0, excluded=len(rows), total_unit_hours=0.0, note=str(exc))
        return row
    row.update(units=data.n, failures=data.failures, censored=data.censored, excluded=len(data.excluded),
               total_unit_hours=float(data.hours.sum()), weibull_confidence=DEFAULT_CONFIDENCE)
    try:
        life = summarise_life(data, DEFAULT_CONFIDENCE)
        fit, note = life.fit, ("" if life.fit is not None else f"no Weibull fit: {life.fit_note}")
    except ValueError as exc:  # e.g. every failure at the longest time: β is not determined
        fit, note = None, f"no Weibull fit: {exc}"
    if fit is not None:
        row.update(beta=fit.beta, beta_lower=fit.beta_interval[0], beta_upper=finite_or_none(fit.beta_interval[1]),
                   eta_h=fit.eta, eta_lower_h=fit.eta_interval[0], eta_upper_h=finite_or_none(fit.eta_interval[1]))
    total = row["total_unit_hours"]
    row["mtbf_point_h"] = total / data.failures if data.failures else None
    for cl in confidences:
        row[f"mtbf_lower_{_pct(cl)}pct_h"] = mtbf_lower_bound(total, data.failures, cl)
    row["note"] = note
    return row


def _outcome(verdict: str) -> str:
    return {"pass": "survived", "fail": "failed"}.get(verdict, verdict)


def sequence_summary(results: pd.DataFrame) -> pd.DataFrame:
    """One row per meter and sequence test: outcome, failure mode, failure time and window, hours on test."""
    cols = ["test_id", "position", "serial", "outcome", "failure_mode", "failure_time_h", "failed_after_h",
            "failed_before_h", "sequence_h", "reason"]
    out = []
    for test_id in sd.sequence_tests(results):
        for r in sd.rows_of(results, test_id).to_dict("records"):
            rec = {str(k): v for k, v in r.items()}
            out.append({
                "test_id": test_id, "position": int(rec["position"]), "serial": str(rec.get("serial", "")),
                "outcome": _outcome(str(rec.get("verdict"))), "failure_mode": rec.get("failure_mode") or "",
                **{c: finite_or_none(rec.get(c)) for c in ("failure_time_h", "failed_after_h", "failed_before_h",
                                                       "sequence_h")},
                "reason": str(rec.get("reason") or ""),
            })
    return pd.DataFrame(out, columns=cols)


def interruption_lines(run_dir: str | Path, tests: Sequence[str]) -> list[str]:
    """One line per interruption of the run's sequences (summary text, HTML caption)."""
    return [f"{t}: {g.title}" for t in tests for g in sd.interruptions(run_dir, t)]


def sequence_summary_html(summary: pd.DataFrame, interruptions: Sequence[str] = (),
                          caption: str = "Stress sequences: summary per meter") -> str:
    """The summary per meter as a small HTML page; interruptions are listed in the caption."""
    if interruptions:
        caption += " — " + "; ".join(interruptions)
    verdicts = {"survived": "pass", "failed": "fail"}
    rows = [["–" if v is None or (isinstance(v, float) and math.isnan(v)) else
             (f"{v:.3f}" if isinstance(v, float) else str(v)) for v in rec]
            for rec in summary.itertuples(index=False)]
    statuses = [verdicts.get(str(o), str(o)) for o in summary["outcome"]] if "outcome" in summary else []
    header = ["verdict" if c == "outcome" else c for c in summary.columns]  # coloured like the other tables
    return _html_table(caption, header, rows, statuses)


def write_sequence_tables(run_dir: str | Path, results: pd.DataFrame) -> list[Path]:
    """Write ``reliability.csv``, ``sequence_summary.csv`` and ``sequence_summary.html`` (nothing without
    sequences); returns the files written."""
    d = Path(run_dir)
    tests = sd.sequence_tests(results)
    if not tests:
        return []
    rel = d / RELIABILITY_CSV
    reliability_table(results).to_csv(rel, index=False, float_format="%.6g", lineterminator="\n")
    summary = sequence_summary(results)
    csv = d / SUMMARY_CSV
    summary.to_csv(csv, index=False, float_format="%.6g", lineterminator="\n")
    page = d / SUMMARY_HTML
    page.write_text(sequence_summary_html(summary, interruption_lines(d, tests)), encoding="utf-8")
    return [rel, csv, page]
