"""Life data from a run's results table: failures at their failure time, survivors censored at the sequence end,
broken/skipped rows left out and listed."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from hil.reliability import life_data_from_results


def _row(test_id: str, serial: str, verdict: str, **extra: Any) -> dict[str, Any]:
    return {"test_id": test_id, "test": "burn_in", "serial": serial, "position": int(serial[1:]), "verdict": verdict,
            "limit_table": "survival", "failure_time_h": None, "sequence_h": None, **extra}


def _results() -> pd.DataFrame:
    return pd.DataFrame([
        _row("bi", "M1", "pass", sequence_h=48.0),
        _row("bi", "M2", "fail", failure_time_h=21.5, sequence_h=48.0),
        _row("bi", "M3", "broken"),  # a bench fault: no outcome, no extras
        _row("bi", "M4", "fail", sequence_h=48.0),  # found failed only at the end: no failure time
        _row("bi", "M5", "skipped", sequence_h=48.0),
        # an accuracy row of the same run is not life data
        {"test_id": "acc", "test": "accuracy", "serial": "M1", "position": 1, "verdict": "fail",
         "limit_table": "table 7", "error_pct": 1.4},
        _row("tc", "M1", "pass", sequence_h=10.0),
        _row("tc", "M2", "fail", failure_time_h=math.nan, failed_after_h=3.0, sequence_h=10.0),
    ])


def test_one_test() -> None:
    data = life_data_from_results(_results(), ["bi"])
    assert data.units == ("M1", "M2", "M4")
    assert list(data.hours) == [48.0, 21.5, 48.0]  # M4 at the end of the sequence
    assert list(data.failed) == [False, True, True]
    assert (data.failures, data.censored) == (2, 1)
    assert dict(data.excluded) == {"M3": "broken: no valid outcome", "M5": "skipped: no valid outcome"}


def test_every_sequence_row_names_units_by_test() -> None:
    data = life_data_from_results(_results())
    assert "acc/M1" not in data.units and len(data.units) == 5  # the accuracy row is not a sequence row
    assert data.units[-2:] == ("tc/M1", "tc/M2")
    assert list(data.hours[-2:]) == [10.0, 10.0] and list(data.failed[-2:]) == [False, True]
    assert len(data.excluded) == 2


def test_no_usable_row_is_an_error() -> None:
    frame = pd.DataFrame([_row("bi", "M3", "broken")])
    with pytest.raises(ValueError, match=r"no results rows of bi .*\(1 left out\)"):
        life_data_from_results(frame, ["bi"])
