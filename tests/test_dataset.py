"""The lab-wide results dataset and `hil results` (issue 17, item 3): runs published into a hive-partitioned
Parquet dataset, DuckDB answers checked against pandas computations on the same rows, SPC by the X̄-chart
formulas written out here."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hil.dataset import ResultsDB, publish
from hil.results import COLUMNS, ResultsWriter

TYPES = {1: "ACME-1P", 2: "ACME-1P", 3: "ACME-1P", 4: "OTHER-3P"}
POINTS = ("Iref PF 1", "Imax PF 1")


def _run(root: Path, run_id: str, bench: str, day: str, rng: np.random.Generator, shift: float = 0.0,
         broken: int = 0) -> Path:
    """A run directory with 4 meters × 2 points; ``broken`` rows of the last point broken."""
    d = root / run_id
    w = ResultsWriter(d)
    for k, point in enumerate(POINTS):
        rows = []
        for pos, mtype in TYPES.items():
            r: dict[str, Any] = dict.fromkeys(COLUMNS, "")
            is_broken = k == 1 and pos <= broken
            err = None if is_broken else round(float(rng.normal(0.1 * k + shift, 0.1)), 6)
            r.update(run_id=run_id, bench=bench, position=pos, serial=f"S{pos:03d}-{bench}", test="accuracy",
                     point=point, test_id="balanced", voltage_v=230.0, current_a=5.0, pf="1", element="all",
                     frequency_hz=50.0, pulses=12, duration_s=10.0, error_pct=err, limit_pct=1.0,
                     verdict="broken" if is_broken else "pass", started_at=f"{day}T08:00:0{k}+00:00",
                     finished_at=f"{day}T08:00:0{k + 1}+00:00", meter_type=mtype,
                     reason="no pulses" if is_broken else "")
            rows.append(r)
        w.append(rows)
    w.compact()
    (d / "run.json").write_text(json.dumps({"run_id": run_id, "started_at": f"{day}T08:00:00+00:00"}),
                                encoding="utf-8")
    return d


@pytest.fixture
def lab(tmp_path: Path) -> tuple[Path, list[Path]]:
    rng = np.random.default_rng(5)
    runs = [_run(tmp_path / "runs", "r1", "bench A", "2026-12-01", rng),
            _run(tmp_path / "runs", "r2", "bench A", "2026-12-02", rng, broken=2),
            _run(tmp_path / "runs", "r3", "bench A", "2026-12-03", rng)]
    runs += [_run(tmp_path / "runs", f"r{k}", "bench/B", f"2026-12-0{k - 2}", rng) for k in (4, 5, 6)]
    runs.append(_run(tmp_path / "runs", "r7", "bench/B", "2026-12-05", rng, shift=0.4))  # a batch that drifted
    root = tmp_path / "dataset"
    for r in runs:
        publish(r, root)
    return root, runs


def _all_rows(runs: list[Path]) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(r / "results.parquet") for r in runs], ignore_index=True)


def test_hive_layout_and_republishing_replaces(lab: tuple[Path, list[Path]]) -> None:
    root, runs = lab
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("rows.parquet"))
    assert files[:2] == ["bench=bench A/date=2026-12-01/run=r1/rows.parquet",
                         "bench=bench A/date=2026-12-02/run=r2/rows.parquet"]
    assert files[-1] == "bench=bench%2FB/date=2026-12-05/run=r7/rows.parquet" and len(files) == 7
    publish(runs[0], root)  # again: replaced, not added
    n = ResultsDB(root).sql("SELECT count(*) AS n FROM results")["n"].iloc[0]
    assert n == len(_all_rows(runs)) == 7 * 4 * 2


def test_type_errors_match_pandas(lab: tuple[Path, list[Path]]) -> None:
    root, runs = lab
    got = ResultsDB(root).type_errors("ACME-1P").set_index(["point", "run"]).sort_index()
    rows = _all_rows(runs)
    rows = rows[(rows["meter_type"] == "ACME-1P") & rows["error_pct"].notna()]
    want = rows.groupby(["point", "run_id"])["error_pct"].agg(["count", "mean", "std", "min", "max"]).sort_index()
    assert list(got.index) == [tuple(i) for i in want.index]
    assert got["meters"].tolist() == want["count"].tolist()
    for a, b in (("mean_pct", "mean"), ("std_pct", "std"), ("min_pct", "min"), ("max_pct", "max")):
        assert np.allclose(got[a].to_numpy(float), want[b].to_numpy(float), equal_nan=True), a


def test_serial_history_and_broken_rate(lab: tuple[Path, list[Path]]) -> None:
    root, runs = lab
    db = ResultsDB(root)
    hist = db.serial_history("S001-bench A")
    assert hist["run"].tolist() == ["r1", "r1", "r2", "r2", "r3", "r3"]
    assert hist["verdict"].tolist()[3] == "broken" and hist["reason"].tolist()[3] == "no pulses"
    rate = db.broken_rate().set_index("bench")
    rows = _all_rows(runs)
    want = rows.groupby("bench")["verdict"].apply(lambda v: (v == "broken").mean())
    assert rate.loc["bench A", "broken"] == 2 and rate.loc["bench/B", "broken"] == 0
    assert rate["broken_rate"].to_dict() == pytest.approx(want.to_dict())
    assert rate.loc["bench A", "runs"] == 3


def test_spc_x_bar_chart_by_hand(lab: tuple[Path, list[Path]]) -> None:
    """ISO 7870-2 X̄ chart: x̿ ± 3·s_p/√nᵢ with s_p² = Σ(nᵢ−1)sᵢ² / Σ(nᵢ−1); the drifted batch r7 is flagged."""
    root, runs = lab
    chart = ResultsDB(root).spc("ACME-1P")
    rows = _all_rows(runs)
    rows = rows[(rows["meter_type"] == "ACME-1P") & rows["error_pct"].notna()]
    for point, g in rows.groupby("point"):
        batches = {run: b["error_pct"].to_numpy(float) for run, b in g.groupby("run_id")}
        num = sum((len(x) - 1) * np.var(x, ddof=1) for x in batches.values() if len(x) > 1)
        den = sum(len(x) - 1 for x in batches.values())
        sp = math.sqrt(num / den)
        centre = g["error_pct"].mean()
        mine = chart[chart["point"] == point].set_index("run")
        for run, x in batches.items():
            half = 3 * sp / math.sqrt(len(x))
            assert mine.loc[run, "ucl_pct"] == pytest.approx(centre + half)
            assert mine.loc[run, "lcl_pct"] == pytest.approx(centre - half)
            assert mine.loc[run, "out_of_control"] == (abs(x.mean() - centre) > half)
    assert set(chart[chart["out_of_control"]]["run"]) == {"r7"}


def _hil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hil.cli", *args], capture_output=True, text=True, timeout=120)


def test_hil_results_cli(lab: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, runs = lab
    p = _hil("results", "--dataset", str(root), "--csv", "type", "ACME-1P")
    assert p.returncode == 0, p.stderr
    got = pd.read_csv(io.StringIO(p.stdout))
    assert len(got) == 2 * 7 and set(got["run"]) == {f"r{k}" for k in range(1, 8)}
    p = _hil("results", "--dataset", str(root), "spc", "ACME-1P", "--plot", str(tmp_path / "spc.png"))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "spc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    p = _hil("results", "--dataset", str(root), "sql", "SELEKT nonsense")
    assert p.returncode == 2 and p.stderr.startswith("hil: error: query refused") and p.stderr.count("\n") == 1
    p = _hil("results", "--dataset", str(tmp_path / "empty"), "broken")
    assert p.returncode == 2 and "no published runs under" in p.stderr
    p = _hil("results", "--dataset", str(tmp_path / "d2"), "publish", str(runs[0]), str(tmp_path))
    assert p.returncode == 2 and "not a run directory" in p.stderr
