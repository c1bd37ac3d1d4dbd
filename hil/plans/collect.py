"""pytest collects YAML plans directly: one item per (load point, position).

Items of one point are consecutive; the first of them measures every position at once (the bench is shared),
the others read their position's result from the same measurement. The verdict is computed once, by the
framework: a meter out of its limit fails (an ``AssertionError``: Allure *failed*); a bench or instrument fault,
or a meter that gives no result, is broken (any other exception: Allure *broken*).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hil.plans.analysis import Acceleration, AnalysisError, acceleration_of, analyse, write_analysis
from hil.plans.expand import PlanError, Task, expand_plan
from hil.plans.model import Plan, ReliabilityAnalysisTest, is_plan_file, load_plan
from hil.plans.session import MeterNonConformance, NoResult, run_session


class PlanFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        plan: Plan = load_plan(self.path)
        session = run_session(self.config)
        session.register_plan(self.path, plan)
        bench_file = session.bench_file
        tasks = expand_plan(plan, bench_file, session.library(self.path, plan))
        for task in tasks:
            for pos in task.positions:
                meter = bench_file.positions_by_number[pos].meter
                yield PointItem.from_parent(
                    self, name=f"{task.test_id}::{task.point_id}[pos{pos:02d}-{meter.serial}]", task=task,
                    position=pos, plan=plan,
                )
        for test in plan.tests:
            if isinstance(test, ReliabilityAnalysisTest):
                try:
                    acceleration = acceleration_of(test, plan)
                except AnalysisError as exc:  # file, line and field of the analysis test
                    raise PlanError(str(exc.located(self.path, plan, test))) from exc
                except ValueError as exc:
                    raise PlanError(f"{self.path}: {exc}") from exc
                yield AnalysisItem.from_parent(self, name=f"{test.id}::reliability", test=test, plan=plan,
                                               acceleration=acceleration)
        for pos in sorted({p for t in tasks for p in t.positions}):
            meter = bench_file.positions_by_number[pos].meter
            yield MeterSummaryItem.from_parent(self, name=f"summary[pos{pos:02d}-{meter.serial}]", position=pos)


class _VerdictItem(pytest.Item):
    """Show a meter's non-conformance or a missing result as its one-line reason, not a traceback."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, MeterNonConformance | NoResult):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class PointItem(_VerdictItem):
    def __init__(self, *, task: Task, position: int, plan: Plan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.task = task
        self.position = position
        self.plan = plan

    def runtest(self) -> None:
        session = run_session(self.config)
        row = session.result_for(self.task, self.position, self)
        if row["verdict"] == "pass":
            return
        if row["verdict"] == "fail":
            raise MeterNonConformance(row["reason"])
        if row["verdict"] == "skipped":
            pytest.skip(row["reason"])
        raise NoResult(row["reason"])

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.task.test_id} {self.task.point_id} position {self.position}"


class MeterSummaryItem(_VerdictItem):
    """One result per meter: its overall verdict, worst point and error-curve plot."""

    def __init__(self, *, position: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.position = position

    def runtest(self) -> None:
        run_session(self.config).meter_summary(self.position, self)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"meter at position {self.position}"


class AnalysisItem(_VerdictItem):
    """The failures of this run's sequences, analysed (``reliability_analysis``): passes or fails on its MTBF
    target, passes as a report without one."""

    def __init__(self, *, test: ReliabilityAnalysisTest, plan: Plan, acceleration: Acceleration,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test, self.plan, self.acceleration = test, plan, acceleration

    def runtest(self) -> None:
        from hil.results import read_results

        session = run_session(self.config)
        run_dir = session.run_dir
        if run_dir is None or not ((run_dir / "results.parquet").exists() or (run_dir / "results.csv").exists()):
            pytest.skip("no sequence ran in this run: nothing to analyse")
        try:
            outcome = analyse(read_results(run_dir), self.test, self.plan, self.acceleration)
        except ValueError as exc:  # e.g. every analysed row broken: no life data
            raise NoResult(f"{self.test.id}: {exc}") from exc
        path = write_analysis(run_dir, self.test, self.acceleration, outcome)
        session.analysis_labels(self, self.test.id, outcome, path)
        if outcome.passed is False:
            raise MeterNonConformance(outcome.reason)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"reliability analysis {self.test.id}"


def collect_plan_file(file_path: Path, parent: pytest.Collector) -> PlanFile | None:
    if is_plan_file(file_path):
        plan_file: PlanFile = PlanFile.from_parent(parent, path=file_path)
        return plan_file
    return None
