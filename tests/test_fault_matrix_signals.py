"""The fault matrix, signals × when (issue 18, item 6): the moment a scheduled fault has fired inside a point,
between points or at the end of the run, `hil run` gets SIGINT or SIGTERM, or `hil run` or its pytest is killed.
The source is off within 2 s, no finished row is lost, the console names the cause, and `--resume` completes the
run with each row exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fault_matrix import WHEN, assert_each_row_once, assert_invariants, resume, run_cell

SIGNALS = {"SIGINT": 130, "SIGTERM": 143, "KILL-hil": -9, "KILL-pytest": 4}


@pytest.mark.parametrize("when", list(WHEN))
@pytest.mark.parametrize("sig", list(SIGNALS))
def test_signal(tmp_path: Path, sig: str, when: str) -> None:
    cell = run_cell(tmp_path, "error_calculator", "ERROR", when, sig=sig, arg=-350.0)
    assert_invariants(cell, "error_calculator", "ERROR")
    finished = cell.exit_code in (0, 3)  # the run may have ended before the signal reached it (end of the run)
    if not finished:
        assert cell.exit_code == SIGNALS[sig], cell.console
        if sig in ("SIGINT", "SIGTERM"):
            assert f"interrupted by {sig} after" in cell.console and "source: outputs off" in cell.console
        elif sig == "KILL-pytest":
            assert "pytest ended with -9: guardian switched the source off: outputs off" in cell.console
    else:
        assert when == "end of the run", cell.console
    code, console, rows = resume(tmp_path)
    assert code in (0, 3), console
    assert_each_row_once(rows)
