"""A plan on a bench → its steps in run order, each kind expanded by its plugin.

The core checks what every kind shares before anything is energised: the positions carry one meter type (one
load for all), and every setpoint of every step is within the bench's and the meters' ratings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from hil.benchfile import DEFAULT_UMAX_FACTOR, BenchFile, MeterSpec
from hil.core.kinds import registry
from hil.core.plan import Plan
from hil.core.steps import PlanError, Step
from hil.standards import MeterRating, StandardsLibrary
from instruments.yamlconfig import error_at


@dataclass(frozen=True)
class PlanContext:
    """What a kind's ``expand`` gets: the plan, the bench file, the standards library, the meters' rating."""

    plan: Plan
    bench: BenchFile
    library: StandardsLibrary
    rating: MeterRating
    positions: list[int]
    path: Path | None = None

    @property
    def standard(self) -> str:
        return f"{self.rating.standard}:{self.rating.edition}"

    def max_ratings(self) -> tuple[float, float]:
        return max_ratings(self.bench)


def meter_rating(meter: MeterSpec, standard: str, edition: str, meter_class: str | None,
                 library: StandardsLibrary) -> MeterRating:
    """The meter's nameplate as the standards library sees it, for ``standard`` and ``edition``."""
    try:
        return MeterRating.model_validate(
            {
                "standard": standard, "edition": edition,
                "class_index": meter_class or meter.meter_class, "connection": meter.current_input,
                "elements": 3 if meter.connection == "3P4W" else 1, "un_v": meter.un_v,
                "frequency_hz": meter.fn_hz, "supply": meter.supply, "constant_imp_per_kwh": meter.constant_imp_per_kwh,
                "ist_a": meter.ist_a, "imin_a": meter.imin_a,
                "itr_a": meter.itr_a, "iref_a": meter.iref_a, "ib_a": meter.ib_a, "in_a": meter.in_a,
                "ta_a": meter.ta_a, "imax_a": meter.imax_a,
            },
            context={"library": library},
        )
    except ValidationError as exc:  # the rating's own message, not pydantic's dump of the input
        label = f"{standard}:{edition} class {meter_class or meter.meter_class}"
        msgs = "; ".join(str(e["msg"]).removeprefix("Value error, ").removeprefix(f"{label}: ") for e in exc.errors())
        raise PlanError(f"meter {meter.serial} ({label}): {msgs}") from exc
    except ValueError as exc:
        raise PlanError(f"meter {meter.serial}: {exc}") from exc


def rating_of(meter: MeterSpec, plan: Plan, library: StandardsLibrary) -> MeterRating:
    return meter_rating(meter, plan.standard, plan.edition, plan.meter_class, library)


def _check_same_type(bench: BenchFile, plan: Plan, library: StandardsLibrary) -> tuple[MeterRating, list[int]]:
    if not bench.positions:
        raise PlanError(f"bench {bench.name!r} has no meter positions")
    first = bench.positions[0]
    rating = rating_of(first.meter, plan, library)
    for pos in bench.positions[1:]:
        other = rating_of(pos.meter, plan, library)
        if (other.currents(library).amps() != rating.currents(library).amps() or other.un_v != rating.un_v
                or other.class_index != rating.class_index or other.elements != rating.elements
                or other.connection != rating.connection or other.frequency_hz != rating.frequency_hz
                or other.supply != rating.supply):
            raise PlanError(
                f"positions {first.position} ({first.meter.serial}) and {pos.position} ({pos.meter.serial}) have "
                "different ratings: the positions of one run share one load, so a plan runs one meter type at a time"
            )
    return rating, [p.position for p in bench.positions]


def max_ratings(bench: BenchFile) -> tuple[float, float]:
    """Highest current and voltage allowed: the bench's limits and every mounted meter's (series currents)."""
    lim = bench.limits
    imax = min([lim.max_current_a] + [p.meter.imax_a for p in bench.positions])
    umax = min([lim.max_voltage_v] + [p.meter.umax_v or DEFAULT_UMAX_FACTOR * p.meter.un_v for p in bench.positions])
    return imax, umax


def check_ratings(steps: list[Step], bench: BenchFile) -> None:
    """Every setpoint of every step within the ratings (refused here, before anything is sent)."""
    imax, umax = max_ratings(bench)
    for t in steps:
        for spec in (t.spec, *t.setpoints):
            what = f"test {t.test_id!r} point {t.point_id if spec is t.spec else spec.point}"
            if spec.current_a > imax * (1 + 1e-9):
                raise RatingError(t.test_id, f"{what}: {spec.current_a:g} A is beyond the bench's or the meters'"
                                             f" rating ({imax:g} A)")
            if spec.voltage_rms_v > umax * (1 + 1e-9):
                rms = f" ({spec.voltage_rms_v:.5g} V RMS with its harmonics)" if spec.harmonics else ""
                raise RatingError(t.test_id, f"{what}: {spec.voltage_v:g} V{rms} is beyond the bench's or the meters'"
                                             f" rating ({umax:g} V)")
            lo, hi = bench.limits.min_frequency_hz, bench.limits.max_frequency_hz
            if spec.voltage_v > 0 and ((lo is not None and spec.frequency_hz < lo * (1 - 1e-9))
                                          or (hi is not None and spec.frequency_hz > hi * (1 + 1e-9))):
                raise RatingError(t.test_id, f"{what}: {spec.frequency_hz:g} Hz is outside the source's range "
                                             f"({lo or 0:g} … {hi or float('inf'):g} Hz)")


class RatingError(PlanError):
    """A setpoint beyond the ratings, of the plan test ``test_id``."""

    def __init__(self, test_id: str, message: str) -> None:
        super().__init__(message)
        self.test_id = test_id


def _check_supply(plan: Plan, rating: MeterRating, library: StandardsLibrary, path: Path | None) -> None:
    """A DC standard's plan (IEC 62053-41) needs DC meters, an AC standard's plan AC meters: the points, limits and
    the source differ (no frequency, no power factor), so the mismatch is refused at load, naming the plan's field."""
    supply = library.supply(plan.standard, plan.edition)
    if supply is None or supply == rating.supply:
        return
    msg = (f"{plan.standard}:{plan.edition} is a {supply.upper()} meter standard, the bench's meters are "
           f"{rating.supply.upper()} meters (bench file meter field supply: {rating.supply})")
    raise PlanError(str(error_at(path, ("standard",), msg)) if path is not None else msg)


def _located(exc: PlanError, path: Path | None, plan: Plan, index: int) -> PlanError:
    """The error naming the plan file, the line and the field of the test it is about (when the plan has a file
    and the message does not name it already)."""
    if path is None or str(path) in str(exc):
        return exc
    return PlanError(str(error_at(path, ("tests", index), str(exc))))


def _check_connection(plan: Plan, bench: BenchFile, path: Path | None) -> None:
    """A plan written for one meter connection (its header's ``connection``) refuses meters wired otherwise: a
    single-phase plan's limits (IEC 62053-21:2020 Table 3 single-phase rows) do not rate a polyphase meter."""
    wired = bench.positions[0].meter.connection
    if plan.connection is None or plan.connection == wired:
        return
    msg = (f"connection mismatch: the plan is for {plan.connection} meters, bench {bench.name!r} has {wired} meters"
           f" (position {bench.positions[0].position}, {bench.positions[0].meter.serial})")
    raise PlanError(str(error_at(path, ("connection",), msg)) if path is not None else msg)


def expand_plan(plan: Plan, bench: BenchFile, library: StandardsLibrary, path: Path | None = None) -> list[Step]:
    """Every step of ``plan`` on ``bench``, in run order. Raises :class:`PlanError` for a plan that does not fit
    the bench (ratings, limits, the kind's own checks); a setpoint beyond the bench's or the meters' ratings is
    refused here too."""
    rating, positions = _check_same_type(bench, plan, library)
    _check_connection(plan, bench, path)
    _check_supply(plan, rating, library, path)
    ctx = PlanContext(plan, bench, library, rating, positions, path)
    kinds = registry()
    steps: list[Step] = []
    for i, test in enumerate(plan.tests):
        try:
            steps += kinds.plugin_for(test.kind).expand(test, ctx)
        except PlanError as exc:
            raise _located(exc, path, plan, i) from exc
    try:
        check_ratings(steps, bench)
    except RatingError as exc:
        index = next((i for i, t in enumerate(plan.tests) if t.id == exc.test_id.split(".")[0]), None)
        raise (exc if index is None else _located(exc, path, plan, index)) from exc
    return steps
