"""Point tables and the end-of-run summary per meter, checked against values worked out by hand."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hil.reporting.tables import (
    meter_summaries,
    meter_verdict,
    point_table,
    point_table_csv,
    point_table_html,
    summary_html,
    summary_text,
)
from hil.results import read_results
from tests.reporting import rundir


def _hand_worst(serial: str) -> tuple[str, float]:
    """Worst point by the definition: max |error| / limit over the measured accuracy points."""
    best: tuple[str, float] | None = None
    for _, point, _, _, _, limit in rundir.POINTS:
        e = rundir.ERRORS[serial][point]
        if e is None:
            continue
        ratio = abs(e) / limit
        if best is None or ratio > best[1]:
            best = (point, ratio)
    assert best is not None
    return best


def test_worst_point_per_meter_matches_hand_calculation(run_dir: Path) -> None:
    summaries = {s.serial: s for s in meter_summaries(read_results(run_dir))}
    assert list(summaries) == ["MTR-0001", "MTR-0002", "MTR-0003"]
    for serial in rundir.METERS:
        point, ratio = _hand_worst(serial)
        s = summaries[serial]
        assert s.worst_point == point
        assert s.worst_ratio == pytest.approx(ratio, rel=1e-12)
    # the same, worked on paper: 0.9/2.0 beats 0.64/1.5 = 0.427; 1.37/1.0; 0.8/1.0 beats 1.1/2.0 = 0.55
    assert (summaries["MTR-0001"].worst_point, summaries["MTR-0001"].worst_ratio) == ("Iref PF 1 L1", 0.45)
    assert summaries["MTR-0002"].worst_point == "Imax PF 1"
    assert summaries["MTR-0002"].worst_ratio == pytest.approx(1.37)
    assert summaries["MTR-0002"].worst_error_pct == pytest.approx(1.37)
    assert summaries["MTR-0002"].worst_limit_pct == pytest.approx(1.0)
    assert summaries["MTR-0003"].worst_point == "Iref PF 0.5L"
    assert summaries["MTR-0003"].worst_ratio == pytest.approx(0.8)


def test_meter_verdicts_and_counts(run_dir: Path) -> None:
    s = {m.serial: m for m in meter_summaries(read_results(run_dir))}
    n_points = len(rundir.POINTS) + 1  # + the no-load point
    assert [(m.position, m.verdict) for m in s.values()] == [(1, "pass"), (2, "fail"), (3, "broken")]
    assert all(m.points == n_points for m in s.values())
    assert (s["MTR-0001"].passed, s["MTR-0001"].failed, s["MTR-0001"].broken) == (n_points, 0, 0)
    assert (s["MTR-0002"].passed, s["MTR-0002"].failed, s["MTR-0002"].broken) == (n_points - 1, 1, 0)
    assert (s["MTR-0003"].passed, s["MTR-0003"].failed, s["MTR-0003"].broken) == (n_points - 1, 0, 1)


def test_meter_verdict_severity() -> None:
    assert meter_verdict(["pass", "broken", "fail", "pass"]) == "fail"
    assert meter_verdict(["pass", "broken", "skipped"]) == "broken"
    assert meter_verdict(["pass", "skipped"]) == "pass"
    assert meter_verdict(["skipped"]) == "skipped"
    assert meter_verdict([]) == "skipped"


def _row(point: str, verdict: str, error: float | None, limit: float | None, test: str = "accuracy") -> dict[str, Any]:
    return {"position": 4, "serial": "X-1", "test": test, "point": point, "verdict": verdict, "error_pct": error,
            "limit_pct": limit}


def test_a_fail_ranks_above_a_pass_that_uses_more_of_its_limit() -> None:
    # guard-banded decision (ILAC-G8): 0.97 % of ±1 % with U = 0.05 % fails; 0.9 % of ±1 % passes elsewhere
    rows = [_row("a", "pass", 0.9, 1.0), _row("b", "fail", -0.97, 1.0), _row("c", "pass", 1.2, 1.5)]
    (s,) = meter_summaries(rows)
    assert (s.verdict, s.worst_point) == ("fail", "b")
    assert s.worst_ratio == pytest.approx(0.97)


def test_a_fail_without_a_percentage_error_is_the_worst_point_when_nothing_else_failed() -> None:
    rows = [_row("Iref", "pass", 0.5, 1.0), _row("creep", "fail", None, None, test="no_load")]
    (s,) = meter_summaries(rows)
    assert (s.verdict, s.worst_test, s.worst_point, s.worst_ratio) == ("fail", "no_load", "creep", None)


def test_no_worst_point_without_a_measured_error() -> None:
    rows = [_row("creep", "pass", None, None, test="no_load"), _row("Itr", "broken", None, 1.0)]
    (s,) = meter_summaries(rows)
    assert (s.verdict, s.worst_point, s.worst_ratio) == ("broken", None, None)
    assert meter_summaries([]) == []


def test_point_table_lists_every_position_in_order(run_dir: Path) -> None:
    frame = read_results(run_dir).sample(frac=1.0, random_state=3)  # order must come from the positions
    table = point_table(frame, "accuracy", "Imax PF 1")
    assert list(table["position"]) == [1, 2, 3]
    assert list(table["serial"]) == list(rundir.METERS)
    assert list(table["verdict"]) == ["pass", "fail", "pass"]
    assert list(table["error_pct"]) == [rundir.ERRORS[s]["Imax PF 1"] for s in rundir.METERS]
    assert "reason" in table.columns and "decision_rule" in table.columns


def test_point_table_csv_round_trips(run_dir: Path) -> None:
    text = point_table_csv(read_results(run_dir), "accuracy", "Itr PF 0.5L")
    recs = list(csv.DictReader(io.StringIO(text)))
    assert [r["serial"] for r in recs] == list(rundir.METERS)
    assert [r["verdict"] for r in recs] == ["pass", "pass", "broken"]
    assert float(recs[0]["error_pct"]) == pytest.approx(0.64)
    assert float(recs[1]["error_pct"]) == pytest.approx(1.2)
    assert recs[2]["error_pct"] == ""  # broken: no error
    assert recs[2]["reason"] == rundir.NO_PULSES


def test_point_table_html_shows_conditions_and_escapes(run_dir: Path) -> None:
    page = point_table_html(read_results(run_dir), "accuracy", "Imax PF 1")
    assert "U 230.0 V, I 60.0000 A, PF 1" in page
    assert page.count("<tr>") == 1 + 3  # header + one row per position
    assert 'class="verdict-fail"' in page and "1.3700" in page
    rows = [_row("<b>x</b>", "pass", 0.1, 1.0)]
    assert "<b>x</b>" not in point_table_html(rows, "accuracy", "<b>x</b>")


def test_summary_text_and_html(run_dir: Path) -> None:
    summaries = meter_summaries(read_results(run_dir))
    lines = summary_text(summaries).splitlines()
    assert lines[0].split()[:3] == ["pos", "serial", "verdict"]
    body = {line.split()[1]: line.split() for line in lines[2:]}
    assert body["MTR-0002"][2] == "FAIL" and "1.37" in body["MTR-0002"]
    assert body["MTR-0003"][2] == "BROKEN"
    page = summary_html(summaries)
    assert page.count("<tr>") == 4 and "Iref PF 1 L1" in page


def test_summaries_accept_row_dicts_as_the_runner_holds_them() -> None:
    rows = rundir.rows()
    from_dicts = meter_summaries(rows)
    from_frame = meter_summaries(pd.DataFrame(rows))
    assert from_dicts == from_frame
    assert not any(isinstance(s.worst_ratio, float) and math.isnan(s.worst_ratio) for s in from_dicts)
