"""Tables of a run: one load point across all positions, and the end-of-run summary per meter.

Both read the long-format results table (columns :data:`hil.results.COLUMNS`). The *worst point* of a meter is the
one with the largest |error| / limit (the share of its limit a point uses up); a failed point always ranks above a
passed one, so a guard-banded fail (ILAC-G8) or a fail without a percentage error (no-load, starting) is never
hidden behind a passed point.
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from hil.values import finite_or_none

#: columns of a point table, in this order (``reason``/``decision_rule`` added when the results have them)
POINT_COLUMNS: tuple[str, ...] = (
    "position", "serial", "error_pct", "limit_pct", "uncertainty_pct", "verdict", "pulses", "duration_s",
)
_OPTIONAL_POINT_COLUMNS: tuple[str, ...] = ("decision_rule", "reason")

#: a meter's verdict is the most severe of its points' verdicts, in this order
_SEVERITY: tuple[str, ...] = ("fail", "broken", "pass", "skipped")


@dataclass(frozen=True)
class MeterSummary:
    """End-of-run summary of one meter."""

    position: int | None
    serial: str
    verdict: str  # fail > broken > pass > skipped (the most severe of its points)
    points: int
    passed: int
    failed: int
    broken: int
    skipped: int
    worst_test: str | None = None
    worst_point: str | None = None
    worst_error_pct: float | None = None
    worst_limit_pct: float | None = None
    worst_ratio: float | None = None  # |error| / limit of the worst point

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)



def usage_ratio(error_pct: Any, limit_pct: Any) -> float | None:
    """|error| / limit, or None when either is missing or the limit is not positive."""
    e, lim = finite_or_none(error_pct), finite_or_none(limit_pct)
    if e is None or lim is None or lim <= 0:
        return None
    return abs(e) / lim


def meter_verdict(verdicts: Sequence[str]) -> str:
    """The most severe verdict of a meter's points (``skipped`` for a meter with no points)."""
    present = set(verdicts)
    return next((v for v in _SEVERITY if v in present), "skipped")


def _position(value: Any) -> int | None:
    v = finite_or_none(value)
    return int(v) if v is not None else None


Rows = pd.DataFrame | Sequence[Mapping[str, Any]]


def as_frame(results: Rows) -> pd.DataFrame:
    """A results table from a frame or from row dicts (as the runner holds them before they reach disk)."""
    return results if isinstance(results, pd.DataFrame) else pd.DataFrame([dict(r) for r in results])


def meter_summaries(results: Rows) -> list[MeterSummary]:
    """One summary per meter (by serial), ordered by position."""
    results = as_frame(results)
    if results.empty:
        return []
    out: list[MeterSummary] = []
    for serial, rows in results.groupby("serial", sort=False):
        verdicts = [str(v) for v in rows["verdict"]]
        worst: tuple[tuple[bool, float], dict[str, Any]] | None = None
        for raw in rows.to_dict("records"):
            rec = {str(k): v for k, v in raw.items()}
            verdict = str(rec["verdict"])
            if verdict not in ("pass", "fail"):  # broken/skipped points carry no valid error
                continue
            ratio = usage_ratio(rec.get("error_pct"), rec.get("limit_pct"))
            if ratio is None and verdict != "fail":
                continue
            key = (verdict == "fail", ratio if ratio is not None else -1.0)
            if worst is None or key > worst[0]:
                worst = (key, rec)
        w = worst[1] if worst else None
        out.append(MeterSummary(
            position=_position(rows["position"].iloc[0]) if "position" in rows else None,
            serial=str(serial),
            verdict=meter_verdict(verdicts),
            points=len(rows),
            passed=verdicts.count("pass"),
            failed=verdicts.count("fail"),
            broken=verdicts.count("broken"),
            skipped=verdicts.count("skipped"),
            worst_test=str(w["test"]) if w else None,
            worst_point=str(w["point"]) if w else None,
            worst_error_pct=finite_or_none(w.get("error_pct")) if w else None,
            worst_limit_pct=finite_or_none(w.get("limit_pct")) if w else None,
            worst_ratio=usage_ratio(w.get("error_pct"), w.get("limit_pct")) if w else None,
        ))
    out.sort(key=lambda s: (s.position is None, s.position or 0, s.serial))
    return out


def _fmt(x: Any, digits: int = 3) -> str:
    v = finite_or_none(x)
    return "–" if v is None else f"{v:.{digits}f}"


def summary_text(summaries: Sequence[MeterSummary]) -> str:
    """The summary as a fixed-width text table (console, log, text attachment)."""
    head = ("pos", "serial", "verdict", "points", "pass", "fail", "broken", "worst point", "error %", "limit %",
            "|e|/limit")
    body = [
        (
            "" if s.position is None else str(s.position), s.serial, s.verdict.upper(), str(s.points), str(s.passed),
            str(s.failed), str(s.broken),
            f"{s.worst_test} / {s.worst_point}" if s.worst_point is not None else "–",
            _fmt(s.worst_error_pct), _fmt(s.worst_limit_pct, 2), _fmt(s.worst_ratio, 2),
        )
        for s in summaries
    ]
    widths = [max(len(r[i]) for r in (head, *body)) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in (head, *body)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _html_table(caption: str, header: Sequence[str], rows: Sequence[Sequence[str]], verdicts: Sequence[str]) -> str:
    """A self-contained HTML table (inline style: an Allure attachment is shown in a sandboxed frame)."""
    colours = {"pass": "#1b7f3b", "fail": "#c62828", "broken": "#b26a00", "skipped": "#666666"}
    parts = [
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><style>"
        "table{border-collapse:collapse;font:13px sans-serif}th,td{border:1px solid #bbb;padding:3px 8px}"
        "td.num{text-align:right;font-family:monospace}caption{font-weight:bold;padding:4px}</style></head><body>",
        f"<table><caption>{html.escape(caption)}</caption><thead><tr>",
        "".join(f"<th>{html.escape(h)}</th>" for h in header),
        "</tr></thead><tbody>",
    ]
    for row, verdict in zip(rows, verdicts, strict=True):
        cells = []
        for h, c in zip(header, row, strict=True):
            if h == "verdict":
                style = f" style=\"color:{colours.get(verdict, '#000')};font-weight:bold\""
                cells.append(f"<td class=\"verdict-{html.escape(verdict)}\"{style}>{html.escape(c)}</td>")
            else:
                num = " class=\"num\"" if h.endswith(("_pct", "_s", "pulses", "position", "%", "limit")) else ""
                cells.append(f"<td{num}>{html.escape(c)}</td>")
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table></body></html>\n")
    return "".join(parts)


def summary_html(summaries: Sequence[MeterSummary], caption: str = "Summary per meter") -> str:
    header = ("position", "serial", "verdict", "points", "pass", "fail", "broken", "worst point", "error %",
              "limit %", "|e|/limit")
    rows = [
        (
            "" if s.position is None else str(s.position), s.serial, s.verdict, str(s.points), str(s.passed),
            str(s.failed), str(s.broken),
            f"{s.worst_test} / {s.worst_point}" if s.worst_point is not None else "–",
            _fmt(s.worst_error_pct), _fmt(s.worst_limit_pct, 2), _fmt(s.worst_ratio, 2),
        )
        for s in summaries
    ]
    return _html_table(caption, header, rows, [s.verdict for s in summaries])


def point_table(results: Rows, test: str, point: str) -> pd.DataFrame:
    """The rows of one load point for all positions, ordered by position."""
    results = as_frame(results)
    rows = results[(results["test"].astype(str) == test) & (results["point"].astype(str) == point)]
    cols = [c for c in (*POINT_COLUMNS, *_OPTIONAL_POINT_COLUMNS) if c in rows.columns]
    return rows.sort_values("position", kind="stable")[cols].reset_index(drop=True)


def _conditions(results: pd.DataFrame, test: str, point: str) -> str:
    rows = results[(results["test"].astype(str) == test) & (results["point"].astype(str) == point)]
    if rows.empty:
        return f"{test} — {point}"
    r = rows.iloc[0]
    return (
        f"{test} — {point}: U {_fmt(r.get('voltage_v'), 1)} V, I {_fmt(r.get('current_a'), 4)} A, PF {r.get('pf')}, "
        f"element {r.get('element')}, f {_fmt(r.get('frequency_hz'), 2)} Hz"
    )


def point_table_csv(results: Rows, test: str, point: str) -> str:
    """The point table as CSV text (an Allure ``text/csv`` attachment)."""
    buf = io.StringIO()
    point_table(results, test, point).to_csv(buf, index=False, float_format="%.6g", lineterminator="\n")
    return buf.getvalue()


def point_table_html(results: Rows, test: str, point: str) -> str:
    """The point table as a small HTML page (an Allure ``text/html`` attachment)."""
    results = as_frame(results)
    table = point_table(results, test, point)
    digits = {"error_pct": 4, "limit_pct": 2, "uncertainty_pct": 4, "duration_s": 1}
    rows = []
    for rec in table.to_dict("records"):
        row = []
        for c in table.columns:
            v = rec[c]
            if c in digits:
                row.append(_fmt(v, digits[c]))
            elif c in ("position", "pulses"):
                p = _position(v)
                row.append("–" if p is None else str(p))
            else:
                row.append("" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
        rows.append(row)
    return _html_table(_conditions(results, test, point), list(table.columns), rows,
                       [str(v) for v in table["verdict"]] if "verdict" in table else [""] * len(rows))
