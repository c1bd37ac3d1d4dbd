"""What the kinds that talk to a meter's DLMS port need from the bench and the plan (the DLMS and the prepayment
families): the position's DLMS port, the test load with its class limit, and the clocks put back on the reference
time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hil.core import PlanError, PointSpec, PositionOutcome
from hil.standards import MeterRating, PowerFactor, StandardsLibrary
from hil.standards.points import LimitRow, limit_for
from instruments.drivers.errors import BenchFault


def dlms_port(bench: Any, position: int) -> Any:
    """The position's DLMS/COSEM port: the bench file's ``dlms`` binding, else its ``port`` if that speaks DLMS."""
    meter = bench.meter(position)
    port = meter.dlms if getattr(meter, "dlms", None) is not None else meter.port
    if port is None or not hasattr(port, "profile"):
        raise BenchFault("meter port", f"position {position}: the bench file gives no DLMS port (positions[].dlms)")
    return port


@dataclass(frozen=True)
class Load:
    amps: float
    pf: PowerFactor
    row: LimitRow | None  # the class limit at this load (None where the kind judges no energy)


def resolve_load(test_id: str, rating: MeterRating, library: StandardsLibrary, current: str, power_factor: str,
              with_limit: bool = False) -> Load:
    """The plan's current expression and power factor for ``rating``; a plan error names the test."""
    try:
        amps = rating.currents(library).evaluate(current)
        pf = PowerFactor.parse(power_factor)
        row = limit_for(rating, amps, pf, library=library) if with_limit else None
    except ValueError as exc:
        raise PlanError(f"test {test_id!r}: {exc}") from exc
    return Load(amps, pf, row)


def set_clocks_back(bench: Any, positions: Iterable[int], set_one: Any) -> dict[int, str]:
    """Every clock that was moved, back to the bench's reference time (best effort: why one could not be).
    ``set_one(port, utc)`` writes one meter's clock the way the kind wrote it."""
    failed = {}
    for p in positions:
        try:
            set_one(dlms_port(bench, p), bench.clock.utc())
        except BenchFault as exc:
            failed[p] = f"clock not set back to the reference time: {exc}"
    return failed


def idle_spec(kind: str, point: str, rating: MeterRating, **extra: Any) -> PointSpec:
    """Voltage on, no current: the meters powered, their ports answer, nothing registers (``extra``: e.g. the
    harmonics the voltage carries)."""
    return PointSpec(kind, point, rating.un_v, 0.0, 0.0, "1", frequency_hz=rating.frequency_hz,
                     limit_table="plan", limit_status="lab", **extra)


def outcome(bench: Any, position: int, broken: dict[int, str], extra: dict[str, Any] | None = None,
            duration_s: float = 0.0) -> PositionOutcome:
    """A position's outcome of a step judged by its measurements: broken with its reason, or measured with the
    kind's extras."""
    serial = bench.meter(position).spec.serial
    if position in broken:
        return PositionOutcome(position, serial, 0, 0, None, 0.0, "broken", broken[position])
    o = PositionOutcome(position, serial, 0, 0, None, duration_s, None)
    o.extra.update(extra or {})
    return o
