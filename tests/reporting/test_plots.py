"""Error-curve and summary plots: real PNG files of a fixed size, with a failed point visibly marked."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import image as mpimg

from hil.reporting.plots import curve_rows, error_curve_png, plot_file_name, png_size, summary_png, write_plots
from hil.results import read_results
from tests.reporting import rundir

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SIZE = (900, 560)  # 9 in × 5.6 in at 100 dpi


def _ihdr_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _fail_red_pixels(png: bytes) -> int:
    """Pixels of the failed-point marker colour #d62728 (±6 per channel)."""
    img = mpimg.imread(io.BytesIO(png), format="png")[..., :3]
    target = np.array([0xD6, 0x27, 0x28]) / 255.0
    return int((np.abs(img - target) < 6 / 255).all(axis=-1).sum())


def test_write_plots_writes_one_png_per_meter_and_a_summary(run_dir: Path, tmp_path: Path) -> None:
    work = tmp_path / "run"
    shutil.copytree(run_dir, work)
    files = write_plots(work)
    assert set(files.meters) == set(rundir.METERS)
    expected = {work / "plots" / f"{s}.png" for s in rundir.METERS} | {work / "plots" / "summary.png"}
    assert set(files.meters.values()) | {files.summary} == expected
    for path in expected:
        data = path.read_bytes()
        assert _ihdr_size(data) == SIZE
        assert png_size(data) == SIZE


def test_a_failed_point_is_marked_in_red_only_on_the_failing_meter(run_dir: Path) -> None:
    frame = read_results(run_dir)
    assert _fail_red_pixels(error_curve_png(frame, "MTR-0002")) > 40
    assert _fail_red_pixels(error_curve_png(frame, "MTR-0001")) == 0


def test_curve_rows_keep_accuracy_points_with_a_current() -> None:
    frame = pd.DataFrame(rundir.rows())
    rows = curve_rows(frame, "MTR-0003")
    assert len(rows) == len(rundir.POINTS)  # the no-load point (no current) is not on the curve
    assert set(rows["test"]) == {"accuracy"}


def test_curve_rows_use_the_kind_column_when_the_table_has_one() -> None:
    rows = [r | {"test": "acc-bal", "kind": "accuracy"} for r in rundir.rows() if r["test"] == "accuracy"]
    assert len(curve_rows(rows, "MTR-0001")) == len(rundir.POINTS)
    assert curve_rows([r | {"kind": "starting"} for r in rows], "MTR-0001").empty


def test_error_curve_from_row_dicts_and_without_points() -> None:
    rows = [r for r in rundir.rows() if r["serial"] == "MTR-0001"]  # what the plan plugin passes
    assert _ihdr_size(error_curve_png(rows, "MTR-0001")) == SIZE
    assert _ihdr_size(error_curve_png(rows, "NO-SUCH-METER")) == SIZE
    assert _ihdr_size(error_curve_png([], "X")) == SIZE
    assert _ihdr_size(summary_png([])) == SIZE


def test_plot_file_names_are_safe() -> None:
    assert plot_file_name("MTR-0001") == "MTR-0001.png"
    assert plot_file_name("A/B 1") == "A_B_1.png"
    assert plot_file_name("../x") == "x.png"
    assert plot_file_name("summary") != "summary.png"  # the summary plot keeps its name
