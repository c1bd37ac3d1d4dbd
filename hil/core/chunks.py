"""Monitoring rows and the checkpoint of a run directory, both crash-safe.

``RUN_DIR/monitoring.parquet`` is a Parquet *dataset directory*: one part file per chunk of intervals, each written
to a temp file and renamed, so a chunk costs only its own rows (a 168 h run at 1-min intervals on 12 meters is
121k rows) and a reader (``pandas.read_parquet``) sees whole parts only. ``RUN_DIR/checkpoint.json`` is replaced
atomically after each part; a part the checkpoint does not list (a kill between the two writes) is removed on
resume, so a resumed run has no duplicated rows.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

MONITORING = "monitoring.parquet"
CHECKPOINT = "checkpoint.json"


def _fsync_replace(tmp: str, final: Path) -> None:
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, final)


class Checkpoint:
    """``checkpoint.json``: per sequence task, its progress and monitoring state (JSON-able dicts)."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / CHECKPOINT
        self.data: dict[str, Any] = {"version": 1, "sequences": {}}
        if self.path.exists():
            self.data = json.loads(self.path.read_text(encoding="utf-8"))

    def get(self, key: str) -> dict[str, Any] | None:
        got: dict[str, Any] | None = self.data["sequences"].get(key)
        return got

    def put(self, key: str, state: dict[str, Any]) -> None:
        self.data["sequences"][key] = state
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".json.tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.data, f, indent=1, sort_keys=True)
            _fsync_replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


class MonitoringStore:
    """Appends chunks of monitoring rows as part files of ``RUN_DIR/monitoring.parquet/``.

    Part names carry the sequence's test id: a plan with several sequences keeps each one's parts, and a resume
    of one sequence removes only its own parts written after its checkpoint."""

    def __init__(self, run_dir: Path, task_key: str = "") -> None:
        self.dir = run_dir / MONITORING
        self.dir.mkdir(parents=True, exist_ok=True)
        test_id = task_key.split("::", 1)[0]
        self.prefix = "part-" + (re.sub(r"[^A-Za-z0-9_.-]", "_", test_id) + "-" if test_id else "")

    def parts(self) -> list[str]:
        """This sequence's part files (a task key without a test id owns the bare ``part-NNNNNN`` names)."""
        pattern = re.compile(re.escape(self.prefix) + r"\d{6}\.parquet$")
        return sorted(p.name for p in self.dir.glob(f"{self.prefix}*.parquet") if pattern.match(p.name))

    def keep_only(self, parts: list[str]) -> None:
        """Remove this sequence's parts written after the last checkpoint (resume: no duplicated rows)."""
        for name in set(self.parts()) - set(parts):
            (self.dir / name).unlink()

    def write(self, rows: list[dict[str, Any]], index: int) -> str:
        name = f"{self.prefix}{index:06d}.parquet"
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        os.close(fd)
        try:
            pd.DataFrame(rows).to_parquet(tmp, index=False)
            _fsync_replace(tmp, self.dir / name)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return name


def _run_order(run_dir: Path) -> dict[str, float]:
    """Test id → wall-clock start of its sequence, from the checkpoint (empty without one)."""
    path = run_dir / CHECKPOINT
    if not path.exists():
        return {}
    seqs = json.loads(path.read_text(encoding="utf-8")).get("sequences", {})
    return {key.split("::", 1)[0]: float(state.get("started_wall") or 0.0) for key, state in seqs.items()}


def read_monitoring(run_dir: str | Path) -> pd.DataFrame:
    """Every monitoring row of a run: sequences in the order they ran, each in sequence-time order.

    Neither is taken from ``clock_s``: after a resume on a restarted bench clock, later rows can carry smaller
    bench-clock values than earlier ones. Sequences are ordered by their wall-clock start kept in the checkpoint
    (else by when their first part file was written), rows within one by sequence time (``t_end_s``), which only
    grows."""
    d = Path(run_dir) / MONITORING
    parts = sorted(d.glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame()
    frames = [pd.read_parquet(p).assign(_written=p.stat().st_mtime) for p in parts]
    frame = pd.concat(frames, ignore_index=True)
    if {"test_id", "t_end_s"} <= set(frame.columns):
        first = frame.groupby("test_id", sort=False)["_written"].transform("min")
        started = _run_order(Path(run_dir))
        if started and all(started.get(t, 0.0) > 0 for t in frame["test_id"].unique()):
            first = frame["test_id"].map(started)
        frame = frame.assign(_first=first).sort_values(["_first", "test_id", "t_end_s", "position"],
                                                       kind="stable", ignore_index=True).drop(columns="_first")
    return frame.drop(columns="_written")


def checkpoint_states(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """The per-step states of ``checkpoint.json`` ({} without one), keyed ``<test id>::<point>``."""
    p = Path(run_dir) / CHECKPOINT
    if not p.exists():
        return {}
    seqs = json.loads(p.read_text(encoding="utf-8")).get("sequences", {})
    return seqs if isinstance(seqs, dict) else {}
