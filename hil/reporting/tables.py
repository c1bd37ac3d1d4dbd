"""Tables of a run: one load point across all positions, and the end-of-run summary per meter.

Both read the long-format results table (columns :data:`hil.results.COLUMNS`). The *worst point* of a meter is the
one with the largest |error| / limit (the share of its limit a point uses up); a failed point always ranks above a
passed one, so a guard-banded fail (ILAC-G8) or a fail without a percentage error (no-load, starting) is never
hidden behind a passed point. :func:`worst_row` is the one place that rule lives: the CLI summary, ``summary.txt``
/ ``summary.html`` and the Allure meter-verdict result all take their worst point from it.

Rows without a percentage limit (starting, no-load, meter constant, the functional checks: ``limit_pct`` 0 or
empty) show no limit ("—", an empty CSV cell), never "0.00".
"""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from hil.values import finite_or_none

#: columns of a point table, in this order (``reason``/``decision_rule`` added when the results have them)
POINT_COLUMNS: tuple[str, ...] = (
    "position", "serial", "error_pct", "limit_pct", "uncertainty_pct", "verdict", "pulses", "duration_s",
)
_OPTIONAL_POINT_COLUMNS: tuple[str, ...] = (
    "n_ref", "value", "unit", "limit", "value_uncertainty", "decision_rule", "reason",
)

#: a meter's verdict is the most severe of its points' verdicts, in this order
_SEVERITY: tuple[str, ...] = ("fail", "broken", "pass", "skipped")

#: what a table shows for a missing value (and for a row without a percentage limit)
MISSING = "—"
#: a reason in a one-line table cell is cut to about this many characters
REASON_WIDTH = 60


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
    worst_reason: str | None = None  # the worst point's reason (says what failed when it has no percentage error)
    reason: str | None = None  # a broken meter: the reason of its first broken point

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def worst_text(self) -> str:
        """The worst point in one line: ``Imin PF 1: +2.312 % of ±1.5 %``; a point without a percentage error
        says why it failed: ``no load 253 V: 3 pulse(s) in 39.5 min at 253 V, no current``; "" when none."""
        if self.worst_point is None:
            return ""
        if self.worst_error_pct is None:
            why = short_reason(self.worst_reason)
            return f"{self.worst_point}: {why}" if why else self.worst_point
        limit = f" of ±{self.worst_limit_pct:g} %" if self.worst_limit_pct is not None else ""
        return f"{self.worst_point}: {self.worst_error_pct:+.3f} %{limit}"


def positive_limit(limit_pct: Any) -> float | None:
    """A percentage limit, or None when it is missing or not positive (rows of tests judged otherwise: starting,
    no-load and meter-constant pulse counts, clock and tariff checks, store 0)."""
    lim = finite_or_none(limit_pct)
    return lim if lim is not None and lim > 0 else None


def usage_ratio(error_pct: Any, limit_pct: Any) -> float | None:
    """|error| / limit, or None when either is missing or the limit is not positive."""
    e, lim = finite_or_none(error_pct), positive_limit(limit_pct)
    if e is None or lim is None:
        return None
    return abs(e) / lim


def worst_row(rows: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The worst point of one meter's rows, or None when none is judged.

    Only judged rows count (pass, fail: a broken or skipped row has no valid error). A failed row ranks above every
    passed one; then the larger |error| / limit; a row without a percentage error (no-load, starting, functional)
    ranks below any with one, so among passes it never counts and among fails the first one in run order stands
    for them. Rows may hold None or NaN for a missing value (row dicts of a running session, or a results frame).
    """
    worst: tuple[tuple[bool, float], Mapping[str, Any]] | None = None
    for rec in rows:
        verdict = str(rec.get("verdict"))
        if verdict not in ("pass", "fail"):
            continue
        ratio = usage_ratio(rec.get("error_pct"), rec.get("limit_pct"))
        if ratio is None and verdict != "fail":
            continue
        key = (verdict == "fail", ratio if ratio is not None else -1.0)
        if worst is None or key > worst[0]:
            worst = (key, rec)
    return worst[1] if worst else None


def _text(value: Any) -> str | None:
    """A text cell, or None when empty (None, NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def short_reason(reason: str | None, width: int = REASON_WIDTH) -> str:
    """A reason for a one-line table cell: its first clause (the part before a parenthesised detail or a ``;``),
    cut at a word boundary to about ``width`` characters with "…". The full reason stays in the results table and
    in Allure."""
    text = " ".join((reason or "").split())
    head = re.split(r" \(|; ", text, maxsplit=1)[0].rstrip(" ,:")
    text = head or text
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip(" ,;:") + "…"


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
        records = [{str(k): v for k, v in raw.items()} for raw in rows.to_dict("records")]
        w = worst_row(records)
        verdict = meter_verdict(verdicts)
        # a broken meter says why: the reason of its first broken point (run order)
        first_broken = next((r for r in records if str(r.get("verdict")) == "broken"), None)
        out.append(MeterSummary(
            position=_position(rows["position"].iloc[0]) if "position" in rows else None,
            serial=str(serial),
            verdict=verdict,
            points=len(rows),
            passed=verdicts.count("pass"),
            failed=verdicts.count("fail"),
            broken=verdicts.count("broken"),
            skipped=verdicts.count("skipped"),
            worst_test=str(w["test"]) if w else None,
            worst_point=str(w["point"]) if w else None,
            worst_error_pct=finite_or_none(w.get("error_pct")) if w else None,
            worst_limit_pct=positive_limit(w.get("limit_pct")) if w else None,
            worst_ratio=usage_ratio(w.get("error_pct"), w.get("limit_pct")) if w else None,
            worst_reason=_text(w.get("reason")) if w else None,
            reason=_text(first_broken.get("reason")) if verdict == "broken" and first_broken else None,
        ))
    out.sort(key=lambda s: (s.position is None, s.position or 0, s.serial))
    return out


def _fmt(x: Any, digits: int = 3) -> str:
    v = finite_or_none(x)
    return MISSING if v is None else f"{v:.{digits}f}"


def _fmt_limit(x: Any, digits: int = 2) -> str:
    """A percentage limit; "—" for a row without one (0 or empty)."""
    v = positive_limit(x)
    return MISSING if v is None else f"{v:.{digits}f}"


def _why(s: MeterSummary) -> str:
    """The reason column: why a meter is broken, or what failed at a worst point without a percentage error."""
    if s.reason:
        return short_reason(s.reason)
    if s.worst_point is not None and s.worst_error_pct is None:
        return short_reason(s.worst_reason)
    return ""


_SUMMARY_HEAD = ("worst point", "error %", "limit %", "|e|/limit", "reason")


def _summary_cells(s: MeterSummary) -> tuple[str, ...]:
    return (
        f"{s.worst_test} / {s.worst_point}" if s.worst_point is not None else MISSING,
        _fmt(s.worst_error_pct), _fmt_limit(s.worst_limit_pct), _fmt(s.worst_ratio, 2), _why(s),
    )


#: columns of the summary printed at the end of ``hil run`` (:func:`console_summary`)
CONSOLE_COLUMNS: tuple[str, ...] = ("pos", "serial", "verdict", "points", "worst point / reason")


def console_cell(s: MeterSummary) -> str:
    """The last cell of a meter's console row: its worst point (:attr:`MeterSummary.worst_text`); a broken meter
    first says why (its first broken point's reason, :func:`short_reason`), its worst point on a second line.
    One column for both keeps the table inside an 80-column console."""
    why = short_reason(s.reason)
    if not why:
        return s.worst_text
    return f"{why}\nworst {s.worst_text}" if s.worst_text else why


def console_summary(summaries: Sequence[MeterSummary]) -> list[tuple[str, ...]]:
    """The rows of the console summary (``hil run``), one per meter, cells as :data:`CONSOLE_COLUMNS`."""
    return [
        ("" if s.position is None else str(s.position), s.serial, s.verdict, str(s.points), console_cell(s))
        for s in summaries
    ]


def summary_text(summaries: Sequence[MeterSummary]) -> str:
    """The summary as a fixed-width text table (console, log, text attachment)."""
    head = ("pos", "serial", "verdict", "points", "pass", "fail", "broken", *_SUMMARY_HEAD)
    body = [
        (
            "" if s.position is None else str(s.position), s.serial, s.verdict.upper(), str(s.points), str(s.passed),
            str(s.failed), str(s.broken), *_summary_cells(s),
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
    header = ("position", "serial", "verdict", "points", "pass", "fail", "broken", *_SUMMARY_HEAD)
    rows = [
        (
            "" if s.position is None else str(s.position), s.serial, s.verdict, str(s.points), str(s.passed),
            str(s.failed), str(s.broken), *_summary_cells(s),
        )
        for s in summaries
    ]
    return _html_table(caption, header, rows, [s.verdict for s in summaries])


def point_table(results: Rows, test: str, point: str) -> pd.DataFrame:
    """The rows of one load point for all positions, ordered by position."""
    results = as_frame(results)
    rows = results[(results["test"].astype(str) == test) & (results["point"].astype(str) == point)]
    # optional columns only where this point has them (a functional check's value in its own unit, …)
    cols = [c for c in POINT_COLUMNS if c in rows.columns]
    cols += [c for c in _OPTIONAL_POINT_COLUMNS if c in rows.columns and rows[c].notna().any()]
    table = rows.sort_values("position", kind="stable")[cols].reset_index(drop=True)
    if "limit_pct" in table.columns:  # no percentage limit: an empty cell, not 0
        limit = pd.to_numeric(table["limit_pct"], errors="coerce").astype("float64")
        table["limit_pct"] = limit.where(limit > 0)
    return table


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
                row.append(MISSING if p is None else str(p))
            else:
                row.append("" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
        rows.append(row)
    return _html_table(_conditions(results, test, point), list(table.columns), rows,
                       [str(v) for v in table["verdict"]] if "verdict" in table else [""] * len(rows))
