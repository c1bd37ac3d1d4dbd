"""Allure steps of a stress-sequence result: one step per profile stage, built after the sequence ran.

Each stage of the chamber profile (``ramp to 70 °C``, ``soak 48 h at 70 °C``) becomes a step titled with its span in
sequence time, with parameters: start/end, setpoint, the chamber's min/max (and humidity's) during the stage, its
chamber alarm intervals, the meter's pulses. Stages repeated as cycles are grouped as nested ``cycle k of N`` steps.
The stage in which this meter failed is *failed* with the failure reason; later stages are *skipped* (the meter was
dead); a sequence stopped by a bench fault ends in a *broken* stage. A resume after a crash appears as its own
(skipped) step ``interrupted: unmonitored from 31.2 h to 31.9 h, resumed``.

Built from the run directory only (monitoring rows, checkpoint, the result row): :func:`stage_steps` is pure.

Allure timing: allure-python has no public lifecycle for steps with given start/stop times (allure-python issue
#856: only the ``allure.step`` context manager, timed "now"). The steps are therefore appended as
``allure_commons.model2.TestStepResult`` objects to the running test result, found through allure-pytest's
reporter; step times are the stage's sequence times laid onto the wall clock from the sequence start
(``finished_at`` − ``sequence_h``), so a step's duration is the stage's duration (simulated hours on a simulated
bench). Should allure-pytest's internals change, the steps are still written through the public step hooks, with
the stage times only in the titles and parameters.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid as uuid_mod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from hil.reporting import sequence_data as sd
from hil.values import finite_or_none

PASSED, FAILED, BROKEN, SKIPPED = "passed", "failed", "broken", "skipped"
#: a group of stages takes the most severe status of its stages, in this order
_SEVERITY = (FAILED, BROKEN, PASSED, SKIPPED)
#: cycle detection: a repeated block of stages may follow at most this many leading stages (a stabilisation)
_MAX_PREFIX = 6
#: a cycle has at most this many stages
_MAX_BLOCK = 16
_ABSOLUTE_END = re.compile(r" to [0-9.]+ h$")


@dataclass(frozen=True)
class StageStep:
    """One Allure step: a profile stage, a cycle (``steps`` holds its stages) or an interruption."""

    name: str
    start_s: float  # sequence time
    end_s: float
    status: str = PASSED
    message: str = ""
    parameters: tuple[tuple[str, str], ...] = ()
    steps: tuple[StageStep, ...] = field(default=())

    @property
    def title(self) -> str:
        """The name with the span in sequence hours."""
        return f"{self.name} ({self.start_s / 3600:.2f}–{self.end_s / 3600:.2f} h)"

    def walk(self) -> list[StageStep]:
        """This step and every nested step, depth first."""
        return [self, *itertools.chain.from_iterable(s.walk() for s in self.steps)]


def _h(seconds: float) -> str:
    return f"{seconds / 3600:.3f} h"


def _range(values: pd.Series, unit: str) -> str | None:
    v = pd.to_numeric(values, errors="coerce").dropna()
    return None if v.empty else f"{v.min():.1f} … {v.max():.1f} {unit}"


def _stage(index: int, name: str, rows: pd.DataFrame) -> StageStep:
    start, end = float(rows["t_start_s"].min()), float(rows["t_end_s"].max())
    params: list[tuple[str, str]] = [("start", _h(start)), ("end", _h(end))]
    setpoint = finite_or_none(rows["setpoint_c"].iloc[0]) if "setpoint_c" in rows else None
    if setpoint is not None:
        params.append(("setpoint", f"{setpoint:g} °C"))
    chamber = _range(rows["chamber_c"], "°C") if "chamber_c" in rows else None
    if chamber:
        params.append(("chamber", chamber))
    if sd.has_humidity(rows):
        rh_set = finite_or_none(rows[sd.HUMIDITY_SETPOINT].iloc[0]) if sd.HUMIDITY_SETPOINT in rows else None
        if rh_set is not None:
            params.append(("humidity setpoint", f"{rh_set:g} %RH"))
        params.append(("humidity", _range(rows[sd.HUMIDITY], "%RH") or "–"))
    alarms = int(rows["chamber_alarm"].astype(bool).sum()) if "chamber_alarm" in rows else 0
    params.append(("chamber alarms", f"{alarms} interval(s)"))
    if sd.has_humidity(rows) and sd.HUMIDITY_ALARM in rows:
        rh_alarms = int(rows[sd.HUMIDITY_ALARM].fillna(False).astype(bool).sum())
        params.append(("humidity alarms", f"{rh_alarms} interval(s)"))
    if "pulses" in rows:
        params.append(("meter pulses", str(int(pd.to_numeric(rows["pulses"], errors="coerce").fillna(0).sum()))))
    params.append(("stage", str(index + 1)))
    return StageStep(name, start, end, parameters=tuple(params))


def _worst(statuses: Sequence[str]) -> str:
    present = set(statuses)
    return next((s for s in _SEVERITY if s in present), PASSED)


def _stage_key(name: str) -> str:
    """A stage name without an absolute end time (``hold 55 °C, 93 %RH to 36 h``): the same stage in every cycle."""
    return _ABSOLUTE_END.sub("", name)


def cycle_block(names: Sequence[str], cycles: int | None = None) -> tuple[int, int, int] | None:
    """(prefix, block length, repeats) of a block of stages repeated ≥ 2 times, else None.

    Cycles are recognised from the stage names (the profile of any cyclic sequence kind: thermal cycling, damp heat
    cyclic): among the blocks that start after at most a few leading stages (a stabilisation), the one covering
    most stages wins, the shortest block at a tie; with ``cycles`` (the plan's count) a block repeated exactly that
    often is preferred.
    """
    keys = [_stage_key(n) for n in names]
    n = len(keys)
    best: tuple[int, int, int] | None = None
    exact: tuple[int, int, int] | None = None
    for prefix in range(min(_MAX_PREFIX, n) + 1):
        for block in range(1, min(_MAX_BLOCK, (n - prefix) // 2) + 1):
            pattern = keys[prefix:prefix + block]
            repeats = 1
            while keys[prefix + repeats * block:prefix + (repeats + 1) * block] == pattern:
                repeats += 1
            if repeats < 2:
                continue
            if best is None or repeats * block > best[1] * best[2]:
                best = (prefix, block, repeats)
            if repeats == cycles and (exact is None or repeats * block > exact[1] * exact[2]):
                exact = (prefix, block, repeats)
    return exact or best


def _group_cycles(stages: list[StageStep], names: Sequence[str], cycles: int | None) -> list[StageStep]:
    found = cycle_block(names, cycles)
    if found is None:
        return stages
    prefix, block, repeats = found
    out = stages[:prefix]
    for k in range(repeats):
        members = stages[prefix + k * block:prefix + (k + 1) * block]
        if not members:
            break
        status = _worst([m.status for m in members])
        message = next((m.message for m in members if m.status == status and m.message), "")
        out.append(StageStep(f"cycle {k + 1} of {repeats}", members[0].start_s, members[-1].end_s, status,
                             message, (), tuple(members)))
    out.extend(stages[prefix + repeats * block:])
    return out


def _failure_stage(stages: list[StageStep], rows: pd.DataFrame, row: Mapping[str, Any]) -> int:
    """Index of the stage in which the meter failed: the one holding the failure time (the window's midpoint),
    else the one of the first monitoring interval that found it failed, else the last."""
    ft_h = finite_or_none(row.get("failure_time_h"))
    if ft_h is not None:
        t = ft_h * 3600
        for i, s in enumerate(stages):
            if s.start_s <= t <= s.end_s:
                return i
        before = [i for i, s in enumerate(stages) if s.start_s <= t]  # in a gap (an interruption): the stage before
        if before:
            return before[-1]
    if "alive" in rows:
        dead = rows[~rows["alive"].astype(bool)]
        if not dead.empty:
            t = float(dead["t_end_s"].min())
            for i, s in enumerate(stages):
                if s.start_s < t <= s.end_s:
                    return i
    return len(stages) - 1


def stage_steps(mon: pd.DataFrame, position: int, row: Mapping[str, Any] | None,
                interruptions: Sequence[sd.Interruption] = (), planned: Sequence[str] | None = None,
                cycles: int | None = None) -> list[StageStep]:
    """The Allure steps of one meter's sequence result.

    ``mon``: the monitoring rows of the sequence test; ``row``: the meter's results row (verdict, failure window,
    reason); ``planned``: the profile's stage names in run order, when known (stages not reached are *skipped*
    "not run", and cycles count the planned ones); ``cycles``: the plan's cycle count, when it has one.
    """
    rows = mon[mon["position"] == position] if not mon.empty else mon
    stages: list[StageStep] = []
    if not rows.empty:
        for index, group in rows.groupby("step", sort=True):
            i = int(str(index))  # pandas types a group key as any scalar
            name = planned[i] if planned is not None and i < len(planned) else str(group["step_name"].iloc[0])
            stages.append(_stage(i, name, group))
    run = len(stages)
    verdict = str(row.get("verdict")) if row is not None else ""
    reason = str(row.get("reason") or "") if row is not None else ""
    if stages and verdict == "fail":
        at = _failure_stage(stages, rows, row or {})
        stages[at] = replace(stages[at], status=FAILED, message=reason)
        ft_h = finite_or_none((row or {}).get("failure_time_h"))
        when = f" at {ft_h:.2f} h" if ft_h is not None else ""
        for i in range(at + 1, run):
            stages[i] = replace(stages[i], status=SKIPPED, message=f"the meter had failed{when}")
    elif stages and verdict == "broken":
        stages[-1] = replace(stages[-1], status=BROKEN, message=reason)
    names = [s.name for s in stages]
    if planned is not None and len(planned) > run:
        end = stages[-1].end_s if stages else 0.0
        names = list(planned)
        stages += [StageStep(n, end, end, SKIPPED, "not run") for n in planned[run:]]
    steps = _group_cycles(stages, names, cycles)
    for gap in interruptions:
        span = (("from", _h(gap.from_s)), ("to", _h(gap.to_s)), ("unmonitored", _h(gap.to_s - gap.from_s)))
        if gap.check:  # its measurement is the check's own result items
            steps.append(StageStep(gap.title, gap.from_s, gap.to_s, PASSED,
                                   f"monitoring paused for the accuracy check {gap.check}: its points are the "
                                   "results of that check", span))
        else:
            steps.append(StageStep(gap.title, gap.from_s, gap.to_s, SKIPPED,
                                   "the PC was down: no monitoring in this time; the sequence went on from its "
                                   "checkpoint", span))
    steps.sort(key=lambda s: s.start_s)  # stable: an interruption follows the stage it began in
    return steps


def step_title(step: StageStep) -> str:
    """The Allure title: stages and cycles carry their span; an interruption's name already says it."""
    return step.name if step.name.startswith(sd.INTERRUPTED) else step.title


# -- writing into the running Allure result ----------------------------------------------------------------------
def _epoch_ms(text: Any) -> int | None:
    try:
        return int(dt.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def sequence_start_ms(row: Mapping[str, Any]) -> int:
    """Wall-clock ms of sequence time 0: the row's ``finished_at`` − ``sequence_h`` (a real bench's clock runs
    through an interruption, so this holds across a resume); now when the row lacks them."""
    end = _epoch_ms(row.get("finished_at"))
    seq_h = finite_or_none(row.get("sequence_h"))
    if end is None:
        return int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    return end - int((seq_h or 0.0) * 3600 * 1000)


def _reporter() -> Any:
    """allure-pytest's reporter (internal; None when Allure is off or its internals changed)."""
    from allure_commons import plugin_manager

    for plugin in plugin_manager.get_plugins():
        logger = getattr(plugin, "allure_logger", None)
        if logger is not None and callable(getattr(logger, "get_test", None)):
            return logger
    return None


def _model(step: StageStep, base_ms: int) -> Any:
    from allure_commons.model2 import Parameter, StatusDetails, TestStepResult

    return TestStepResult(
        name=step_title(step), status=step.status, stage="finished",
        statusDetails=StatusDetails(message=step.message) if step.message else None,
        start=base_ms + round(step.start_s * 1000), stop=base_ms + round(step.end_s * 1000),
        parameters=[Parameter(name=k, value=v) for k, v in step.parameters],
        steps=[_model(s, base_ms) for s in step.steps],
    )


class _StepOutcome(AssertionError):
    """Raised into the public step hook to mark a step failed (an AssertionError is Allure's *failed*)."""


def _hook_step(step: StageStep) -> None:
    from allure_commons import plugin_manager
    uuid = str(uuid_mod.uuid4())
    plugin_manager.hook.start_step(uuid=uuid, title=step_title(step), params=dict(step.parameters))
    for child in step.steps:
        _hook_step(child)
    exc: BaseException | None = None
    if step.status == FAILED:
        exc = _StepOutcome(step.message)
    elif step.status == BROKEN:
        exc = RuntimeError(step.message)
    plugin_manager.hook.stop_step(uuid=uuid, title=step_title(step), exc_type=type(exc) if exc else None,
                                  exc_val=exc, exc_tb=None)


def add_allure_steps(steps: Sequence[StageStep], base_ms: int) -> bool:
    """Append ``steps`` to the Allure result of the running test; False when Allure is not recording."""
    reporter = _reporter()
    if reporter is None:
        return False
    test = reporter.get_test(None)
    if test is None or not isinstance(getattr(test, "steps", None), list):
        for s in steps:
            _hook_step(s)
        return True
    test.steps.extend(_model(s, base_ms) for s in steps)
    return True


# -- one sequence item -------------------------------------------------------------------------------------------
@dataclass
class _TestData:
    mon: pd.DataFrame
    gaps: list[sd.Interruption]
    chamber_png: bytes | None = None


_CACHE: dict[tuple[str, str, int], _TestData] = {}


def _test_data(run_dir: Path, test_id: str) -> _TestData:
    """Monitoring and interruptions of a test, read once for all its items (keyed by the checkpoint's mtime)."""
    ckpt = run_dir / "checkpoint.json"
    key = (str(run_dir.resolve()), test_id, ckpt.stat().st_mtime_ns if ckpt.exists() else 0)
    if key not in _CACHE:
        _CACHE.clear()  # one test's data at a time: its items are consecutive
        _CACHE[key] = _TestData(sd.monitoring(run_dir, test_id), sd.unmonitored(run_dir, test_id))
    return _CACHE[key]


def report_sequence_item(run_dir: str | Path, test_id: str, position: int, row: Mapping[str, Any],
                         planned: Sequence[str] | None = None, cycles: int | None = None) -> list[StageStep]:
    """For the running sequence item of ``position``: its stage steps, the meter's timeline and the chamber
    trace as attachments. Returns the steps; nothing is read or drawn when Allure is not recording."""
    if _reporter() is None:
        return []
    import allure

    from hil.reporting import sequence_plots as sp

    data = _test_data(Path(run_dir), test_id)
    steps = stage_steps(data.mon, position, row, data.gaps, planned, cycles)
    add_allure_steps(steps, sequence_start_ms(row))

    serial = str(row.get("serial", f"position {position}"))
    results = pd.DataFrame([dict(row)])
    allure.attach(sp.timeline_png(data.mon, results, data.gaps, positions=[position], title=f"{test_id}: {serial}"),
                  name=f"timeline {serial}", attachment_type=allure.attachment_type.PNG)
    if data.chamber_png is None and not data.mon.empty:
        data.chamber_png = sp.chamber_trace_png(data.mon, data.gaps, title=f"{test_id}: chamber")
    if data.chamber_png is not None:
        allure.attach(data.chamber_png, name=f"chamber trace {test_id}", attachment_type=allure.attachment_type.PNG)
    return steps
