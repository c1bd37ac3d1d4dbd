"""The run of a plan inside one pytest session: bench, run directory, results, verdicts, Allure labels.

Measurements happen once per point for all positions; every result row is appended to the results table right
after its point (a crash loses nothing already measured); ``run.json`` is written at the start and completed at
the end.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hil import __version__
from hil.benchfile import BenchFile, load_bench_file
from hil.measure.accuracy import AccuracyRunner, MeasureSettings, PointSpec, PositionOutcome, utc_now
from hil.plans.expand import Task
from hil.plans.model import Plan, plan_sha256
from hil.results import ResultsWriter, write_run_json
from hil.safety import critical_section
from instruments.drivers.errors import BenchFault

_KEY = pytest.StashKey["RunSession"]()


class MeterNonConformance(AssertionError):
    """The meter under test is outside its limit (Allure: failed)."""


class NoResult(Exception):
    """No valid result for this meter: a bench fault or a meter that gives nothing to measure (Allure: broken)."""


def run_session(config: pytest.Config) -> RunSession:
    s = config.stash.get(_KEY, None)
    if s is None:
        s = RunSession(config)
        config.stash[_KEY] = s
        config.add_cleanup(s.finish)
    return s


def new_run_id(plan_stem: str) -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + plan_stem


@dataclass
class PointState:
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    error: BaseException | None = None
    transcript: str = ""
    table: str = ""


class RunSession:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.plans: list[tuple[Path, Plan]] = []
        self._bench_file: BenchFile | None = None
        self._bench: Any = None
        self._sim: Any = None
        self._runner: AccuracyRunner | None = None
        self._results: ResultsWriter | None = None
        self._points: dict[str, PointState] = {}
        self._libraries: dict[Path, Any] = {}
        self.run_dir: Path | None = None
        self.run_id = ""
        self.started_at = utc_now()
        self.bench_source = ""
        self.no_pulses: dict[int, str] = {}  # position -> why its pulse output is considered dead
        self._dead_counts: dict[int, int] = {}
        self._pulsed: set[int] = set()
        #: ``--resume``: continue an interrupted run
        self.resuming = bool(config.getoption("--resume", default=False))
        self._done_rows: dict[str, dict[int, dict[str, Any]]] = {}

    # -- setup --------------------------------------------------------------------------------------
    @property
    def bench_file(self) -> BenchFile:
        """The bench file (read at collection; for the simulated bench, the simulator starts here)."""
        if self._bench_file is None:
            path = self.config.getoption("--bench")
            if path:
                self._bench_file = load_bench_file(path)
                self.bench_source = str(path)
            else:
                from hil.simbench import bench_file_for
                from instruments.simulators.bench import RunningBench, SimulatedBench

                sim = SimulatedBench.from_file(
                    self.config.getoption("--sim-bench"), seed=self.config.getoption("--sim-seed")
                )
                self._sim = RunningBench(sim).__enter__()
                self._bench_file = self._sim.call(bench_file_for, sim)
                self.bench_source = "<simulated bench>"
        return self._bench_file

    def library(self, plan_path: Path, plan: Plan) -> Any:
        from hil.standards import StandardsLibrary

        if plan_path not in self._libraries:
            overrides = [plan_path.parent / plan.limits_override] if plan.limits_override else []
            self._libraries[plan_path] = StandardsLibrary.load(overrides)
        return self._libraries[plan_path]

    def register_plan(self, path: Path, plan: Plan) -> None:
        self.plans.append((path, plan))

    def _ensure_run_dir(self) -> Path:
        if self.run_dir is None:
            opt = self.config.getoption("--run-dir")
            stem = self.plans[0][0].stem if self.plans else "run"
            self.run_id = Path(opt).name if opt else new_run_id(stem)
            self.run_dir = Path(opt) if opt else Path("reports") / self.run_id
            self.run_dir.mkdir(parents=True, exist_ok=True)
            has_results = any((self.run_dir / f).exists()
                              for f in ("results.csv", "results.parquet", "checkpoint.json"))
            if has_results and not self.resuming:
                raise pytest.UsageError(f"run directory {self.run_dir} already holds results: give a new one")
            self._results = ResultsWriter(self.run_dir)  # resuming: continues the existing table
            if self.resuming:
                for r in self._results.rows:  # rows of tasks completed before the interruption are reused
                    self._done_rows.setdefault(f"{r['test_id']}::{r['point']}", {})[int(r["position"])] = r
        return self.run_dir

    @property
    def bench(self) -> Any:
        if self._bench is None:
            from hil.bench import Bench
            from hil.safety import SafeState

            safe = self.config.stash.get(_safe_key(), None) or SafeState()
            b = Bench(self.bench_file, source_file=self.bench_source,
                      allow_expired_calibration=bool(self.config.getoption("--allow-expired-calibration")),
                      safe_state=safe)
            b.connect()
            if self.resuming:
                problem = _not_the_same_bench(self.config.getoption("--run-dir"), b.metadata())
                if problem is not None:
                    b.close()  # safe state; nothing was energised
                    pytest.exit(problem, returncode=2)
            self._bench = b
            self._ensure_run_dir()
            write_run_json(self.run_dir or Path("."), self.metadata())
        return self._bench

    def reference_accuracy_pct(self) -> float | None:
        """The reference standard's error bound (bench file: roles.reference.calibration.accuracy_pct)."""
        ref = self.bench_file.roles.get("reference")
        return ref.calibration.accuracy_pct if ref is not None and ref.calibration is not None else None

    def runner(self) -> AccuracyRunner:
        if self._runner is None:
            from hil.plans.model import MeasureOptions

            m = self.plans[0][1].measure if self.plans else MeasureOptions()
            self._runner = AccuracyRunner(self.bench, MeasureSettings(
                settle_s=m.settle_s, resolution_fraction=m.resolution_fraction, min_duration_s=m.min_duration_s,
                min_pulses=m.min_pulses, timeout_factor=m.timeout_factor,
            ))
        return self._runner

    def metadata(self, finished: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "run_id": self.run_id,
            "software_version": __version__,
            "command_line": shlex.join(sys.argv),
            "started_at": self.started_at,
            "plans": [{"name": p.plan, "file": str(path), "sha256": plan_sha256(path), "standard": p.standard,
                       "edition": p.edition} for path, p in self.plans],
            "seed": None,
        }
        if self._sim is not None:
            meta["seed"] = self._sim.bench.seed
        if self._bench is not None:  # a simulated bench says its own seed and file (its `simulation` role)
            meta.update(self._bench.metadata())
        if self._sim is not None and not meta.get("sim_bench"):  # served here from a file it was not told
            opt = self.config.getoption("--sim-bench")
            meta["sim_bench"] = str(Path(opt).resolve()) if opt else "default"
        if finished:
            meta["finished_at"] = utc_now()
        gaps = _interruptions(self.run_dir) if self.run_dir is not None else []
        if gaps:  # a resumed sequence: the unmonitored time is part of the run's record
            meta["interruptions"] = gaps
        return meta

    # -- measuring ----------------------------------------------------------------------------------
    def result_for(self, task: Task, position: int, item: pytest.Item) -> dict[str, Any]:
        st = self._points.get(task.key)
        if st is None:
            st = self._measure(task)
            self._points[task.key] = st
        row = st.rows.get(position)
        _allure_labels(item, self, task.test_kind, task.point_id, position, row)
        if row is not None and self.run_dir is not None and task.spec.limit_table == "survival":  # a sequence
            _sequence_report(self.run_dir, task, position, row, item)
        if st.transcript:
            _attach(st.transcript, "SCPI transcript", "text")
        if st.table:
            _attach(st.table, f"{task.point_id}: all positions", "csv")
        if row is None:
            raise NoResult(f"point {task.point_id} was not measured: {st.error}")
        return row

    def _measure(self, task: Task) -> PointState:
        st = PointState()
        bench = self.bench
        done = self._done_rows.get(task.key, {})
        if self.resuming and done and all(p in done for p in task.positions):
            st.rows = {p: done[p] for p in task.positions}  # completed before the interruption: not again
            return st
        mark = bench.transcript.mark()
        started = utc_now()
        try:
            outcomes = task.run(self, task)
        except Exception as exc:  # recorded once as broken rows: the other positions' items must not re-measure
            kind = "bench fault" if isinstance(exc, BenchFault) else f"error ({type(exc).__name__})"
            outcomes = [PositionOutcome(p, bench.meter(p).spec.serial, 0, 0, None, 0.0, "broken",
                                        f"{kind}: {exc}") for p in task.positions]
            st.error = exc
        finished = utc_now()
        rows = []
        for o in outcomes:
            verdict, reason = self._verdict(task, o)
            rows.append(self.row_for(task.test_id, task.test_kind, task.point_id, task.spec, o, verdict, reason,
                                     started, finished, task.decision_rule, task.limit_pct))
        self.append_rows(rows)
        st.rows = {r["position"]: r for r in rows}
        from instruments.drivers.transcript import Transcript

        st.transcript = Transcript.render(bench.transcript.since(mark))
        from hil.reporting.tables import point_table_csv

        st.table = point_table_csv(rows, task.test_kind, task.point_id)
        return st

    def _verdict(self, task: Task, o: PositionOutcome) -> tuple[str, str]:
        verdict, reason = o.verdict, o.reason
        judged_from_pulses = task.test_kind != "accuracy" and not task.params.get("port_only")
        if verdict is None and o.mut_pulses == 0 and judged_from_pulses and o.position in self.no_pulses:
            verdict, reason = "broken", (f"no pulses: the meter's pulse output gave nothing"
                                         f" {self.no_pulses[o.position]}, so {task.test_kind} cannot be judged"
                                         " from pulses")
        if verdict is None:
            verdict, reason = task.decide(o)
        self._track_pulse_output(task, o, verdict)
        return verdict, reason

    def append_rows(self, rows: list[dict[str, Any]]) -> None:
        """Append a point's rows to the run's results, whole: a SIGTERM waits until they are on disk."""
        self._ensure_run_dir()
        assert self._results is not None
        with critical_section():
            self._results.append(rows)

    def row_for(self, test_id: str, kind: str, point: str, spec: PointSpec, o: PositionOutcome, verdict: str,
                reason: str, started: str, finished: str, decision_rule: str,
                limit_pct: float | None = None) -> dict[str, Any]:
        """One results row (columns: hil.results.COLUMNS, then extras)."""
        cal_override = bool(self._bench is not None and self._bench.metadata()["calibration_override"])
        row: dict[str, Any] = {
            "run_id": self.run_id, "bench": self.bench_file.name, "position": o.position, "serial": o.serial,
            "test": kind, "point": point, "voltage_v": spec.voltage_v, "current_a": spec.current_a,
            "pf": spec.pf, "element": spec.element, "frequency_hz": spec.frequency_hz, "pulses": o.mut_pulses,
            "duration_s": o.duration_s, "error_pct": o.error_pct,
            "limit_pct": spec.limit_pct if limit_pct is None else limit_pct,
            "uncertainty_pct": o.extra.get("uncertainty_pct"), "verdict": verdict, "standard": spec.standard,
            "limit_table": spec.limit_table, "limit_status": spec.limit_status, "started_at": started,
            "finished_at": finished, "test_id": test_id, "reason": reason, "n_ref": o.n_ref,
            "decision_rule": decision_rule, "calibration_override": cal_override,
        }
        for k, v in o.extra.items():
            row.setdefault(k, v)
        return row

    def _track_pulse_output(self, task: Task, o: PositionOutcome, verdict: str) -> None:
        """Remember whose pulse output is known to work (it pulsed in this run) or known dead (nothing at every
        accuracy point so far, or nothing in a count test's pulse-output check, ``extra["pulse_output_ok"]``)."""
        checked = o.extra.pop("pulse_output_ok", None)  # consumed here, not a results column
        if checked is False:
            self.no_pulses[o.position] = f"in the pulse-output check at Iref of test {task.test_id!r}"
        elif task.test_kind == "accuracy" and o.position not in self._pulsed and verdict == "broken" \
                and o.mut_pulses == 0 and o.reason.startswith("no pulses"):
            n = self._dead_counts[o.position] = self._dead_counts.get(o.position, 0) + 1
            self.no_pulses[o.position] = f"at every accuracy point of this run ({n} point(s))"
        elif task.test_kind == "accuracy" or o.mut_pulses > 0 or checked:
            self._pulsed.add(o.position)  # it pulsed once: a later count test judges it normally
            self.no_pulses.pop(o.position, None)

    def pulse_output_state(self, position: int) -> str:
        """``works`` (it pulsed earlier in this run), ``dead`` (silent where it had to pulse) or ``unknown``."""
        return "works" if position in self._pulsed else "dead" if position in self.no_pulses else "unknown"

    # -- per meter ----------------------------------------------------------------------------------
    def meter_summary(self, position: int, item: pytest.Item) -> None:
        rows = [r for st in self._points.values() for p, r in st.rows.items() if p == position]
        serial = self.bench_file.positions_by_number[position].meter.serial
        _allure_labels(item, self, "summary", "meter verdict", position, None)
        if self.run_dir is not None and rows:
            with _quiet():
                from hil.reporting.plots import curve_rows, error_curve_png

                if not curve_rows(rows, serial).empty:  # no empty plot for a sequence- or function-only meter
                    _attach(error_curve_png(rows, serial), f"error curve {serial}", "png")
        if not rows:
            pytest.skip("no points measured for this meter")
        import allure

        from hil.reporting.tables import meter_summaries

        # the worst point by the same rule as the CLI summary and summary.txt (failed points rank first)
        summary = next(iter(meter_summaries(rows)), None)
        failed = [r for r in rows if r["verdict"] == "fail"]
        broken = [r for r in rows if r["verdict"] == "broken"]
        worst_txt = (f"worst point {summary.worst_text}" if summary is not None and summary.worst_point is not None
                     else "no measured point")
        dyn: Any = allure.dynamic  # allure-pytest's helpers are untyped
        dyn.description(f"verdict {summary.verdict if summary else 'skipped'}; {worst_txt}")
        if failed:
            raise MeterNonConformance(f"meter {serial}: failed at {len(failed)} point(s) "
                                      f"({', '.join(r['point'] for r in failed)}); {worst_txt}")
        if broken:
            raise NoResult(f"meter {serial}: {len(broken)} point(s) without a result: {broken[0]['reason']}")

    def analysis_labels(self, item: pytest.Item, test_id: str, outcome: Any, path: Path) -> None:
        """Allure for a ``reliability_analysis`` item: its numbers, table and Weibull plot."""
        import allure

        dyn: Any = allure.dynamic
        dyn.suite("reliability")
        dyn.feature("reliability_analysis")
        dyn.story(test_id)
        dyn.title(f"reliability analysis {test_id}")
        allure.dynamic.parameter("bench", self.bench_file.name)
        dyn.description(outcome.reason)
        _attach(path.read_text(encoding="utf-8"), path.name, "text")
        s = outcome.summary
        with _quiet():
            from hil.reliability import weibull_plot_png

            _attach(weibull_plot_png(s.data, s.fit, title=f"Weibull probability plot — {test_id}"),
                    f"Weibull plot {test_id}", "png")

    def finish(self) -> None:
        try:
            if self.run_dir is not None:
                write_run_json(self.run_dir, self.metadata(finished=True))
        finally:
            if self._bench is not None:
                self._bench.close()
                self._bench = None
            if self._sim is not None:
                self._sim.__exit__(None, None, None)
                self._sim = None


def _sequence_report(run_dir: Path, task: Task, position: int, row: dict[str, Any], item: pytest.Item) -> None:
    """Allure steps per stage of a stress sequence, the meter's timeline and the chamber trace (docs/reporting.md).
    A report that cannot be made says so in an attachment: it must not change the meter's verdict."""
    from hil.reporting.allure_steps import report_sequence_item
    from hil.sequences.profile import steps_of

    test = next((t for t in getattr(getattr(item, "plan", None), "tests", []) if t.id == task.test_id), None)
    try:
        planned = [s.name for s in steps_of(test)] if test is not None else None
        with _quiet():
            report_sequence_item(run_dir, task.test_id, position, row, planned, getattr(test, "cycles", None))
    except Exception as exc:  # reported, never raised into the verdict
        _attach(f"stage steps not available: {type(exc).__name__}: {exc}", "sequence report", "text")


def _interruptions(run_dir: Path) -> list[dict[str, Any]]:
    """Interruptions of the run's sequences (checkpoint), in sequence hours, for run.json."""
    from hil.reporting.sequence_data import checkpoint_sequences

    return [{"sequence": key, "from_h": round(g["from_s"] / 3600, 4), "to_h": round(g["to_s"] / 3600, 4)}
            for key, state in checkpoint_sequences(run_dir).items() for g in state.get("interruptions") or []]


def _safe_key() -> Any:
    from hil.pytest_plugin import SAFE_STATE_KEY

    return SAFE_STATE_KEY


def _not_the_same_bench(run_dir: str | None, now: dict[str, Any]) -> str | None:
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


class _quiet:
    def __enter__(self) -> None:
        os.environ.setdefault("MPLBACKEND", "Agg")

    def __exit__(self, *exc: object) -> None:
        return None


def _attach(body: str | bytes, name: str, kind: str) -> None:
    try:
        import allure
    except ImportError:  # pragma: no cover - allure-pytest is a dependency
        return
    types = {"text": allure.attachment_type.TEXT, "csv": allure.attachment_type.CSV,
             "png": allure.attachment_type.PNG}
    allure.attach(body, name=name, attachment_type=types[kind])


def _allure_labels(item: pytest.Item, s: RunSession, feature: str, story: str, position: int,
                   row: dict[str, Any] | None) -> None:
    import allure

    serial = s.bench_file.positions_by_number[position].meter.serial
    dyn: Any = allure.dynamic  # allure-pytest's helpers are untyped
    dyn.suite(serial)
    dyn.feature(feature)
    dyn.story(story)
    dyn.title(f"{story} — position {position} ({serial})")
    allure.dynamic.parameter("bench", s.bench_file.name)
    allure.dynamic.parameter("position", position)
    allure.dynamic.parameter("serial", serial)
    if row is not None:
        allure.dynamic.parameter("point", row["point"])
        desc = (f"error {row['error_pct']:+.4f} % (limit ±{row['limit_pct']:g} %, U = "
                f"{row['uncertainty_pct'] if row['uncertainty_pct'] is not None else '—'} %, "
                f"{row['decision_rule']}); limit: {row['standard']} {row['limit_table']} ({row['limit_status']})"
                if row["error_pct"] is not None else row["reason"])
        if row.get("calibration_override"):
            desc += "\n\nWARNING: the reference standard's calibration had expired (run under override)."
        dyn.description(desc)


Runner = Callable[[RunSession, Task], list[PositionOutcome]]
