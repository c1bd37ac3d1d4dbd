"""What a kind's plugin expands a plan test into: steps, each run once on every position at once.

A :class:`Step` carries the bench setting it needs (:class:`PointSpec`, checked against the ratings before
anything is energised), the function that runs it on the bench, and the function that declares its measurements
(:class:`hil.core.measurement.Measurement`: value, unit and limits side by side) for the core to judge. A run gives
one :class:`PositionOutcome` per position; the core turns each into a results row.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from instruments.roles import PhaseLoad

if TYPE_CHECKING:
    from hil.core.measurement import Measurement
    from hil.core.run import RunContext

#: phase-to-neutral voltage angles of a balanced three-phase system, phase 1 = 0° (positive sequence)
_U_ANGLES = {1: 0.0, 2: -120.0, 3: 120.0}


class PlanError(ValueError):
    """The plan cannot run on this bench (raised before anything is energised)."""


@dataclass(frozen=True)
class PointSpec:
    """A step's bench setting: what the source delivers, and where the step's limit comes from (row columns)."""

    test: str  # the kind: accuracy | starting | no_load | meter_constant | influence | burn_in ...
    point: str  # human id, e.g. "Itr PF 0.5L L1"
    voltage_v: float  # per phase
    current_a: float  # per loaded phase
    phase_deg: float  # current lags voltage by this angle (0.5L: +60, 0.8C: −36.87)
    pf: str  # "1", "0.5L", "0.8C"
    element: str = "all"  # "all" or the loaded element "1" | "2" | "3"
    frequency_hz: float = 50.0
    limit_pct: float = 0.0
    standard: str = ""
    limit_table: str = ""
    limit_status: str = ""
    #: harmonics added on every phase: (circuit "U" | "I", order, % of the fundamental, degrees from it)
    harmonics: tuple[tuple[str, int, float, float], ...] = ()

    @property
    def voltage_rms_v(self) -> float:
        """The voltage's RMS with its harmonics: U · √(1 + Σ (U_h / U_1)²)."""
        extra = sum((pct / 100) ** 2 for circuit, _, pct, _ in self.harmonics if circuit == "U")
        return self.voltage_v * math.sqrt(1 + extra)

    @property
    def cos_phi(self) -> float:
        return math.cos(math.radians(self.phase_deg))

    def loads(self, phases: int) -> dict[int, PhaseLoad]:
        """Source setting per phase: balanced voltages; current on every phase or on one element only."""
        out = {}
        for ph in range(1, phases + 1):
            loaded = self.element == "all" or self.element == str(ph)
            ua = _U_ANGLES[ph] if phases == 3 else 0.0
            out[ph] = PhaseLoad(self.voltage_v, self.current_a if loaded else 0.0, ua, ua - self.phase_deg)
        return out

    def active_power_w(self, phases: int) -> float:
        loaded = phases if self.element == "all" else 1
        return loaded * self.voltage_v * self.current_a * self.cos_phi


@dataclass
class PositionOutcome:
    """What a step measured on one position. ``verdict`` None: measured, the core judges the step's measurements;
    ``"broken"`` (no valid result) or ``"skipped"`` (not judged) set by the step stand, with ``reason``."""

    position: int
    serial: str
    mut_pulses: int
    n_ref: int
    error_pct: float | None
    duration_s: float
    verdict: str | None
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Attachment:
    """A file for the Allure result of a step: ``kind`` text | csv | png."""

    name: str
    body: str | bytes
    kind: str = "text"


@dataclass(frozen=True)
class Estimate:
    """``hil plan show``: a step's expected reference pulses (None: not pulse-gated) and bench seconds."""

    seconds: float
    pulses: int | None = None
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EstimateContext:
    """What an estimate may use before anything is connected: the plan's measuring practice, the meter's
    constant, the bench's phases and the reference's pulse constant (from the bench file, or assumed)."""

    measure: Any  # hil.core.plan.MeasureOptions
    meter_constant_imp_per_kwh: float
    phases: int
    ref_constant_imp_per_kwh: float
    ref_constant_source: str


Run = Callable[["RunContext", "Step"], list[PositionOutcome]]
Measure = Callable[[PositionOutcome], "list[Measurement]"]
Report = Callable[["RunContext", "Step", int, dict[str, Any]], list[Attachment]]


@dataclass
class Step:
    """One step of a plan: run once for all ``positions``; judged per position by the core.

    ``scope`` ``"position"``: one result (pytest item, Allure result, results row) per position; ``"plan"``: one
    result for the whole step (e.g. an analysis of the run's rows), not written as a row. ``setpoints``: further
    bench settings the step may apply (checked against the ratings like ``spec``). ``report``: extra Allure content
    for a position's result (steps, plots), never changing its verdict."""

    test_id: str
    kind: str
    point_id: str
    spec: PointSpec
    positions: list[int]
    run: Run
    measure: Measure
    limit_pct: float = 0.0
    decision_rule: str = "simple"
    duration_s: float = 0.0  # expected bench time beyond settling, for steps that are not pulse-gated
    params: dict[str, Any] = field(default_factory=dict)
    setpoints: tuple[PointSpec, ...] = ()
    estimate: Callable[[EstimateContext], Estimate] | None = None
    report: Report | None = None
    scope: Literal["position", "plan"] = "position"
    title: str = ""

    @property
    def key(self) -> str:
        return f"{self.test_id}::{self.point_id}"

    def expected(self, ctx: EstimateContext) -> Estimate:
        """Bench time for ``hil plan show``: the step's own estimate, else settling + ``duration_s`` (a whole-plan
        step uses no bench time)."""
        if self.estimate is not None:
            return self.estimate(ctx)
        if self.scope == "plan":
            return Estimate(0.0)
        return Estimate(round(ctx.measure.settle_s + self.duration_s, 1))


def setting_key(spec: PointSpec) -> tuple[int, str, float]:
    """The order of fewest source changes within a test: one element at a time (balanced first), one power factor
    at a time, rising current (a current step settles faster than a phase-angle or element change)."""
    return (0 if spec.element == "all" else int(spec.element), spec.pf, spec.current_a)


def in_setting_order(steps: list[Step]) -> list[Step]:
    """``steps`` of one test sorted by :func:`setting_key` (stable: equal settings keep the kind's order)."""
    return sorted(steps, key=lambda s: setting_key(s.spec))
