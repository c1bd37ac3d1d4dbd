"""The run of a plan inside one pytest session: steps measured once for every position, judged by the core,
written as rows, mapped to Allure.

The pieces with one job each: :class:`hil.core.bench_life.BenchLifecycle` (bench file, simulator, bench, safe
state), :class:`hil.core.store.RunStore` (run directory, results, run.json, resume), :mod:`hil.core.measurement`
(verdicts), :mod:`hil.core.allure_map` (Allure). Every result row is appended right after its step (a crash
loses nothing already measured); ``run.json`` is written when the bench opens and completed at the end.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hil import __version__
from hil.benchfile import BenchFile
from hil.core.allure_map import attach, attach_all, plan_labels, position_labels, quiet
from hil.core.bench_life import SAFE_STATE_KEY, BenchLifecycle
from hil.core.measurement import Measurement, judge
from hil.core.plan import MeasureOptions, Plan, plan_sha256
from hil.core.steps import PointSpec, PositionOutcome, Step
from hil.core.store import RunStore
from hil.results import MEASUREMENT_COLUMNS
from hil.values import utc_now
from instruments.drivers.errors import BenchFault

_KEY = pytest.StashKey["RunSession"]()
T = TypeVar("T")


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


@dataclass
class PointState:
    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    error: BaseException | None = None
    transcript: str = ""
    table: str = ""


class RunSession:
    """The :class:`hil.core.run.RunContext` of the steps of one pytest session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.plans: list[tuple[Path, Plan]] = []
        self.life = BenchLifecycle(config, config.stash.get(SAFE_STATE_KEY, None))
        self.store = RunStore(config.getoption("--run-dir"), bool(config.getoption("--resume", default=False)))
        self._points: dict[str, PointState] = {}
        self._libraries: dict[Path, Any] = {}
        self._services: dict[Callable[..., Any], Any] = {}
        self.started_at = utc_now()

    # -- the RunContext ----------------------------------------------------------------------------
    @property
    def bench_file(self) -> BenchFile:
        return self.life.bench_file

    @property
    def bench(self) -> Any:
        if not self.life.is_open:
            self.life.open(self.config.getoption("--run-dir") if self.resuming else None)
            self._ensure_run_dir()
            self.store.write_run_json(self.metadata())
        return self.life.bench

    @property
    def run_dir(self) -> Path | None:
        return self.store.run_dir

    @property
    def run_id(self) -> str:
        return self.store.run_id

    @property
    def resuming(self) -> bool:
        return self.store.resuming

    @property
    def measure_options(self) -> MeasureOptions:
        return self.plans[0][1].measure if self.plans else MeasureOptions()

    @property
    def terminating(self) -> int | None:
        return self.life.safe_state.terminating

    def reference_accuracy_pct(self) -> float | None:
        return self.life.reference_accuracy_pct()

    def service(self, factory: Callable[[Any], T]) -> T:
        if factory not in self._services:
            self._services[factory] = factory(self)
        out: T = self._services[factory]
        return out

    # -- setup --------------------------------------------------------------------------------------
    def library(self, plan_path: Path, plan: Plan) -> Any:
        from hil.standards import StandardsLibrary

        if plan_path not in self._libraries:
            overrides = [plan_path.parent / plan.limits_override] if plan.limits_override else []
            self._libraries[plan_path] = StandardsLibrary.load(overrides)
        return self._libraries[plan_path]

    def register_plan(self, path: Path, plan: Plan) -> None:
        self.plans.append((path, plan))

    def _ensure_run_dir(self) -> Path:
        return self.store.ensure(self.plans[0][0].stem if self.plans else "run")

    def metadata(self, finished: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "run_id": self.run_id,
            "software_version": __version__,
            "command_line": shlex.join(sys.argv),
            "started_at": self.started_at,
            "plans": [{"name": p.plan, "file": str(path), "sha256": plan_sha256(path), "standard": p.standard,
                       "edition": p.edition} for path, p in self.plans],
        }
        meta.update(self.life.metadata())
        if finished:
            meta["finished_at"] = utc_now()
        gaps = _interruptions(self.run_dir) if self.run_dir is not None else []
        if gaps:  # a resumed sequence: the unmonitored time is part of the run's record
            meta["interruptions"] = gaps
        return meta

    # -- steps --------------------------------------------------------------------------------------
    def result_for(self, step: Step, position: int, item: pytest.Item) -> dict[str, Any]:
        st = self._points.get(step.key)
        if st is None:
            st = self._measure(step)
            self._points[step.key] = st
        row = st.rows.get(position)
        serial = self.bench_file.positions_by_number[position].meter.serial
        position_labels(item, self.bench_file.name, serial, step.kind, step.point_id, position, row)
        if row is not None and step.report is not None:
            self._report(step, position, row)
        if st.transcript:
            attach(st.transcript, "SCPI transcript", "text", shared=True)
        if st.table:
            attach(st.table, f"{step.point_id}: all positions", "csv", shared=True)
        if row is None:
            raise NoResult(f"point {step.point_id} was not measured: {st.error}")
        return row

    def _report(self, step: Step, position: int, row: dict[str, Any]) -> None:
        """A kind's extra Allure content: it must not change the meter's verdict, so a failure says so instead."""
        assert step.report is not None
        try:
            with quiet():
                attach_all(step.report(self, step, position, row))
        except Exception as exc:  # reported, never raised into the verdict
            attach(f"report not available: {type(exc).__name__}: {exc}", f"{step.kind} report", "text")

    def _measure(self, step: Step) -> PointState:
        st = PointState()
        bench = self.bench
        done = self.store.done_rows(step.key, step.positions)
        if done is not None:  # completed before the interruption: not again
            st.rows = done
            return st
        mark = bench.transcript.mark()
        started = utc_now()
        try:
            outcomes = step.run(self, step)
        except Exception as exc:  # recorded once as broken rows: the other positions' items must not re-measure
            kind = "bench fault" if isinstance(exc, BenchFault) else f"error ({type(exc).__name__})"
            outcomes = [PositionOutcome(p, bench.meter(p).spec.serial, 0, 0, None, 0.0, "broken",
                                        f"{kind}: {exc}") for p in step.positions]
            st.error = exc
        rows = self.record(step.test_id, step.kind, step.point_id, step.spec, outcomes, step.measure, started,
                           utc_now(), step.decision_rule, step.limit_pct)
        st.rows = {r["position"]: r for r in rows}
        from instruments.drivers.transcript import Transcript

        st.transcript = Transcript.render(bench.transcript.since(mark))
        from hil.reporting.tables import point_table_csv

        st.table = point_table_csv(rows, step.kind, step.point_id)
        return st

    def record(self, test_id: str, kind: str, point: str, spec: PointSpec, outcomes: list[PositionOutcome],
               measure: Callable[[PositionOutcome], list[Measurement]], started: str, finished: str,
               decision_rule: str, limit_pct: float | None = None) -> list[dict[str, Any]]:
        """Judge each outcome's measurements (the one place a verdict is decided) and append the rows."""
        rows = []
        for o in outcomes:
            verdict, reason, columns = verdict_of(o, measure)
            rows.append(self.row_for(test_id, kind, point, spec, o, verdict, reason, started, finished,
                                     decision_rule, limit_pct, columns))
        self.append_rows(rows)
        return rows

    def plan_result(self, step: Step, item: pytest.Item) -> None:
        """A step of the whole plan (``scope: plan``): run, judged, reported as one result (no row)."""
        outcomes = step.run(self, step)
        o = outcomes[0] if outcomes else PositionOutcome(0, "", 0, 0, None, 0.0, "broken", "no outcome")
        verdict, reason, _ = verdict_of(o, step.measure)
        plan_labels(self.bench_file.name, step.params.get("suite", step.kind), step.kind, step.test_id,
                    step.title or step.key, reason)
        if step.report is not None and verdict != "skipped":
            self._report(step, 0, {"verdict": verdict, "reason": reason, **o.extra})
        if verdict == "skipped":
            pytest.skip(reason)
        if verdict == "fail":
            raise MeterNonConformance(reason)
        if verdict == "broken":
            raise NoResult(reason)

    def append_rows(self, rows: list[dict[str, Any]]) -> None:
        """Append a point's rows to the run's results, whole: a SIGTERM waits until they are on disk."""
        self._ensure_run_dir()
        self.store.append(rows)

    def row_for(self, test_id: str, kind: str, point: str, spec: PointSpec, o: PositionOutcome, verdict: str,
                reason: str, started: str, finished: str, decision_rule: str, limit_pct: float | None = None,
                columns: dict[str, Any] | None = None) -> dict[str, Any]:
        """One results row (columns: hil.results.COLUMNS, the measurement's, then the kind's extras)."""
        row: dict[str, Any] = {
            "run_id": self.run_id, "bench": self.bench_file.name, "position": o.position, "serial": o.serial,
            "test": kind, "point": point, "voltage_v": spec.voltage_v, "current_a": spec.current_a,
            "pf": spec.pf, "element": spec.element, "frequency_hz": spec.frequency_hz, "pulses": o.mut_pulses,
            "duration_s": o.duration_s, "error_pct": o.error_pct,
            "limit_pct": spec.limit_pct if limit_pct is None else limit_pct,
            "uncertainty_pct": o.extra.get("uncertainty_pct"), "verdict": verdict, "standard": spec.standard,
            "limit_table": spec.limit_table, "limit_status": spec.limit_status, "started_at": started,
            "finished_at": finished, "test_id": test_id, "reason": reason, "n_ref": o.n_ref,
            "decision_rule": decision_rule, "calibration_override": self.life.calibration_override(),
            "meter_type": self.bench_file.positions_by_number[o.position].meter.type,  # for queries across runs
        }
        row.update(dict.fromkeys(MEASUREMENT_COLUMNS) | (columns or {}))
        for k, v in o.extra.items():  # a kind's own columns; the shared and measurement columns are the core's
            row.setdefault(k, v)
        return row

    # -- per meter ----------------------------------------------------------------------------------
    def meter_summary(self, position: int, item: pytest.Item) -> None:
        rows = [r for st in self._points.values() for p, r in st.rows.items() if p == position]
        serial = self.bench_file.positions_by_number[position].meter.serial
        position_labels(item, self.bench_file.name, serial, "summary", "meter verdict", position, None)
        if self.run_dir is not None and rows:
            with quiet():
                from hil.reporting.plots import curve_rows, meter_plot, plot_file_name

                if not curve_rows(rows, serial).empty:  # no empty plot for a sequence- or function-only meter
                    png = meter_plot(self.run_dir / "plots" / plot_file_name(serial), rows, serial)
                    attach(png, f"error curve {serial}", "png", shared=True)
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

    def finish(self) -> None:
        try:
            if self.run_dir is not None:
                self.store.compact()
                self.store.write_run_json(self.metadata(finished=True))
        finally:
            self.life.close()


def verdict_of(o: PositionOutcome,
               measure: Callable[[PositionOutcome], list[Measurement]]) -> tuple[str, str, dict[str, Any]]:
    """A position's verdict, reason and measurement columns: a verdict the step set (broken: no valid result;
    skipped: not judged) stands; otherwise its measurements are judged (:func:`hil.core.measurement.judge`)."""
    if o.verdict is not None:
        if o.verdict not in ("broken", "skipped"):
            raise ValueError(f"position {o.position}: a step may set the verdict broken or skipped (no valid result,"
                             f" not judged), not {o.verdict!r}: the core judges its measurements")
        return o.verdict, o.reason, {}
    judgement, decisive = judge(measure(o))
    columns = decisive.columns() if decisive is not None else {}
    if judgement.outcome is not None:
        columns["decision_outcome"] = judgement.outcome
    if judgement.uncertainty_adequate is not None:
        columns["uncertainty_adequate"] = judgement.uncertainty_adequate
    return judgement.verdict, judgement.reason, columns


def _interruptions(run_dir: Path) -> list[dict[str, Any]]:
    """Interruptions of the run's sequences (checkpoint), in sequence hours, for run.json."""
    from hil.core.chunks import checkpoint_states

    return [{"sequence": key, "from_h": round(g["from_s"] / 3600, 4), "to_h": round(g["to_s"] / 3600, 4)}
            for key, state in checkpoint_states(run_dir).items() for g in state.get("interruptions") or []]
