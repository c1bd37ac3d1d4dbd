"""The fault matrix's harness (issue 18, item 6): one `hil run` of a two-point plan on a two-position simulated bench
served here, a fault scheduled on its virtual clock, and optionally a signal the moment the fault has fired.

Each cell asserts the run's invariants: the source is off within 2 s of the end (of the signal, for a signalled
cell), every row in results.csv is in results.parquet, the console names the fault, and — after a `--resume` of an
interrupted run — each (point, position) row exists exactly once.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from hil.simbench import simulated_bench
from instruments.simulators.fault_schedule import ScheduledFault
from tests.test_plan_run import hil
from tests.test_run_robustness import SHORT_PLAN, _child_of, _gone
from tests.test_run_robustness import _two_positions as two_position_bench

POINTS, POSITIONS = 2, 2
ROWS = POINTS * POSITIONS
#: when a fault lands: as point 2's measurement starts; as point 1's calculators have finished (before the run
#: has fetched and checked them, then it moves to point 2); as the last point's calculators have finished (the run
#: then fetches, checks the instruments' error queues and switches off)
WHEN = {"mid-point": {"point": 2}, "between points": {"after_point": 1}, "end of the run": {"after_point": POINTS}}
IO_TIMEOUT_S = 1.0
#: how long the source may stay on after the run (or the signal) ends
OFF_WITHIN_S = 2.0


@dataclass
class Cell:
    exit_code: int
    console: str
    csv_rows: int
    parquet: pd.DataFrame
    off_after_s: float
    fired: list[ScheduledFault]
    log: str = ""


def _source_on(rb: Any) -> bool:
    return bool(rb.call(lambda: rb.bench.world.truth())["source"]["output"])


def _wait_off(rb: Any, since: float) -> float:
    """Seconds from ``since`` until the source output is off (inf: still on after 10 s); polled from the
    simulator's truth, so it is when the instrument switched off, not when a process said so."""
    while _source_on(rb):
        if time.monotonic() - since > 10:
            return float("inf")
        time.sleep(0.02)
    return time.monotonic() - since


@contextlib.contextmanager
def served(tmp: Path, seed: int = 7) -> Iterator[tuple[Any, Path, Path]]:
    (tmp / "plan.yaml").write_text(SHORT_PLAN, encoding="utf-8")
    sim = two_position_bench(tmp / "sim.yaml")
    with simulated_bench(sim, seed=seed, write_to=tmp / "bench.yaml") as (rb, _):
        # a lab waits 1 s for these loopback instruments, not the default 5 s: a hung one costs the cell less
        data = yaml.safe_load((tmp / "bench.yaml").read_text(encoding="utf-8"))
        for binding in data["roles"].values():
            binding["timeout_s"] = IO_TIMEOUT_S
        (tmp / "bench.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        yield rb, tmp / "bench.yaml", tmp / "plan.yaml"


def run_cell(tmp: Path, endpoint: str, kind: str, when: str, sig: str = "none", arg: float | None = None) -> Cell:
    """``sig``: none | SIGINT | SIGTERM (to `hil run`) | KILL-hil (SIGKILL of `hil run`) | KILL-pytest."""
    with served(tmp) as (rb, bench, plan):
        rb.call(rb.bench.schedule_fault, ScheduledFault(endpoint, kind, arg, **WHEN[when]))
        out = tmp / "run"
        p = hil("run", str(plan), "--bench", str(bench), "--out", str(out), "--no-progress",
                start_new_session=True)
        since, orphan = 0.0, 0
        try:
            if sig != "none":
                end = time.monotonic() + 120
                while not rb.call(lambda: list(rb.bench.faults.fired)) and p.poll() is None:
                    assert time.monotonic() < end, "the fault never fired"
                    time.sleep(0.005)
                since = time.monotonic()
                with contextlib.suppress(ProcessLookupError, AssertionError):
                    if sig in ("SIGINT", "SIGTERM"):
                        p.send_signal(getattr(signal, sig))
                    elif sig == "KILL-hil":
                        orphan = _child_of(p.pid)
                        p.kill()
                    elif sig == "KILL-pytest":
                        os.kill(_child_of(p.pid), signal.SIGKILL)
                with concurrent.futures.ThreadPoolExecutor(1) as pool:  # watch the source while the run ends
                    watch = pool.submit(_wait_off, rb, since)
                    console, _ = p.communicate(timeout=180)
                    off = watch.result()
            else:
                console, _ = p.communicate(timeout=180)
                off = _wait_off(rb, time.monotonic())
        finally:
            if p.poll() is None:
                p.kill()
        end = time.monotonic() + 60
        while orphan and not _gone(orphan):  # the orphaned pytest takes the source down itself, then ends
            assert time.monotonic() < end, "pytest goes on without its guardian"
            time.sleep(0.05)
        fired = rb.call(lambda: list(rb.bench.faults.fired))
        csv_rows = len(pd.read_csv(out / "results.csv")) if (out / "results.csv").exists() else 0
        pq = pd.read_parquet(out / "results.parquet") if (out / "results.parquet").exists() else pd.DataFrame()
        log = (out / "pytest.log").read_text(encoding="utf-8") if (out / "pytest.log").exists() else ""
        return Cell(p.returncode, console, csv_rows, pq, off, fired, log)


def resume(tmp: Path) -> tuple[int, str, pd.DataFrame]:
    """`hil run --resume` of the cell's run on a bench served anew with the same seed and file."""
    with served(tmp) as (rb, bench, _):
        p = hil("run", "--resume", str(tmp / "run"), "--bench", str(bench), "--no-progress")
        console, _ = p.communicate(timeout=180)
        assert not _source_on(rb)
    return p.returncode, console, pd.read_parquet(tmp / "run" / "results.parquet")


def assert_invariants(cell: Cell, endpoint: str, kind: str) -> None:
    assert cell.off_after_s <= OFF_WITHIN_S, f"source still on {cell.off_after_s:.2f} s after the end"
    assert len(cell.parquet) == cell.csv_rows, "a finished row is missing from results.parquet"
    assert [(f.endpoint, f.kind) for f in cell.fired] == [(endpoint, kind)]
    # pytest.log is for people: short tracebacks, none through pytest's or pluggy's internals
    assert "site-packages/pluggy" not in cell.log and "site-packages/_pytest" not in cell.log, cell.log[-3000:]


def assert_each_row_once(rows: pd.DataFrame) -> None:
    keys = list(zip(rows["point"], rows["position"], strict=True))
    assert len(keys) == len(set(keys)) == ROWS, sorted(keys)
