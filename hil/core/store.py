"""The run's store: its directory, the results table (rows appended whole, one point at a time), ``run.json``, and
on ``--resume`` the rows of the steps completed before the interruption."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from hil.results import ResultsWriter, write_run_json
from hil.safety import critical_section


def new_run_id(plan_stem: str) -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + plan_stem


class RunStore:
    def __init__(self, run_dir_option: str | None, resuming: bool) -> None:
        self._option = run_dir_option
        self.resuming = resuming
        self.run_dir: Path | None = None
        self.run_id = ""
        self._results: ResultsWriter | None = None
        self._done: dict[str, dict[int, dict[str, Any]]] = {}

    def ensure(self, stem: str) -> Path:
        """The run directory (made at the first need); a directory that holds results is refused unless
        resuming."""
        if self.run_dir is None:
            opt = self._option
            self.run_id = Path(opt).name if opt else new_run_id(stem)
            self.run_dir = Path(opt) if opt else Path("reports") / self.run_id
            self.run_dir.mkdir(parents=True, exist_ok=True)
            has_results = any((self.run_dir / f).exists()
                              for f in ("results.csv", "results.parquet", "checkpoint.json"))
            if has_results and not self.resuming:
                raise pytest.UsageError(f"run directory {self.run_dir} already holds results: give a new one")
            self._results = ResultsWriter(self.run_dir)  # resuming: continues the existing table
            if self.resuming:
                for r in self._results.rows:  # rows of steps completed before the interruption are reused
                    self._done.setdefault(f"{r['test_id']}::{r['point']}", {})[int(r["position"])] = r
        return self.run_dir

    def done_rows(self, key: str, positions: list[int]) -> dict[int, dict[str, Any]] | None:
        """Resuming: the rows of a step completed before the interruption (every position), else None."""
        done = self._done.get(key, {})
        if self.resuming and done and all(p in done for p in positions):
            return {p: done[p] for p in positions}
        return None

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Append a point's rows to the run's results, whole: a SIGTERM waits until they are on disk."""
        assert self._results is not None, "the run directory is made before the first row"
        with critical_section():
            self._results.append(rows)

    def compact(self) -> None:
        """The run's per-point parts into ``results.parquet`` (at the end; a SIGTERM waits for it)."""
        if self._results is not None:
            with critical_section():
                self._results.compact()

    def write_run_json(self, meta: dict[str, Any]) -> None:
        if self.run_dir is not None:
            write_run_json(self.run_dir, meta)
