"""Monitoring part files: one set per sequence, read back in run order whatever the bench clock did."""

from __future__ import annotations

import os
from pathlib import Path

from hil.core.chunks import MonitoringStore, read_monitoring


def _rows(test_id: str, t0: float, clock0: float, n: int) -> list[dict[str, object]]:
    return [{"test_id": test_id, "position": p, "t_end_s": t0 + 60.0 * k, "clock_s": clock0 + 60.0 * k}
            for k in range(n) for p in (2, 1)]


def test_parts_of_two_sequences_do_not_overwrite_each_other_and_read_in_run_order(tmp_path: Path) -> None:
    zeta = MonitoringStore(tmp_path, "zeta::48 h at 70 °C")  # runs first
    alpha = MonitoringStore(tmp_path, "alpha::6 cycles")  # runs second, after a bench-clock restart
    z0 = zeta.write(_rows("zeta", 0.0, 5000.0, 2), 0)
    os.utime(tmp_path / "monitoring.parquet" / z0, (1000, 1000))
    a0 = alpha.write(_rows("alpha", 0.0, 10.0, 2), 0)  # the restarted clock: smaller clock_s
    os.utime(tmp_path / "monitoring.parquet" / a0, (2000, 2000))
    z1 = zeta.write(_rows("zeta", 120.0, 5120.0, 1), 1)
    os.utime(tmp_path / "monitoring.parquet" / z1, (1500, 1500))
    assert zeta.parts() == [z0, z1] and alpha.parts() == [a0]
    alpha.keep_only([])  # a resume of alpha removes its own parts only
    assert zeta.parts() == [z0, z1] and alpha.parts() == []
    alpha.write(_rows("alpha", 0.0, 10.0, 2), 0)
    frame = read_monitoring(tmp_path)
    assert list(frame["test_id"]) == ["zeta"] * 6 + ["alpha"] * 4
    zeta_rows = frame[frame["test_id"] == "zeta"]
    assert list(zeta_rows["t_end_s"]) == [0.0, 0.0, 60.0, 60.0, 120.0, 120.0]
    assert list(zeta_rows["position"]) == [1, 2, 1, 2, 1, 2]
    assert "_written" not in frame.columns


def test_the_checkpoints_wall_clock_start_orders_sequences_over_file_times(tmp_path: Path) -> None:
    # a copied run directory (cp without -p) loses the file times: the checkpoint's start times still order it
    import json

    late = MonitoringStore(tmp_path, "late::x").write(_rows("late", 0.0, 0.0, 1), 0)
    early = MonitoringStore(tmp_path, "early::x").write(_rows("early", 0.0, 0.0, 1), 0)
    os.utime(tmp_path / "monitoring.parquet" / late, (1000, 1000))  # file times claim the opposite order
    os.utime(tmp_path / "monitoring.parquet" / early, (2000, 2000))
    assert list(dict.fromkeys(read_monitoring(tmp_path)["test_id"])) == ["late", "early"]
    seqs = {"early::x": {"started_wall": 1.7e9}, "late::x": {"started_wall": 1.7e9 + 3600}}
    (tmp_path / "checkpoint.json").write_text(json.dumps({"version": 1, "sequences": seqs}))
    assert list(dict.fromkeys(read_monitoring(tmp_path)["test_id"])) == ["early", "late"]
