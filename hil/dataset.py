"""The lab-wide results dataset: every run's rows in one hive-partitioned Parquet dataset
(``bench=…/date=…/run=…/rows.parquet``), queried across runs with DuckDB.

Where it lives: ``--dataset DIR``, else the environment variable ``METERHIL_DATASET`` (a lab sets it once for every
bench PC, e.g. a share), else ``reports/dataset``. Publishing a run again replaces its partition (atomic rename), so
a resumed or re-published run is never counted twice. Reads results only — never an instrument.

SPC follows the Shewhart X̄ chart (ISO 7870-2:2023, 3-sigma limits): per meter type and point, each run is a batch
with mean x̄ᵢ of nᵢ meters; the centre line is the grand mean x̿ of all rows and σ̂ the pooled within-batch standard
deviation, the limits x̿ ± 3 σ̂/√nᵢ; a batch outside is flagged.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd

from hil.results import read_results

DATASET_ENV = "METERHIL_DATASET"
DEFAULT_DATASET = Path("reports") / "dataset"
ROWS_FILE = "rows.parquet"


def dataset_root(explicit: Path | None = None) -> Path:
    return explicit or (Path(os.environ[DATASET_ENV]) if os.environ.get(DATASET_ENV) else DEFAULT_DATASET)


def _partition_value(text: str) -> str:
    """A hive partition value that cannot break the path: percent-encoded (``/`` → ``%2F``, ``=`` → ``%3D``), as
    DuckDB decodes it, so the ``bench`` column keeps the bench's own name."""
    return quote(text, safe=" ._-") or "_"


def publish(run_dir: Path, root: Path) -> Path | None:
    """Copy ``run_dir``'s rows into the dataset; returns the partition file (None: the run has no rows)."""
    rows = read_results(run_dir)
    if rows.empty:
        return None
    meta: dict[str, Any] = {}
    if (run_dir / "run.json").exists():
        meta = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    started = str(meta.get("started_at") or rows["started_at"].dropna().min() or "")
    date = started[:10] if re.fullmatch(r"\d{4}-\d{2}-\d{2}", started[:10]) else "unknown"
    run_id = str(meta.get("run_id") or rows["run_id"].iloc[0])
    part = (root / f"bench={_partition_value(str(rows['bench'].iloc[0]))}" / f"date={date}"
            / f"run={_partition_value(run_id)}")
    part.mkdir(parents=True, exist_ok=True)
    tmp = part / (ROWS_FILE + ".tmp")
    rows.to_parquet(tmp, index=False)
    os.replace(tmp, part / ROWS_FILE)  # a reader sees the old rows or the new, never half
    return part / ROWS_FILE


@dataclass
class ResultsDB:
    """DuckDB over the dataset: the view ``results`` holds every published row (with ``bench``, ``date``, ``run``)."""

    root: Path

    def _con(self) -> Any:
        import duckdb

        files = list(self.root.glob(f"bench=*/date=*/run=*/{ROWS_FILE}"))
        if not files:
            raise FileNotFoundError(f"no published runs under {self.root} (hil results publish RUN_DIR)")
        con = duckdb.connect()
        pattern = str(self.root / "bench=*" / "date=*" / "run=*" / ROWS_FILE).replace("'", "''")
        con.execute(f"CREATE VIEW results AS SELECT * FROM read_parquet('{pattern}', hive_partitioning = true,"
                    " union_by_name = true)")
        return con

    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        con = self._con()
        try:
            df: pd.DataFrame = con.execute(query, params or []).df()
            return df
        finally:
            con.close()

    def type_errors(self, meter_type: str) -> pd.DataFrame:
        """A meter type's error per test point and run (batch): meters, mean, standard deviation, min, max."""
        return self.sql(
            "SELECT test_id, point, run, min(date) AS date, count(error_pct) AS meters, avg(error_pct) AS mean_pct,"
            " stddev_samp(error_pct) AS std_pct, min(error_pct) AS min_pct, max(error_pct) AS max_pct"
            " FROM results WHERE meter_type = ? AND error_pct IS NOT NULL"
            " GROUP BY test_id, point, run ORDER BY test_id, point, date, run", [meter_type])

    def serial_history(self, serial: str) -> pd.DataFrame:
        """Every row of one meter across runs and benches, oldest first."""
        return self.sql(
            "SELECT date, run, bench, position, test_id, point, error_pct, limit_pct, verdict, reason FROM results"
            " WHERE serial = ? ORDER BY finished_at, test_id, point", [serial])

    def broken_rate(self) -> pd.DataFrame:
        """Per bench: rows, broken rows and their share (a bench that breaks results needs service)."""
        return self.sql(
            "SELECT bench, count(*) AS rows, count(*) FILTER (WHERE verdict = 'broken') AS broken,"
            " count(*) FILTER (WHERE verdict = 'broken') / count(*) AS broken_rate, count(DISTINCT run) AS runs"
            " FROM results GROUP BY bench ORDER BY bench")

    def spc(self, meter_type: str) -> pd.DataFrame:
        """X̄ chart per test point of ``meter_type`` (module docstring): one line per point and batch."""
        rows = self.sql("SELECT test_id, point, run, min(date) OVER (PARTITION BY run) AS date, error_pct"
                        " FROM results WHERE meter_type = ? AND error_pct IS NOT NULL", [meter_type])
        out = []
        for (test_id, point), g in rows.groupby(["test_id", "point"], sort=True):
            batches = g.groupby("run")["error_pct"]
            n, mean, var = batches.count(), batches.mean(), batches.var(ddof=1)
            dof = (n - 1).clip(lower=0)
            pooled = math.sqrt(float((var.fillna(0) * dof).sum() / dof.sum())) if dof.sum() > 0 else math.nan
            centre = float(g["error_pct"].mean())
            for run in mean.index:
                half = 3 * pooled / math.sqrt(float(n[run]))
                m = float(mean[run])
                out.append({"test_id": test_id, "point": point, "run": run,
                            "date": g.loc[g["run"] == run, "date"].min(), "meters": int(n[run]), "mean_pct": m,
                            "centre_pct": centre, "sigma_pct": pooled, "lcl_pct": centre - half,
                            "ucl_pct": centre + half, "out_of_control": bool(abs(m - centre) > half)})
        return pd.DataFrame(out)


def spc_plot(chart: pd.DataFrame, path: Path, title: str) -> Path:
    """One X̄ chart panel per point (batch means, centre line, limits; batches out of control in red)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(chart.groupby(["test_id", "point"], sort=True))
    fig, axes = plt.subplots(len(groups), 1, figsize=(8, 2.2 * max(len(groups), 1)), squeeze=False)
    for ax, ((test_id, point), g) in zip(axes[:, 0], groups, strict=True):
        g = g.sort_values(["date", "run"])
        x = range(len(g))
        ax.plot(x, g["mean_pct"], "o-", color="tab:blue")
        ax.step(x, g["ucl_pct"], where="mid", color="grey", linestyle="--")
        ax.step(x, g["lcl_pct"], where="mid", color="grey", linestyle="--")
        ax.axhline(float(g["centre_pct"].iloc[0]), color="black", linewidth=0.8)
        bad = g["out_of_control"].to_numpy()
        ax.plot([i for i, b in zip(x, bad, strict=True) if b], g["mean_pct"][bad], "o", color="red")
        ax.set_title(f"{test_id} · {point}", fontsize=9)
        ax.set_ylabel("error %")
        ax.set_xticks(list(x), list(g["run"]), rotation=30, fontsize=6)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
