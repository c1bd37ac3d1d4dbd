"""The bench of a run: its file, the in-process simulator when no bench file is given, the opened bench (identity,
calibration, ratings checked; safe state armed) and its closing (safe state: source off first)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hil.benchfile import BenchFile, load_bench_file
from hil.safety import SafeState

#: the pytest session's safe state (hil.pytest_plugin installs it; the bench arms it)
SAFE_STATE_KEY = pytest.StashKey[SafeState]()


class BenchLifecycle:
    """Opened lazily: the bench file at collection, the instruments at the first step that needs them."""

    def __init__(self, config: pytest.Config, safe_state: SafeState | None) -> None:
        self.config = config
        self.safe_state = safe_state or SafeState()
        self._bench_file: BenchFile | None = None
        self._bench: Any = None
        self._sim: Any = None
        self.source = ""

    @property
    def bench_file(self) -> BenchFile:
        """The bench file (read at collection; for the simulated bench, the simulator starts here)."""
        if self._bench_file is None:
            path = self.config.getoption("--bench")
            if path:
                self._bench_file = load_bench_file(path)
                self.source = str(path)
            else:
                from hil.simbench import bench_file_for
                from instruments.simulators.bench import RunningBench, SimulatedBench

                sim = SimulatedBench.from_file(
                    self.config.getoption("--sim-bench"), seed=self.config.getoption("--sim-seed")
                )
                self._sim = RunningBench(sim).__enter__()
                self._bench_file = self._sim.call(bench_file_for, sim)
                self.source = "<simulated bench>"
        return self._bench_file

    @property
    def is_open(self) -> bool:
        return self._bench is not None

    def open(self, resume_run_dir: str | None) -> Any:
        """Connect and check the bench (:class:`hil.bench.Bench`); on a resume, refuse a simulated bench other
        than the interrupted run's (pytest exits with 2, nothing energised)."""
        if self._bench is None:
            from hil.bench import Bench

            b = Bench(self.bench_file, source_file=self.source,
                      allow_expired_calibration=bool(self.config.getoption("--allow-expired-calibration")),
                      safe_state=self.safe_state)
            b.connect()
            if resume_run_dir is not None:
                problem = not_the_same_bench(resume_run_dir, b.metadata())
                if problem is not None:
                    b.close()  # safe state; nothing was energised
                    pytest.exit(problem, returncode=2)
            self._bench = b
        return self._bench

    @property
    def bench(self) -> Any:
        return self._bench

    def reference_accuracy_pct(self) -> float | None:
        """The reference standard's error bound (bench file: roles.reference.calibration.accuracy_pct)."""
        ref = self.bench_file.roles.get("reference")
        return ref.calibration.accuracy_pct if ref is not None and ref.calibration is not None else None

    def calibration_override(self) -> bool:
        return bool(self._bench is not None and self._bench.metadata()["calibration_override"])

    def metadata(self) -> dict[str, Any]:
        """run.json's bench part: the simulated bench's seed and file, the instruments once opened."""
        meta: dict[str, Any] = {"seed": self._sim.bench.seed if self._sim is not None else None}
        if self._bench is not None:  # a simulated bench says its own seed and file (its `simulation` role)
            meta.update(self._bench.metadata())
        if self._sim is not None and not meta.get("sim_bench"):  # served here from a file it was not told
            opt = self.config.getoption("--sim-bench")
            meta["sim_bench"] = str(Path(opt).resolve()) if opt else "default"
        return meta

    def close(self) -> None:
        try:
            if self._bench is not None:
                self._bench.close()
                self._bench = None
        finally:
            if self._sim is not None:
                self._sim.__exit__(None, None, None)
                self._sim = None


def not_the_same_bench(run_dir: str | None, now: dict[str, Any]) -> str | None:
    """Why a resumed run may not continue on this bench: a simulated bench with another seed or configuration
    than the interrupted run's ``run.json`` records has other meters; None when it is the same (or unknown)."""
    path = Path(run_dir or ".") / "run.json"
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for key, what in (("seed", "seed"), ("sim_bench_sha256", "simulated-bench configuration (SHA-256)")):
        was, is_ = before.get(key), now.get(key)
        if was is not None and is_ is not None and was != is_:
            return (f"cannot resume {path.parent}: the simulated bench's {what} is {is_}, the interrupted run's was "
                    f"{was} ({path}); resume on the same simulated bench")
    return None
