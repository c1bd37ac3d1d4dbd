"""Results of a run: one long-format table, appended and flushed after every point.

``results.csv`` gets the new rows appended (one write, flushed and fsynced) and ``results.parquet`` is rewritten
atomically (temp file + ``os.replace``), so a crash or a kill loses nothing already measured, and a reader never sees
a half-written file. A kill between the two writes of a point leaves the CSV ahead of the Parquet (and a temp file):
:func:`repair_results` brings the Parquet up to the CSV; ``hil run`` calls it whenever its pytest ends, on
``--resume``, and a writer calls it when it opens an existing run. ``run.json`` holds the run's metadata. Reporting
reads these files; it never talks to instruments.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

#: the measurement that decided a row's verdict, as every kind declares it (hil.core.measurement.Measurement);
#: empty where the step gave no result (broken, skipped)
MEASUREMENT_COLUMNS: tuple[str, ...] = ("quantity", "value", "unit", "lower_limit", "upper_limit",
                                        "value_uncertainty")
#: the columns every results table has, in this order (a kind's own may follow)
COLUMNS: tuple[str, ...] = (
    "run_id", "bench", "position", "serial", "test", "point", "voltage_v", "current_a", "pf", "element",
    "frequency_hz", "pulses", "duration_s", "error_pct", "limit_pct", "uncertainty_pct", "verdict", "standard",
    "limit_table", "limit_status", "started_at", "finished_at", *MEASUREMENT_COLUMNS,
)
VERDICTS = ("pass", "fail", "broken", "skipped")

_DTYPES: dict[str, str] = {
    "position": "Int64", "pulses": "Int64", "voltage_v": "float64", "current_a": "float64",
    "frequency_hz": "float64", "duration_s": "float64", "error_pct": "float64", "limit_pct": "float64",
    "uncertainty_pct": "float64", "value": "float64", "lower_limit": "float64", "upper_limit": "float64",
    "value_uncertainty": "float64",
}


#: the columns of text (the rest of COLUMNS are numbers, _DTYPES)
_TEXT = tuple(c for c in COLUMNS if c not in _DTYPES)
#: suffixes of the temp files this module writes (``tempfile.mkstemp`` names start with ``tmp``)
_TEMP_SUFFIXES = (".parquet.tmp", ".csv.tmp", ".json.tmp")


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    for c, t in _DTYPES.items():
        if c in df:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(t)  # type: ignore[call-overload]
    return df


def _read_csv(path: Path) -> pd.DataFrame:
    """The CSV with the dtypes the writer gives: text stays text (even a PF column of only "1", or an empty
    reason), an empty number is missing."""
    with path.open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f), [])
    text = [c for c in _TEXT if c in header]
    df = pd.read_csv(path, dtype=dict.fromkeys(text, "str"), keep_default_na=False,
                     na_values={c: [""] for c in header if c not in text})
    for c in df.columns:
        if pd.api.types.is_object_dtype(df[c]):  # a mixed column (True / None): missing is None, as written
            df[c] = df[c].where(df[c].notna(), None)
    return _typed(df)


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
        repair_results(self.run_dir)  # a run killed between the two writes of a point: the Parquet catches up
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
        buf = io.StringIO(newline="")
        w = csv.DictWriter(buf, fieldnames=self.columns, extrasaction="raise")
        if not exists:
            w.writeheader()
        w.writerows(rows)
        with self.csv_path.open("a", newline="", encoding="utf-8") as f:
            f.write(buf.getvalue())  # one write: a kill leaves the point's rows whole or (almost always) absent
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
        return _typed(pd.DataFrame(self._rows, columns=self.columns))

    def _write_parquet(self) -> None:
        _write_parquet(self.frame(), self.parquet_path)


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` atomically (temp file, fsync, ``os.replace``)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".parquet.tmp")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for QA to read
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _complete_csv(path: Path) -> int:
    """Drop a last row cut short by a kill in the middle of its write (the file then does not end with a line
    break: the writer ends every row with one); the number of data rows."""
    text = path.read_text(encoding="utf-8")
    records = list(csv.reader(io.StringIO(text, newline="")))
    if text and not text.endswith("\n"):
        records = records[:-1]
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".csv.tmp")
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(records)  # the writer's own dialect: the kept rows are byte for byte the same
            _fsync(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    return max(0, len(records) - 1)


def repair_results(run_dir: str | Path) -> int:
    """Make ``results.parquet`` hold every row of ``results.csv`` again after a kill; the number of rows added.

    The CSV is appended first, so a process killed between the two writes of a point leaves the Parquet behind:
    its missing rows are taken from the CSV with the writer's dtypes (the Parquet's rows are kept as they are), a
    CSV row cut short is dropped, and temp files left by a killed writer are removed. Call it only when no writer
    is running on ``run_dir``.
    """
    d = Path(run_dir)
    for p in d.glob("tmp*"):
        if p.name.endswith(_TEMP_SUFFIXES) and p.is_file():
            p.unlink(missing_ok=True)
    csv_path, pq = d / "results.csv", d / "results.parquet"
    if not csv_path.exists():
        return 0
    n_csv = _complete_csv(csv_path)
    old = pd.read_parquet(pq) if pq.exists() else None
    n_old = 0 if old is None else len(old)
    if n_csv <= n_old:
        return 0
    new = _read_csv(csv_path).iloc[n_old:]
    full = new if old is None else pd.concat([old, new], ignore_index=True)
    _write_parquet(full.reset_index(drop=True), pq)
    return n_csv - n_old


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
                return _read_csv(csv_path)
        return df
    return _read_csv(csv_path)


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
