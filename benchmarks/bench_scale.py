"""Results writing at lab scale (issue 17): per-point appends of B benches × P positions × N points.

Each bench's run directory gets its rows exactly as a run writes them — one append per point of P rows (CSV
append + one Parquet part), then the compaction at the end — and the total time per bench is printed against the
issue's goal (≤ 10 s) and against the writer before (every append rewrote the whole results.parquet), measured in
the same run on the first bench. Rows are shaped like an accuracy plan's (the shared columns, the measurement, a
kind's extras).

Run: ``.venv/bin/python benchmarks/bench_scale.py [BENCHES POSITIONS POINTS]`` (default 20 48 40; ``1 48 800`` is
one bench run of 38,400 rows, where the writer before took about 83 s)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL_S = 10.0


def point_rows(bench: int, point: int, positions: int) -> list[dict[str, Any]]:
    rows = []
    for pos in range(1, positions + 1):
        err = ((bench * 7 + point * 13 + pos * 3) % 200 - 100) / 100.0
        rows.append({
            "run_id": f"run-{bench}", "bench": f"bench{bench:02d}", "position": pos,
            "serial": f"MHS{bench:03d}{pos:05d}",
            "test": "accuracy", "point": f"P{point} Iref PF 1", "voltage_v": 230.0, "current_a": 5.0, "pf": "1",
            "element": "all", "frequency_hz": 50.0, "pulses": 40, "duration_s": 21.3, "error_pct": err,
            "limit_pct": 1.0, "uncertainty_pct": 0.021, "verdict": "pass" if abs(err) <= 1 else "fail",
            "standard": "IEC 62053-21:2020", "limit_table": "Table 3", "limit_status": "confirmed",
            "started_at": "2026-12-07T10:00:00.000+00:00", "finished_at": "2026-12-07T10:00:21.300+00:00",
            "quantity": "error", "value": err, "unit": "%", "lower_limit": -1.0, "upper_limit": 1.0,
            "value_uncertainty": 0.021, "test_id": "balanced", "reason": f"error {err:+.4f} % within ±1 %",
            "n_ref": 200000, "decision_rule": "simple", "calibration_override": False, "repeats": 1,
            "decision_outcome": "pass", "uncertainty_adequate": True,
        })
    return rows


def write_bench(run_dir: Path, bench: int, positions: int, points: int) -> float:
    from hil.results import ResultsWriter

    t0 = time.perf_counter()
    w = ResultsWriter(run_dir)
    for k in range(points):
        w.append(point_rows(bench, k, positions))
    w.compact()
    return time.perf_counter() - t0


def write_bench_rewriting(run_dir: Path, bench: int, positions: int, points: int) -> float:
    """The writer before issue 17: CSV append, then the whole table rewritten as results.parquet per point."""
    import pandas as pd

    from hil.results import _write_parquet

    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    run_dir.mkdir(parents=True)
    for k in range(points):
        new = point_rows(bench, k, positions)
        rows += new
        pd.DataFrame(new).to_csv(run_dir / "results.csv", mode="a", header=k == 0, index=False)
        _write_parquet(pd.DataFrame(rows), run_dir / "results.parquet")
    return time.perf_counter() - t0


def main() -> None:
    benches, positions, points = (int(a) for a in (sys.argv[1:4] if len(sys.argv) >= 4 else (20, 48, 40)))
    from hil.results import read_results

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        times = [write_bench(root / f"b{b}", b, positions, points) for b in range(benches)]
        total_rows = sum(len(read_results(root / f"b{b}")) for b in range(benches))
        assert total_rows == benches * positions * points, total_rows
        before = write_bench_rewriting(root / "before", 0, positions, points)
    per = sum(times) / len(times)
    print(f"== results writing: {benches} benches × {positions} positions × {points} points "
          f"({total_rows} rows) ==")
    print(f"per bench, appends + compaction   : {per:8.3f} s   (max {max(times):.3f} s; goal ≤ {GOAL_S:g} s: "
          f"{'met' if max(times) <= GOAL_S else 'NOT met'})")
    print(f"per point append                  : {per / points * 1000:8.2f} ms")
    print(f"before (whole Parquet per point)  : {before:8.3f} s per bench   ratio before / now = {before / per:.1f}")


if __name__ == "__main__":
    main()
