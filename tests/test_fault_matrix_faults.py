"""The fault matrix, faults × when (issue 18, item 6): each bench fault lands inside a point, between points or in
the teardown of a `hil run`; the run ends by itself with the source off, no finished row lost, every row once, the
fault named on the console, and the results it spoilt broken (exit 3), never a wrong pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fault_matrix import WHEN, assert_each_row_once, assert_invariants, run_cell

FAULTS = [("reference", "DROP", None), ("reference", "HANG", None), ("reference", "GARBLE", 3.0),
          ("source", "RESET", None), ("error_calculator", "ERROR", -350.0), ("meter1", "FAIL", None)]
#: cells whose fault spoils a result that is not yet recorded, so some rows must be broken. The others must not
#: break anything: a dropped connection is reconnected (the calculators measured on), a source that lost power
#: between points is programmed anew for the next, a meter that dies after its last point has its results.
MUST_BREAK = {("HANG", w) for w in WHEN} | {("ERROR", w) for w in WHEN} | {("GARBLE", w) for w in WHEN} | {
    ("RESET", "mid-point"), ("FAIL", "mid-point"), ("FAIL", "between points")}


@pytest.mark.parametrize("when", list(WHEN))
@pytest.mark.parametrize(("endpoint", "kind", "arg"), FAULTS, ids=[f"{e}-{k}" for e, k, _ in FAULTS])
def test_fault(tmp_path: Path, endpoint: str, kind: str, arg: float | None, when: str) -> None:
    cell = run_cell(tmp_path, endpoint, kind, when, arg=arg)
    assert_invariants(cell, endpoint, kind)
    assert f"simulation: fault {kind}" in cell.console and f"on {endpoint} fired at" in cell.console
    assert_each_row_once(cell.parquet)
    rows = cell.parquet
    verdicts = set(rows["verdict"])
    assert verdicts <= {"pass", "broken"}, cell.console  # both meters are good: a fault never makes a fail
    assert cell.exit_code == (3 if "broken" in verdicts else 0), cell.console
    broken = rows[rows["verdict"] == "broken"]
    assert all(r for r in broken["reason"]), "a broken row says why"
    if (kind, when) in MUST_BREAK:
        assert len(broken), cell.console
    else:
        assert verdicts == {"pass"}, cell.console
    if kind == "FAIL":  # only the dead meter's results are spoilt
        assert set(broken["position"]) <= {1}
