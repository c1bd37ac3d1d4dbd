"""What the sequence reports read from a run directory: the sequence tests of the results, their monitoring rows
(one per meter and interval), the chamber per interval, and the interruptions recorded in the checkpoint.

Sequence time is seconds since the sequence started (docs/sequences.md); the reports show hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hil.core.chunks import checkpoint_states, read_monitoring

#: humidity columns of the monitoring rows (absent on a chamber without humidity control, or in older runs)
HUMIDITY = "humidity_pct"
HUMIDITY_SETPOINT = "setpoint_rh"
HUMIDITY_ALARM = "humidity_alarm"
#: how an interruption's title begins (Allure step, plots, summary)
INTERRUPTED = "interrupted:"


@dataclass(frozen=True)
class Interruption:
    """Unmonitored time of a sequence, in sequence seconds: the PC was down (from the last checkpoint to the
    resume), or, with ``check`` set, monitoring paused for that accuracy check during the sequence."""

    from_s: float
    to_s: float
    check: str = ""

    @property
    def title(self) -> str:
        span = f"from {self.from_s / 3600:.1f} h to {self.to_s / 3600:.1f} h"
        if self.check:
            return f"accuracy check {self.check}: monitoring paused {span}"
        return f"{INTERRUPTED} unmonitored {span}, resumed"


def sequence_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The results rows of stress sequences (limit table ``survival``, or a ``sequence_h`` value)."""
    from hil.reliability.lifedata import SURVIVAL_TABLE  # the package loads scipy: only when a report is made

    if results.empty:
        return results
    mask = pd.Series(False, index=results.index)
    if "limit_table" in results.columns:
        mask |= results["limit_table"].astype(str) == SURVIVAL_TABLE
    if "sequence_h" in results.columns:
        mask |= pd.to_numeric(results["sequence_h"], errors="coerce").notna()
    return results[mask]


def _id_column(results: pd.DataFrame) -> str:
    return "test_id" if "test_id" in results.columns else "test"


def sequence_tests(results: pd.DataFrame) -> list[str]:
    """The plan test ids of the run's sequences, in the order they appear."""
    rows = sequence_rows(results)
    return [] if rows.empty else list(dict.fromkeys(rows[_id_column(rows)].astype(str)))


def rows_of(results: pd.DataFrame, test_id: str) -> pd.DataFrame:
    """The results rows of one sequence test, ordered by position."""
    rows = sequence_rows(results)
    if rows.empty:
        return rows
    return rows[rows[_id_column(rows)].astype(str) == test_id].sort_values("position", kind="stable")


def monitoring(run_dir: str | Path, test_id: str | None = None) -> pd.DataFrame:
    """Monitoring rows of the run (of one test when ``test_id`` is given), in time order."""
    mon = read_monitoring(run_dir)
    if mon.empty or test_id is None or "test_id" not in mon.columns:
        return mon
    return mon[mon["test_id"].astype(str) == test_id].reset_index(drop=True)


def interruptions(run_dir: str | Path, test_id: str | None = None) -> list[Interruption]:
    """Interruptions of one sequence test (every sequence when None), in time order."""
    out = []
    for key, state in checkpoint_states(run_dir).items():
        if test_id is not None and key.split("::", 1)[0] != test_id:
            continue
        for gap in state.get("interruptions", []) or []:
            out.append(Interruption(float(gap["from_s"]), float(gap["to_s"])))
    return sorted(out, key=lambda g: g.from_s)


def check_pauses(run_dir: str | Path, test_id: str | None = None) -> list[Interruption]:
    """Monitoring paused for accuracy checks during a sequence (the checkpoint's ``check_pauses``), in time order."""
    out = []
    for key, state in checkpoint_states(run_dir).items():
        if test_id is not None and key.split("::", 1)[0] != test_id:
            continue
        for pause in state.get("check_pauses", []) or []:
            out.append(Interruption(float(pause["from_s"]), float(pause["to_s"]), str(pause.get("check", "check"))))
    return sorted(out, key=lambda g: g.from_s)


def unmonitored(run_dir: str | Path, test_id: str | None = None) -> list[Interruption]:
    """Interruptions and check pauses together, in time order (what plots shade and Allure steps show)."""
    return sorted(interruptions(run_dir, test_id) + check_pauses(run_dir, test_id), key=lambda g: g.from_s)


def chamber_intervals(mon: pd.DataFrame) -> pd.DataFrame:
    """The chamber per monitoring interval (the same for every position: the first position's row), by time."""
    if mon.empty:
        return mon
    first = mon.drop_duplicates(subset=["t_start_s", "t_end_s"], keep="first")
    return first.sort_values("t_end_s", kind="stable").reset_index(drop=True)


def has_humidity(mon: pd.DataFrame) -> bool:
    """True when the monitoring rows carry humidity readings."""
    return HUMIDITY in mon.columns and bool(pd.to_numeric(mon[HUMIDITY], errors="coerce").notna().any())

