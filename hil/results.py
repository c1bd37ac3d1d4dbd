"""Results of a run: one long-format table, appended and flushed after every point.

``results.csv`` gets the new rows appended (flushed and fsynced) and ``results.parquet`` is rewritten atomically
(temp file + ``os.replace``), so a crash or a kill loses nothing already measured, and a reader never sees a
half-written file. ``run.json`` holds the run's metadata. Reporting reads these files; it never talks to
instruments.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

#: the columns every results table has, in this order (more may follow)
COLUMNS: tuple[str, ...] = (
    "run_id", "bench", "position", "serial", "test", "point", "voltage_v", "current_a", "pf", "element",
    "frequency_hz", "pulses", "duration_s", "error_pct", "limit_pct", "uncertainty_pct", "verdict", "standard",
    "limit_table", "limit_status", "started_at", "finished_at",
)
VERDICTS = ("pass", "fail", "broken", "skipped")

_DTYPES: dict[str, str] = {
    "position": "Int64", "pulses": "Int64", "voltage_v": "float64", "current_a": "float64",
    "frequency_hz": "float64", "duration_s": "float64", "error_pct": "float64", "limit_pct": "float64",
    "uncertainty_pct": "float64",
}


def _fsync(f: Any) -> None:
    f.flush()
    os.fsync(f.fileno())


class ResultsWriter:
    """Appends result rows to ``run_dir/results.{csv,parquet}``; resumes an existing table."""

    def __init__(self, run_dir: str | Path, extra_columns: Iterable[str] = ()) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.run_dir / "results.csv"
        self.parquet_path = self.run_dir / "results.parquet"
        self.columns = list(COLUMNS) + [c for c in extra_columns if c not in COLUMNS]
        self._rows: list[dict[str, Any]] = []
        if self.parquet_path.exists():
            self._rows = [{str(k): v for k, v in r.items()} for r in read_results(self.run_dir).to_dict("records")]
            for c in self._rows[0].keys() if self._rows else ():
                if c not in self.columns:
                    self.columns.append(c)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def append(self, rows: Iterable[Mapping[str, Any]]) -> None:
        new = [dict(r) for r in rows]
        if not new:
            return
        for r in new:
            if r.get("verdict") not in VERDICTS:
                raise ValueError(f"verdict must be one of {VERDICTS}, got {r.get('verdict')!r}")
            for c in r:
                if c not in self.columns:
                    self.columns.append(c)
        self._rows.extend(new)
        self._append_csv(new)
        self._write_parquet()

    def _append_csv(self, rows: list[dict[str, Any]]) -> None:
        exists = self.csv_path.exists() and self.csv_path.stat().st_size > 0
        if exists:
            with self.csv_path.open(newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), [])
            if header != self.columns:  # a new column appeared: rewrite the file with the wider header
                self._rewrite_csv()
                return
        with self.csv_path.open("a", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=self.columns, extrasaction="raise")
            if not exists:
                w.writeheader()
            w.writerows(rows)
            _fsync(f)

    def _rewrite_csv(self) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.run_dir, suffix=".csv.tmp")
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=self.columns)
            w.writeheader()
            w.writerows(self._rows)
            _fsync(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.csv_path)

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self._rows, columns=self.columns)
        for c, t in _DTYPES.items():
            if c in df:
                df[c] = pd.to_numeric(df[c], errors="coerce").astype(t)  # type: ignore[call-overload]
        return df

    def _write_parquet(self) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.run_dir, suffix=".parquet.tmp")
        os.close(fd)
        try:
            self.frame().to_parquet(tmp, index=False)
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for QA to read
            os.replace(tmp, self.parquet_path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def read_results(run_dir: str | Path) -> pd.DataFrame:
    """The results table of a run: Parquet, unless the CSV holds more rows (a process killed between the two
    writes of a point: the CSV is appended first)."""
    d = Path(run_dir)
    pq, csv_path = d / "results.parquet", d / "results.csv"
    if pq.exists():
        df = pd.read_parquet(pq)
        if csv_path.exists():
            with csv_path.open(newline="", encoding="utf-8") as f:
                n_csv = sum(1 for _ in csv.reader(f)) - 1
            if n_csv > len(df):
                return pd.read_csv(csv_path)
        return df
    return pd.read_csv(csv_path)


def write_run_json(run_dir: str | Path, metadata: Mapping[str, Any]) -> Path:
    """Write ``run.json`` atomically."""
    d = Path(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".json.tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(metadata, f, indent=2, sort_keys=True, default=str)
        _fsync(f)
    os.chmod(tmp, 0o644)
    os.replace(tmp, d / "run.json")
    return d / "run.json"
