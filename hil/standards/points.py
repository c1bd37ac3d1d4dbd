"""Load points of the accuracy test and the limit that applies at each.

The matrix is currents × power factors for balanced load, and for polyphase meters the same per element alone
(one current circuit loaded, balanced voltages — IEC 62053-21 single-element rows). The default currents and
power factors are the ``test_points`` of the standard's table (docs/standards.md lists them); a point where the
table defines no limit (e.g. IEC 62053-21:2020 has no 0.5L limit below Itr) is not generated but listed in
``omitted`` with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from hil.standards.model import (
    AccuracyRow,
    AccuracyTable,
    CurrentExpr,
    Energy,
    Load,
    PowerFactor,
    Provenance,
    TestPointSet,
)
from hil.standards.rating import MeterRating, RatedCurrents, RatingError, resolve_currents
from hil.standards.tables import SourcedTable, StandardsError, StandardsLibrary, default_library


class NoLimitError(StandardsError, LookupError):
    """The standard defines no limit at the asked current / power factor / load."""


class AmbiguousLimitError(StandardsError):
    """Two table rows claim the same point (usually an override that added instead of replacing)."""


@dataclass(frozen=True)
class LimitRow:
    """The table row that sets the limit at a point, with where it comes from."""

    row: AccuracyRow
    provenance: Provenance
    energy: Energy

    @property
    def limit_pct(self) -> float:
        return self.row.limit_pct


def _load_of(rating: MeterRating, element: int | None) -> Load:
    if element is None:
        return "balanced"
    if not 1 <= element <= rating.elements:
        raise StandardsError(f"element {element} does not exist on a meter with {rating.elements} element(s)")
    # a single-phase meter's only element carries the whole load: the balanced rows apply
    return "balanced" if rating.elements == 1 else "single_element"


def _tables(rating: MeterRating, library: StandardsLibrary, energy: Energy | None) -> list[SourcedTable]:
    tables = library.accuracy_tables(rating.standard, rating.edition, energy)
    if not tables:
        raise StandardsError(f"{rating.label}: no accuracy table in the library")
    return tables


def _temperature_ok(table: AccuracyTable, row: AccuracyRow, temperature_c: float | None) -> bool:
    if row.temperature_band is None:
        return True
    t = temperature_c if temperature_c is not None else table.reference_temperature_c
    if t is None:
        raise StandardsError(f"{table.standard}:{table.edition}: rows have temperature bands; give temperature_c")
    band = next(b for b in table.temperature_bands if b.id == row.temperature_band)
    return band.contains(t)


def limit_for(
    rating: MeterRating,
    current_a: float,
    pf: PowerFactor | str | float,
    element: int | None = None,
    *,
    temperature_c: float | None = None,
    energy: Energy | None = None,
    library: StandardsLibrary | None = None,
) -> LimitRow:
    """The accuracy limit row for ``rating`` at ``current_a`` and ``pf``.

    ``element`` None is balanced load, 1…elements a single-element load on a polyphase meter. ``temperature_c``
    selects the temperature band where the table has them (MID, MI-003 Table 2); None means the table's reference
    temperature. On a band edge (e.g. 30 °C) both bands match and the smaller MPE applies.
    Raises :class:`NoLimitError` when no row applies, :class:`AmbiguousLimitError` when two rows do."""
    lib = library or default_library()
    p = PowerFactor.coerce(pf)
    load = _load_of(rating, element)
    currents = resolve_currents(rating, lib).amps()
    matches: list[tuple[AccuracyRow, SourcedTable]] = []
    at_pf: list[tuple[float, CurrentExpr]] = []  # lower bounds of the rows at this PF, for the error message
    for t in _tables(rating, lib, energy):
        assert isinstance(t.table, AccuracyTable)
        for row in t.table.rows:
            if row.class_index != rating.class_index or row.load != load or p not in row.pf:
                continue
            if row.connection not in ("any", rating.connection):
                continue
            try:
                inside = row.current.contains(current_a, currents)
                at_pf.append((row.current.low.amps(currents), row.current.low))
            except KeyError as exc:
                raise StandardsError(
                    f"{t.provenance(row).label()}: uses {exc.args[0]}, which this rating does not define"
                ) from None
            if inside and _temperature_ok(t.table, row, temperature_c):
                matches.append((row, t))
    where = "balanced load" if load == "balanced" else f"element {element} alone"
    what = f"{rating.label} ({rating.connection}), {where}, at {current_a:g} A PF {p}"
    if not matches:
        if not at_pf:
            raise NoLimitError(f"{what}: the table defines no limit at PF {p} for this load")
        lowest = min(at_pf, key=lambda x: x[0])
        raise NoLimitError(f"{what}: no limit defined; at PF {p} limits apply from {lowest[0]:g} A ({lowest[1]})")
    if len(matches) > 1:
        if all(r.temperature_band is not None for r, _ in matches):
            matches.sort(key=lambda m: m[0].limit_pct)  # band edge: the tighter MPE
        else:
            labels = "; ".join(f"{t.provenance(r).label()} [{t.sources.get(r.id, '')}]" for r, t in matches)
            raise AmbiguousLimitError(f"{what}: several rows apply: {labels}")
    row, t = matches[0]
    assert isinstance(t.table, AccuracyTable)
    return LimitRow(row, t.provenance(row), t.table.energy)


class LoadPoint(BaseModel):
    """One accuracy test point: what the source sets and the limit the meter's error is judged against."""

    model_config = ConfigDict(frozen=True)

    #: stable key, e.g. ``bal/2 Itr/0.5L`` or ``e1/Itr/1``
    key: str
    #: short name for reports, e.g. ``2 Itr PF 0.5L`` or ``E1 Itr PF 1``
    name: str
    current: CurrentExpr
    current_a: float
    voltage_v: float
    frequency_hz: float
    pf: PowerFactor
    #: None: balanced load on all elements; n: element n alone
    element: int | None
    #: number of elements carrying current (for the power and the pulse period)
    elements_loaded: int
    energy: Energy = "active"
    limit_pct: float
    limit: Provenance

    @property
    def phi_deg(self) -> float:
        """Angle by which the current lags its voltage (cos φ for active energy, sin φ for reactive)."""
        return self.pf.phi_deg if self.energy == "active" else self.pf.reactive_phi_deg

    @property
    def power_w(self) -> float:
        """Power at the point, m·U·I·PF: W for active energy (var for reactive tables, PF read as sin φ)."""
        return self.elements_loaded * self.voltage_v * self.current_a * self.pf.value


@dataclass(frozen=True)
class OmittedPoint:
    """A candidate point left out of the matrix, and why."""

    current: CurrentExpr
    current_a: float
    pf: PowerFactor
    element: int | None
    reason: str


@dataclass(frozen=True)
class LoadPointMatrix:
    points: tuple[LoadPoint, ...]
    omitted: tuple[OmittedPoint, ...]

    def __iter__(self) -> Iterator[LoadPoint]:
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)


def default_point_set(
    rating: MeterRating, load: Load, library: StandardsLibrary | None = None, energy: Energy | None = None
) -> TestPointSet | None:
    """The table's default currents × PFs for this load and the rating's connection (None: the table has none)."""
    lib = library or default_library()
    for t in _tables(rating, lib, energy):
        assert isinstance(t.table, AccuracyTable)
        for s in t.table.test_points:
            if s.load == load and s.connection in ("any", rating.connection):
                return s
    return None


def _point_name(current: CurrentExpr, pf: PowerFactor, element: int | None) -> tuple[str, str]:
    prefix_key, prefix_name = ("bal", "") if element is None else (f"e{element}", f"E{element} ")
    return f"{prefix_key}/{current}/{pf}", f"{prefix_name}{current} PF {pf}"


def generate_load_points(
    rating: MeterRating,
    *,
    balanced: bool = True,
    single_element: bool = True,
    currents: Sequence[str | CurrentExpr] | None = None,
    pfs: Sequence[str | float | PowerFactor] | None = None,
    single_element_currents: Sequence[str | CurrentExpr] | None = None,
    single_element_pfs: Sequence[str | float | PowerFactor] | None = None,
    voltage_v: float | None = None,
    frequency_hz: float | None = None,
    temperature_c: float | None = None,
    energy: Energy | None = None,
    library: StandardsLibrary | None = None,
) -> LoadPointMatrix:
    """The accuracy test matrix of ``rating``: balanced points, then each element alone (polyphase meters).

    Currents and PFs default to the table's ``test_points``; give them to test another set. Order: balanced
    first, then element 1, 2, 3; within a load by PF in the given order, then by current as given (the runner
    may reorder to minimise source changes). Points evaluating to the same current are generated once."""
    lib = library or default_library()
    rated: RatedCurrents = resolve_currents(rating, lib)
    loads: list[tuple[Load, list[int | None]]] = []
    if balanced:
        loads.append(("balanced", [None]))
    if single_element and rating.elements > 1:
        loads.append(("single_element", list(range(1, rating.elements + 1))))
    points: list[LoadPoint] = []
    omitted: list[OmittedPoint] = []
    for load, elements in loads:
        given_i, given_pf = (currents, pfs) if load == "balanced" else (single_element_currents, single_element_pfs)
        default = default_point_set(rating, load, lib, energy)
        if default is None and given_i is None and given_pf is None and load == "single_element":
            continue  # the standard has no single-element test: nothing to generate
        if given_i is not None:
            cur = [CurrentExpr.coerce(c) for c in given_i]
        elif default is not None:
            cur = list(default.currents)
        else:
            raise StandardsError(f"{rating.label}: the table has no default {load} test currents; give them")
        if given_pf is not None:
            pf_list = [PowerFactor.coerce(p) for p in given_pf]
        elif default is not None:
            pf_list = list(default.pf)
        else:
            raise StandardsError(f"{rating.label}: the table has no default {load} power factors; give them")
        for element in elements:
            seen: set[tuple[float, PowerFactor]] = set()
            for pf in pf_list:
                for c in cur:
                    try:
                        amps = rated.evaluate(c)
                    except RatingError as exc:
                        raise StandardsError(f"test point {c}: {exc}") from None
                    if (round(amps, 12), pf) in seen:
                        continue
                    seen.add((round(amps, 12), pf))
                    try:
                        lim = limit_for(rating, amps, pf, element, temperature_c=temperature_c, energy=energy,
                                        library=lib)
                    except NoLimitError as exc:
                        omitted.append(OmittedPoint(c, amps, pf, element, str(exc)))
                        continue
                    key, name = _point_name(c, pf, element)
                    points.append(LoadPoint(
                        key=key, name=name, current=c, current_a=amps,
                        voltage_v=voltage_v if voltage_v is not None else rating.un_v,
                        frequency_hz=frequency_hz if frequency_hz is not None else rating.frequency_hz,
                        pf=pf, element=element, elements_loaded=rating.elements if element is None else 1,
                        energy=lim.energy, limit_pct=lim.limit_pct, limit=lim.provenance,
                    ))
    return LoadPointMatrix(tuple(points), tuple(omitted))
