"""Life data: each unit's hours on test and whether it failed (failure) or was still working (right-censored).

A unit taken off test, or still running when the test stopped, is *right-censored* (a suspension): it is known
only to have lived at least that long. Censored units carry information and must not be dropped or treated as
failures (IEC 61649 §5: Weibull analysis with suspended items).

CSV format (one row per unit)::

    unit,hours,failed          or          unit,hours,status
    M01,1520,1                             M01,1520,failed
    M02,2000,0                             M02,2000,censored

``failed`` is 0/1 (also true/false, yes/no); ``status`` is one of ``failed``/``failure``/``f`` or
``censored``/``suspended``/``survived``/``running``/``s``/``c``. Optional columns: ``level`` (stress level, for
:mod:`hil.reliability.stress_levels`), ``mode`` (failure mode), ``note``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from hil.reliability._tables import read_csv_rows
from hil.values import finite_or_none
from instruments.yamlconfig import ConfigError

if TYPE_CHECKING:  # pandas only for the annotation: the analytics themselves do not need it
    import pandas as pd

FAILED_WORDS = frozenset({"failed", "failure", "fail", "f"})
CENSORED_WORDS = frozenset({"censored", "suspended", "suspension", "survived", "running", "s", "c"})

#: life units: hours on test (burn-in, environmental kinds), thermal cycles (ESS thermal cycling), power cycles
#: (power cycling): what a sequence's result rows say in their ``life_unit`` column (none: hours)
HOURS = "h"
THERMAL_CYCLES = "thermal cycles"
POWER_CYCLES = "power cycles"
LIFE_UNITS = (HOURS, THERMAL_CYCLES, POWER_CYCLES)


def is_cycles(unit: str) -> bool:
    """True for a life counted in cycles (thermal or power cycles), False for hours."""
    return unit != HOURS


def unit_word(unit: str) -> str:
    """The unit as a word for labels: "hours", "thermal cycles", "power cycles"."""
    return "hours" if unit == HOURS else unit


@dataclass(frozen=True, eq=False)
class LifeData:
    """Life on test per unit and the failed flag; build with :meth:`of` (which validates).

    ``hours`` is the life in ``unit``: hours (the default), or cycles (thermal or power cycles) — the Weibull fit,
    the MTBF bounds and the plots are the same mathematics in any unit of life."""

    hours: npt.NDArray[np.float64]
    failed: npt.NDArray[np.bool_]
    units: tuple[str, ...]
    #: units left out of the analysis, as (unit, why): no valid outcome (broken/skipped) or no time on test
    excluded: tuple[tuple[str, str], ...] = ()
    #: the unit of ``hours``: one of :data:`LIFE_UNITS`
    unit: str = HOURS

    @classmethod
    def of(
        cls, hours: Iterable[float], failed: Iterable[bool | int], units: Sequence[str] | None = None,
        unit: str = HOURS,
    ) -> LifeData:
        """Validate and build. ``hours`` > 0 and finite; ``failed`` true for a failure, false if censored;
        ``unit`` the unit of ``hours`` (:data:`LIFE_UNITS`)."""
        if unit not in LIFE_UNITS:
            raise ValueError(f"unknown life unit {unit!r}; one of {', '.join(LIFE_UNITS)}")
        h = [float(x) for x in hours]
        f = [bool(x) for x in failed]
        names = tuple(units) if units is not None else tuple(f"#{i + 1}" for i in range(len(h)))
        if len(f) != len(h) or len(names) != len(h):
            raise ValueError(f"hours ({len(h)}), failed ({len(f)}) and units ({len(names)}) differ in length")
        if not h:
            raise ValueError("no units: life data needs at least one unit")
        for name, x in zip(names, h, strict=True):
            if not math.isfinite(x):
                raise ValueError(f"unit {name}: hours must be a finite number, got {x!r}")
            if x < 0:
                raise ValueError(f"unit {name}: negative hours ({x:g}); hours on test must be > 0")
            if x == 0:
                raise ValueError(f"unit {name}: 0 hours; hours on test must be > 0")
        return cls(np.asarray(h, dtype=np.float64), np.asarray(f, dtype=np.bool_), names, unit=unit)

    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.hours)

    @property
    def failures(self) -> int:
        """Number of failed units (r)."""
        return int(self.failed.sum())

    @property
    def censored(self) -> int:
        """Number of right-censored units."""
        return self.n - self.failures

    def to_dict(self) -> dict[str, Any]:
        """JSON-able rows."""
        key = "hours" if self.unit == HOURS else "cycles"
        return {
            "life_unit": self.unit,
            "units": [
                {"unit": u, key: float(h), "failed": bool(f)}
                for u, h, f in zip(self.units, self.hours, self.failed, strict=True)
            ],
        }


class LifeRow(BaseModel):
    """One CSV row of life data (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    unit: str
    hours: float = Field(description="hours on test until failure or censoring, > 0")
    failed: bool | None = None
    status: str | None = Field(default=None, validate_default=True)
    level: str | None = None
    mode: str | None = None
    note: str | None = None

    @field_validator("hours")
    @classmethod
    def _hours_positive(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        if v < 0:
            raise ValueError(f"negative hours ({v:g}); hours on test must be > 0")
        if v == 0:
            raise ValueError("0 hours; hours on test must be > 0")
        return v

    @field_validator("status")
    @classmethod
    def _one_outcome(cls, v: str | None, info: ValidationInfo) -> str | None:
        has_failed = info.data.get("failed") is not None
        if v is None:
            if not has_failed and "failed" not in info.data:
                return v  # 'failed' was given but invalid: its own error is reported
            if not has_failed:
                raise ValueError("each row needs a 'failed' (0/1) or a 'status' (failed/censored) cell")
            return v
        word = v.strip().lower()
        if word not in FAILED_WORDS | CENSORED_WORDS:
            raise ValueError(f"unknown status {v!r}; use failed or censored (suspended, survived, running)")
        if has_failed:
            raise ValueError("give either 'failed' or 'status', not both")
        return word

    @property
    def is_failure(self) -> bool:
        """True if the unit failed."""
        if self.failed is not None:
            return self.failed
        return self.status in FAILED_WORDS


def read_life_rows(path: str | Path) -> list[tuple[int, LifeRow]]:
    """Validated ``(line, row)`` pairs of a life-data CSV file; errors name file, line and column."""
    rows = read_csv_rows(path, LifeRow)
    seen: dict[tuple[str | None, str], int] = {}
    for line, row in rows:
        key = (row.level, row.unit)
        if key in seen:
            raise ConfigError(str(path), line, "unit", f"unit {row.unit!r} already on line {seen[key]}")
        seen[key] = line
    return rows


def _life_data(rows: Sequence[LifeRow]) -> LifeData:
    return LifeData.of([r.hours for r in rows], [r.is_failure for r in rows], [r.unit for r in rows])


def read_life_data(path: str | Path, level: str | None = None) -> LifeData:
    """Life data of a CSV file; with several stress levels in it, ``level`` selects one (required then)."""
    rows = read_life_rows(path)
    levels = sorted({r.level for _, r in rows if r.level is not None})
    if level is not None:
        chosen = [r for _, r in rows if r.level == level]
        if not chosen:
            raise ConfigError(str(path), None, "level", f"no rows at level {level!r}; levels: {', '.join(levels)}")
        return _life_data(chosen)
    if len(levels) > 1:
        raise ConfigError(
            str(path), None, "level",
            f"rows at {len(levels)} stress levels ({', '.join(levels)}): choose one, or compare them",
        )
    return _life_data([r for _, r in rows])


def read_life_levels(path: str | Path) -> dict[str, LifeData]:
    """Life data per stress level of a CSV file with a ``level`` column (in order of first appearance)."""
    rows = read_life_rows(path)
    groups: dict[str, list[LifeRow]] = {}
    for line, row in rows:
        if row.level is None:
            raise ConfigError(str(path), line, "level", "every row needs a stress level to compare levels")
        groups.setdefault(row.level, []).append(row)
    return {name: _life_data(rs) for name, rs in groups.items()}


#: a results row of a stress sequence: its limit table is "survival" (hil.kinds.sequences.task), or it has
#: sequence hours
SURVIVAL_TABLE = "survival"



def _is_sequence_row(row: dict[str, Any]) -> bool:
    return row.get("limit_table") == SURVIVAL_TABLE or finite_or_none(row.get("sequence_h")) is not None


def _row_unit(row: dict[str, Any]) -> str:
    unit = row.get("life_unit")
    return unit if isinstance(unit, str) and unit else HOURS  # a row without one (or an older run): hours


def thermal_cycles_to_failure(failure_h: float, cycle_h: float, cycles: float) -> float:
    """Thermal cycles a unit lived: its failure time over the nominal cycle period, at most the ``cycles`` run
    (a failure in the ramp back after the last cycle, or cycles longer than nominal, count as the last cycle)."""
    if not (math.isfinite(cycle_h) and cycle_h > 0):
        raise ValueError(f"the cycle period must be > 0 h, got {cycle_h!r}")
    return min(failure_h / cycle_h, cycles)


def _life(row: dict[str, Any], unit: str, failed: bool) -> tuple[float | None, str]:
    """(life in ``unit``, why not) of one row with a pass/fail verdict."""
    if unit == THERMAL_CYCLES:
        cycle_h, cycles = finite_or_none(row.get("thermal_cycle_h")), finite_or_none(row.get("thermal_cycles"))
        if cycle_h is None or cycles is None or cycle_h <= 0:
            return None, "no cycle period or cycle count in the row"
        if not failed:
            return cycles, ""
        h = finite_or_none(row.get("failure_time_h"))
        h = h if h is not None else finite_or_none(row.get("sequence_h"))
        return (None, "no time on test") if h is None else (thermal_cycles_to_failure(h, cycle_h, cycles), "")
    if unit == POWER_CYCLES:
        applied = finite_or_none(row.get("power_cycles_applied"))
        life = finite_or_none(row.get("failure_cycle")) if failed else None
        life = life if life is not None else applied
        why = "failed before its first power cycle" if failed else "no power cycles applied"
        return (life, "") if life is not None and life > 0 else (None, why)
    h = finite_or_none(row.get("failure_time_h")) if failed else None
    h = h if h is not None else finite_or_none(row.get("sequence_h"))
    return (h, "") if h is not None and h > 0 else (None, "no time on test")


def life_data_from_results(results: pd.DataFrame, tests: Sequence[str] | None = None,
                           unit: str | None = None) -> LifeData:
    """Life data of the stress-sequence rows of a run's results table (``hil.results``, one row per meter).

    ``tests``: the plan test ids to take (column ``test_id``, else ``test``); None takes every sequence row.
    The unit of life is the rows' ``life_unit`` (written by the sequence; a row without one counts in hours);
    ``unit`` given: the rows must count in it. Rows in different units are refused (analyse them separately).
    - hours: verdict ``fail`` is a failure at ``failure_time_h`` (the midpoint of the failure window, hours since
      the sequence started); without one (a failure found only by a check at the end), at ``sequence_h``;
      verdict ``pass``: survived, right-censored at ``sequence_h`` (IEC 61649 §5: suspended items count);
    - thermal cycles: a failure at :func:`thermal_cycles_to_failure` (the failure time over the nominal cycle
      period ``thermal_cycle_h``, at most ``thermal_cycles``); a survivor censored at ``thermal_cycles``;
    - power cycles: a failure at ``failure_cycle`` (the power-up it did not come back from), else at
      ``power_cycles_applied`` (found failed after them, e.g. by a register check); a survivor censored at
      ``power_cycles_applied``; a meter that failed before its first power cycle (in a dip) is left out;
    - ``broken``/``skipped`` rows (no valid outcome) and units with no life on test are left out and listed in
      :attr:`LifeData.excluded`.
    Units are the serials (``test_id/serial`` when several tests are taken). Raises ``ValueError`` when no unit
    is left, or for mixed units.
    """
    records = [{str(k): v for k, v in r.items()} for r in results.to_dict("records")]
    id_col = "test_id" if "test_id" in results.columns else "test"
    if tests is not None:
        wanted = set(tests)
        rows = [r for r in records if str(r.get(id_col)) in wanted]
    else:
        rows = [r for r in records if _is_sequence_row(r)]
    found = {_row_unit(r) for r in rows}
    if len(found) > 1 or (unit is not None and found - {unit}):
        per_test = sorted({f"{r.get(id_col)} in {_row_unit(r)}" for r in rows})
        raise ValueError(f"the rows count life in different units ({', '.join(per_test)})"
                         + (f", not all in {unit}" if unit is not None else "") + ": analyse them separately")
    life_unit = unit if unit is not None else (found.pop() if found else HOURS)
    several = len({str(r.get(id_col)) for r in rows}) > 1
    lives: list[float] = []
    failed: list[bool] = []
    units: list[str] = []
    excluded: list[tuple[str, str]] = []
    for r in rows:
        name = str(r.get("serial", r.get("position", f"#{len(units) + len(excluded) + 1}")))
        if several:
            name = f"{r.get(id_col)}/{name}"
        verdict = str(r.get("verdict"))
        if verdict not in ("pass", "fail"):
            excluded.append((name, f"{verdict}: no valid outcome"))
            continue
        life, why = _life(r, life_unit, verdict == "fail")
        if life is None:
            excluded.append((name, f"{verdict}: {why}"))
            continue
        lives.append(life)
        failed.append(verdict == "fail")
        units.append(name)
    if not units:
        which = "of " + ", ".join(map(str, tests)) if tests is not None else "of a stress sequence"
        raise ValueError(f"no results rows {which} with a pass or fail verdict ({len(excluded)} left out)")
    data = LifeData.of(lives, failed, units, unit=life_unit)
    return LifeData(data.hours, data.failed, data.units, tuple(excluded), life_unit)
