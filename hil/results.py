"""Results of a run: one long-format table, appended and flushed after every point, in time independent of the
rows already written.

A point's rows are appended to ``results.csv`` (one write, flushed and fsynced) and written as one Parquet part
file ``results.parts/part-NNNNNN.parquet`` (temp file + fsync + ``os.replace``): O(1) per point, so a crash or a
kill loses nothing already measured and a reader never sees a half-written file. At the end of the run (and
whenever a run directory is repaired or opened again) the parts are compacted into ``results.parquet``, which
records in its metadata the parts it holds: a kill between the compacted file's rename and the parts' removal
neither loses nor duplicates a row. A kill between the CSV and the part write of a point leaves the CSV ahead:
:func:`repair_results` brings the Parquet up to the CSV; ``hil run`` calls it whenever its pytest ends, on
``--resume``, and a writer calls it when it opens an existing run. :func:`read_results` reads the table at any
moment (compacted file + parts, or the CSV when it is ahead). ``run.json`` holds the run's metadata. Reporting
reads these files; it never talks to instruments.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
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
#: the per-point part files, and the compacted file's metadata key listing the parts it holds
PARTS = "results.parts"
_PARTS_KEY = b"meterhil.parts"


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
        self.parts_dir = self.run_dir / PARTS
        self.columns = list(COLUMNS) + [c for c in extra_columns if c not in COLUMNS]
        self._rows: list[dict[str, Any]] = []
        repair_results(self.run_dir)  # a run killed between the two writes of a point: the Parquet catches up
        self._next_part = _next_part_number(self.run_dir)
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
        self._write_part(new)

    def _write_part(self, rows: list[dict[str, Any]]) -> None:
        """The point's rows as they are (Arrow infers each column from the values; compaction gives the table its
        dtypes): no pandas on the hot path."""
        import pyarrow as pa

        self.parts_dir.mkdir(exist_ok=True)
        cols = [c for c in self.columns if any(c in r for r in rows)]  # every row's keys, not the first row's
        table = pa.Table.from_pydict({c: [r.get(c) for r in rows] for c in cols})
        _write_table(table, self.parts_dir / f"part-{self._next_part:06d}.parquet")
        self._next_part += 1

    def compact(self) -> None:
        """The parts into ``results.parquet`` (end of the run; safe to repeat, safe to kill)."""
        compact_results(self.run_dir)

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


def _next_part_number(run_dir: Path) -> int:
    """After every part on disk and every part the compacted file holds: a part name is never used twice."""
    pq = run_dir / "results.parquet"
    names = {p.name for p in (run_dir / PARTS).glob("part-*.parquet")} | (_parts_in(pq) if pq.exists() else set())
    numbers = [int(m.group(1)) for n in names if (m := re.fullmatch(r"part-(\d+)\.parquet", n))]
    return max(numbers, default=0) + 1


def _parts_in(path: Path) -> set[str]:
    """The part files a compacted ``results.parquet`` already holds (its metadata)."""
    import pyarrow.parquet as papq

    meta = papq.read_schema(path).metadata or {}
    return set(json.loads(meta.get(_PARTS_KEY, b"[]")))


def _pending_parts(d: Path) -> list[Path]:
    """Part files not yet in the compacted file, in write order."""
    pq = d / "results.parquet"
    held = _parts_in(pq) if pq.exists() else set()
    return sorted(p for p in (d / PARTS).glob("part-*.parquet") if p.name not in held)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One table from parts, with the dtypes one frame of all the rows would have had (a column missing from a
    part is empty there, as for a row without it)."""
    records = [{str(k): _plain(v) for k, v in r.items()} for f in frames for r in f.to_dict("records")]
    if not records:
        return pd.DataFrame(columns=list(COLUMNS))
    return _ordered(_typed(pd.DataFrame(records)))


def _plain(v: Any) -> Any:
    """A Parquet cell as the writer had it: a missing value in a text or flag column is None, not NaN."""
    return None if v is pd.NA or v is pd.NaT else v


def _parts_frame(paths: list[Path]) -> pd.DataFrame:
    """Part files as one table (Arrow concatenates them, widening columns a later part added), with the writer's
    dtypes."""
    import pyarrow as pa
    import pyarrow.parquet as papq

    tables = [papq.read_table(p) for p in paths]
    table = pa.concat_tables(tables, promote_options="permissive")
    return _ordered(_typed(table.to_pandas()))


def _ordered(df: pd.DataFrame) -> pd.DataFrame:
    """The shared columns first, in their order, then a kind's own in the order they appeared."""
    first = [c for c in COLUMNS if c in df.columns]
    return df[first + [c for c in df.columns if c not in first]]


def compact_results(run_dir: str | Path) -> int:
    """Merge the pending part files into ``results.parquet`` (atomically, the merged parts named in its
    metadata), then remove them; the number of rows merged."""
    d = Path(run_dir)
    pq = d / "results.parquet"
    pending = _pending_parts(d)
    merged = 0
    if pending:
        held = _parts_in(pq) if pq.exists() else set()
        new = _parts_frame(pending)
        merged = len(new)
        full = _concat([pd.read_parquet(pq), new]) if pq.exists() else new
        _write_parquet(full, pq, parts=sorted(held | {p.name for p in pending}))
    for p in (d / PARTS).glob("part-*.parquet"):  # every part is in the compacted file now
        p.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # gone when empty; a writer makes it again
        (d / PARTS).rmdir()
    return merged


def _write_parquet(df: pd.DataFrame, path: Path, parts: list[str] | None = None) -> None:
    """Write ``df`` to ``path`` atomically (temp file, fsync, ``os.replace``); ``parts``: the part files it holds
    (``results.parquet``'s metadata)."""
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    if parts is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _PARTS_KEY: json.dumps(parts).encode()})
    _write_table(table, path)


def _write_table(table: Any, path: Path) -> None:
    """Write an Arrow table to ``path`` atomically (temp file, fsync, ``os.replace``)."""
    import pyarrow.parquet as papq

    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".parquet.tmp")
    os.close(fd)
    try:
        papq.write_table(table, tmp)
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
    for folder in (d, d / PARTS):
        for p in folder.glob("tmp*"):
            if p.name.endswith(_TEMP_SUFFIXES) and p.is_file():
                p.unlink(missing_ok=True)
    compact_results(d)
    csv_path, pq = d / "results.csv", d / "results.parquet"
    if not csv_path.exists():
        return 0
    n_csv = _complete_csv(csv_path)
    old = pd.read_parquet(pq) if pq.exists() else None
    n_old = 0 if old is None else len(old)
    if n_csv <= n_old:
        return 0
    new = _read_csv(csv_path).iloc[n_old:]
    full = new if old is None else _concat([old, new])
    _write_parquet(full.reset_index(drop=True), pq, parts=sorted(_parts_in(pq)) if pq.exists() else [])
    return n_csv - n_old


def read_results(run_dir: str | Path) -> pd.DataFrame:
    """The results table of a run: Parquet, unless the CSV holds more rows (a process killed between the two
    writes of a point: the CSV is appended first)."""
    d = Path(run_dir)
    pq, csv_path = d / "results.parquet", d / "results.csv"
    pending = _pending_parts(d)
    if pq.exists() or pending:
        df = (_concat([pd.read_parquet(pq), _parts_frame(pending)]) if pq.exists() else _parts_frame(pending)) \
            if pending else pd.read_parquet(pq)
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
