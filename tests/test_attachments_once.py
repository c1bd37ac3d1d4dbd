"""Lab scale (issue 17, item 2): a point's transcript and table are stored once and linked from every position's
Allure result; a meter's error curve is drawn once — by the run's meter summary — and reused by `hil report`
unless its points changed."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from hil.reporting.run import report_run
from tests.test_plan_run import hil
from tests.test_run_robustness import SHORT_PLAN
from tests.test_run_robustness import _two_positions as two_position_bench


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("once")
    (d / "plan.yaml").write_text(SHORT_PLAN, encoding="utf-8")
    p = hil("run", str(d / "plan.yaml"), "--sim-bench", str(two_position_bench(d / "sim.yaml")), "--out",
            str(d / "run"), "--no-progress")
    out = p.communicate(timeout=300)[0]
    assert p.returncode in (0, 1), out
    return d / "run"


def _attachments(run: Path) -> dict[str, list[tuple[str, str]]]:
    """Attachment name → [(source file, the result's name)] over every result."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for f in (run / "allure-results").glob("*-result.json"):
        res = json.loads(f.read_text(encoding="utf-8"))
        for a in res.get("attachments", []):
            found[a["name"]].append((a["source"], res["name"]))
    return found


def test_a_points_transcript_and_table_are_one_file_each(run: Path) -> None:
    found = _attachments(run)
    transcripts = found["SCPI transcript"]
    assert len(transcripts) == 4  # 2 points × 2 positions link it ...
    assert len({src for src, _ in transcripts}) == 2  # ... to one file per point
    tables = {k: v for k, v in found.items() if k.endswith(": all positions")}
    assert len(tables) == 2 and all(len({src for src, _ in v}) == 1 and len(v) == 2 for v in tables.values())
    for src, _ in transcripts:
        assert (run / "allure-results" / src).stat().st_size > 0
    files = list((run / "allure-results").glob("*-attachment.*"))
    distinct = {f.read_bytes() for f in files}
    assert len(files) <= 2 * len(distinct)


def test_the_error_curve_is_drawn_once_and_redrawn_only_for_other_points(run: Path) -> None:
    plots = sorted((run / "plots").glob("MHS*.png"))
    assert len(plots) == 2
    drawn = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in plots}
    found = _attachments(run)
    for p in plots:  # the meter summary's attachment is the very drawing in plots/
        (src, _), = found[f"error curve {p.stem}"]
        assert (run / "allure-results" / src).read_bytes() == drawn[p][1]
    report_run(run, html=False)
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in plots} == drawn  # reused, not drawn again
    rows = pd.read_parquet(run / "results.parquet")
    rows.loc[rows["position"] == 1, "error_pct"] += 0.3  # the first meter's points change
    rows.to_parquet(run / "results.parquet", index=False)
    for part in (run / "results.parts").glob("*.parquet") if (run / "results.parts").exists() else []:
        part.unlink()
    (run / "results.csv").unlink()
    report_run(run, html=False)
    first, second = plots
    assert first.read_bytes() != drawn[first][1]
    assert second.stat().st_mtime_ns == drawn[second][0]
