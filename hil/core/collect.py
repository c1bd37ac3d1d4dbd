"""pytest collects YAML plans directly: one item per (step, position), one per whole-plan step, one per meter.

Items of one step are consecutive; the first of them runs the step on every position at once (the bench is
shared), the others read their position's result from the same run. The verdict is computed once, by the core
(:mod:`hil.core.measurement`): a meter out of its limit fails (an ``AssertionError``: Allure *failed*); a bench or
instrument fault, or a meter that gives no result, is broken (any other exception: Allure *broken*).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hil.core.expand import expand_plan
from hil.core.plan import Plan, is_plan_file, load_plan
from hil.core.session import MeterNonConformance, NoResult, run_session
from hil.core.steps import Step


class PlanFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        plan: Plan = load_plan(self.path)
        session = run_session(self.config)
        session.register_plan(self.path, plan)
        bench_file = session.bench_file
        steps = expand_plan(plan, bench_file, session.library(self.path, plan), self.path)
        for step in steps:
            if step.scope == "plan":
                yield PlanStepItem.from_parent(self, name=f"{step.test_id}::{step.point_id}", step=step)
                continue
            for pos in step.positions:
                meter = bench_file.positions_by_number[pos].meter
                yield PointItem.from_parent(
                    self, name=f"{step.test_id}::{step.point_id}[pos{pos:02d}-{meter.serial}]", step=step,
                    position=pos, plan=plan,
                )
        for pos in sorted({p for t in steps for p in t.positions}):
            meter = bench_file.positions_by_number[pos].meter
            yield MeterSummaryItem.from_parent(self, name=f"summary[pos{pos:02d}-{meter.serial}]", position=pos)


class _VerdictItem(pytest.Item):
    """Show a meter's non-conformance or a missing result as its one-line reason, not a traceback."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, MeterNonConformance | NoResult):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class PointItem(_VerdictItem):
    def __init__(self, *, step: Step, position: int, plan: Plan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step = step
        self.position = position
        self.plan = plan

    def runtest(self) -> None:
        session = run_session(self.config)
        row = session.result_for(self.step, self.position, self)
        if row["verdict"] == "pass":
            return
        if row["verdict"] == "fail":
            raise MeterNonConformance(row["reason"])
        if row["verdict"] == "skipped":
            pytest.skip(row["reason"])
        raise NoResult(row["reason"])

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.step.test_id} {self.step.point_id} position {self.position}"


class PlanStepItem(_VerdictItem):
    """A step of the whole plan (``scope: plan``), e.g. the analysis of the run's sequence failures."""

    def __init__(self, *, step: Step, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.step = step

    def runtest(self) -> None:
        run_session(self.config).plan_result(self.step, self)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.step.title or f"{self.step.kind} {self.step.test_id}"


class MeterSummaryItem(_VerdictItem):
    """One result per meter: its overall verdict, worst point and error-curve plot."""

    def __init__(self, *, position: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.position = position

    def runtest(self) -> None:
        run_session(self.config).meter_summary(self.position, self)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"meter at position {self.position}"


def collect_plan_file(file_path: Path, parent: pytest.Collector) -> PlanFile | None:
    if is_plan_file(file_path):
        plan_file: PlanFile = PlanFile.from_parent(parent, path=file_path)
        return plan_file
    return None
