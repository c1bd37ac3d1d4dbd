"""What a step's ``run`` gets from the core: the bench, the run's directory and options, and per-run services."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hil.benchfile import BenchFile

T = TypeVar("T")


class RunContext(Protocol):
    @property
    def bench(self) -> Any:
        """The opened :class:`hil.bench.Bench` (opened at the first step that needs it)."""

    @property
    def bench_file(self) -> BenchFile: ...

    @property
    def run_dir(self) -> Path | None: ...

    @property
    def resuming(self) -> bool: ...

    @property
    def measure_options(self) -> Any:
        """The plan's :class:`hil.core.plan.MeasureOptions`."""

    @property
    def terminating(self) -> int | None:
        """The signal being handled by the safe state (a stop request), or None."""

    def reference_accuracy_pct(self) -> float | None: ...

    def service(self, factory: Callable[[RunContext], T]) -> T:
        """One object per run made by ``factory`` (e.g. the accuracy runner shared by every kind that measures
        errors, a kind family's state across its steps)."""
