"""A kill between the CSV append and the Parquet part of a point: `repair_results` brings the Parquet up to the CSV
(the writer's dtypes, stale temp files removed); a writer opening the run directory repairs it first; the parts
are compacted into results.parquet without losing or duplicating a row, whenever a kill falls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hil.results import COLUMNS, PARTS, ResultsWriter, compact_results, read_results, repair_results


def _point(point: str, error: float | None) -> list[dict[str, Any]]:
    """One point on two positions; PF "1" only, so a CSV reader would take it for a number."""
    rows = []
    for pos in (1, 2):
        r: dict[str, Any] = dict.fromkeys(COLUMNS, "")
        r.update(run_id="r", bench="b", position=pos, serial=f"S{pos:03d}", test="accuracy", point=point,
                 voltage_v=230.0, current_a=5.0, pf="1", element="all", frequency_hz=50.0,
                 pulses=None if error is None else 12, duration_s=10.5, error_pct=error, limit_pct=1.0,
                 uncertainty_pct=0.02, verdict="broken" if error is None else "pass",
                 calibration_override=False, uncertainty_adequate=None if error is None else True)
        rows.append(r)
    return rows


def _killed_between_writes(run_dir: Path) -> ResultsWriter:
    """Two points in the CSV, only the first in the Parquet parts, and the temp file of the interrupted part."""
    w = ResultsWriter(run_dir)
    w.append(_point("Iref PF 1", 0.125))
    w.append(_point("Imax PF 1", None))
    (run_dir / PARTS / "part-000002.parquet").unlink()
    (run_dir / PARTS / "tmpab12cd.parquet.tmp").write_bytes(b"PAR1 half written")
    return w


def test_every_point_is_one_part_file_compacted_at_the_end(tmp_path: Path) -> None:
    w = ResultsWriter(tmp_path)
    for k in range(5):
        w.append(_point(f"P{k}", 0.1 * k))
    parts = sorted(p.name for p in (tmp_path / PARTS).iterdir())
    assert parts == [f"part-{k:06d}.parquet" for k in range(1, 6)]  # a point costs its own rows only
    assert all(len(pd.read_parquet(tmp_path / PARTS / p)) == 2 for p in parts)
    assert len(read_results(tmp_path)) == 10  # readable mid-run
    w.compact()
    assert not (tmp_path / PARTS).exists()  # every part merged
    df = pd.read_parquet(tmp_path / "results.parquet")
    pd.testing.assert_frame_equal(df, w.frame())  # as if written whole
    assert list(df["point"]) == [f"P{k}" for k in range(5) for _ in (1, 2)]


def test_a_kill_between_compaction_and_the_parts_removal_duplicates_nothing(tmp_path: Path) -> None:
    w = ResultsWriter(tmp_path)
    w.append(_point("Iref PF 1", 0.125))
    w.append(_point("Imax PF 1", 0.25))
    kept = {p.name: p.read_bytes() for p in (tmp_path / PARTS).iterdir()}
    w.compact()
    (tmp_path / PARTS).mkdir()
    for name, data in kept.items():  # the parts back, as if the kill fell before their removal
        (tmp_path / PARTS / name).write_bytes(data)
    assert len(read_results(tmp_path)) == 4
    w2 = ResultsWriter(tmp_path)  # a resume: every row once
    assert len(w2.rows) == 4 and not list(tmp_path.glob(f"{PARTS}/part-*"))
    w2.append(_point("Itr PF 1", 0.5))
    assert list(read_results(tmp_path)["point"]) == ["Iref PF 1"] * 2 + ["Imax PF 1"] * 2 + ["Itr PF 1"] * 2
    assert compact_results(tmp_path) == 2 and len(pd.read_parquet(tmp_path / "results.parquet")) == 6


def test_parquet_rebuilt_from_the_longer_csv_with_the_writer_dtypes(tmp_path: Path) -> None:
    w = _killed_between_writes(tmp_path)
    assert len(pd.read_parquet(tmp_path / PARTS / "part-000001.parquet")) == 2
    assert repair_results(tmp_path) == 2
    df = pd.read_parquet(tmp_path / "results.parquet")
    assert len(df) == 4 and list(df["point"]) == ["Iref PF 1"] * 2 + ["Imax PF 1"] * 2
    # exactly what the writer would have written, had it not been killed
    pd.testing.assert_frame_equal(df, w.frame())
    assert str(df["position"].dtype) == "Int64" and str(df["pulses"].dtype) == "Int64"
    assert df["pulses"].isna().sum() == 2 and df["error_pct"].dtype == "float64"
    assert list(df["pf"]) == ["1"] * 4  # text, not the number 1
    assert not list(tmp_path.glob("tmp*")) and not (tmp_path / PARTS).exists()
    assert repair_results(tmp_path) == 0  # nothing more to do


def test_a_row_cut_short_by_the_kill_is_dropped(tmp_path: Path) -> None:
    ResultsWriter(tmp_path).append(_point("Iref PF 1", 0.125))
    csv = tmp_path / "results.csv"
    whole = csv.read_bytes()
    csv.write_bytes(whole + whole.splitlines(keepends=True)[1][:30])  # half a row, no line break
    assert repair_results(tmp_path) == 0
    assert csv.read_bytes() == whole
    assert len(read_results(tmp_path)) == 2


def test_csv_without_parquet(tmp_path: Path) -> None:
    ResultsWriter(tmp_path).append(_point("Iref PF 1", 0.125))
    (tmp_path / PARTS / "part-000001.parquet").unlink()  # killed before the first Parquet write
    assert repair_results(tmp_path) == 2
    assert list(pd.read_parquet(tmp_path / "results.parquet")["serial"]) == ["S001", "S002"]


def test_nothing_to_repair(tmp_path: Path) -> None:
    assert repair_results(tmp_path) == 0  # no results yet
    ResultsWriter(tmp_path).append(_point("Iref PF 1", 0.125))
    assert repair_results(tmp_path) == 0  # the part compacted, no row from the CSV needed
    before = (tmp_path / "results.parquet").read_bytes()
    assert repair_results(tmp_path) == 0
    assert (tmp_path / "results.parquet").read_bytes() == before


def test_a_writer_opening_the_run_repairs_it_and_resumes_every_row(tmp_path: Path) -> None:
    _killed_between_writes(tmp_path)
    w = ResultsWriter(tmp_path)  # e.g. `--resume`: the killed point is known as done
    assert [r["point"] for r in w.rows] == ["Iref PF 1"] * 2 + ["Imax PF 1"] * 2
    assert not list(tmp_path.glob("tmp*"))
    w.append(_point("Itr PF 1", -0.25))
    assert len(read_results(tmp_path)) == len(pd.read_csv(tmp_path / "results.csv")) == 6
    w.compact()
    assert len(pd.read_parquet(tmp_path / "results.parquet")) == 6


@pytest.mark.parametrize("name", ["tmpx.csv.tmp", "tmpy.json.tmp"])
def test_other_stale_temp_files_are_removed_but_nothing_else(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("half")
    (tmp_path / "tmp-notes.txt").write_text("keep")
    repair_results(tmp_path)
    assert not (tmp_path / name).exists() and (tmp_path / "tmp-notes.txt").exists()


def test_csv_and_parquet_agree_row_for_row_when_a_point_widens_the_table(tmp_path: Path) -> None:
    """A point that brings a new column (a kind's own measurement) rewrites the CSV with the wider header: the
    new point's rows must be in it as in the Parquet, and the earlier rows must have the new column empty."""
    from hil.results import _read_csv

    w = ResultsWriter(tmp_path)
    w.append(_point("Iref PF 1", 0.125))
    wide = _point("Imax PF 1", -0.25)
    for i, r in enumerate(wide):
        r["drift_s_per_day"] = 0.1 * (i + 1)  # a column no earlier row has
    w.append(wide)
    w.append(_point("Itr PF 1", 0.5))  # and one more after the widening, appended to the wider file
    w.compact()
    csv_rows = _read_csv(tmp_path / "results.csv")
    parquet_rows = pd.read_parquet(tmp_path / "results.parquet")
    assert len(csv_rows) == len(parquet_rows) == 6
    assert list(csv_rows.columns) == list(parquet_rows.columns)
    assert list(csv_rows["point"]) == ["Iref PF 1"] * 2 + ["Imax PF 1"] * 2 + ["Itr PF 1"] * 2
    assert list(csv_rows["error_pct"]) == [0.125, 0.125, -0.25, -0.25, 0.5, 0.5]
    assert list(csv_rows["drift_s_per_day"].isna()) == [True, True, False, False, True, True]
    assert list(csv_rows["drift_s_per_day"].dropna()) == pytest.approx([0.1, 0.2])
    for col in ("point", "position", "error_pct", "verdict", "drift_s_per_day"):
        assert csv_rows[col].astype(str).tolist() == parquet_rows[col].astype(str).tolist(), col
