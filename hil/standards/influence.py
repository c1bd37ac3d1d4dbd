"""Influence quantities: limits of the additional error (IEC 62053-21 style, standards.md §4), the voltage and
frequency deviation test points, and the MID temperature band for an ambient temperature (MI-003 Table 2).

The additional percentage error is the change of the meter's error between the reference condition and the
influenced condition at the same load; the test passes when its magnitude is within the row's limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from hil.standards.model import (
    AccuracyTable,
    CurrentExpr,
    HarmonicContent,
    InfluenceDef,
    InfluenceRow,
    InfluenceTable,
    PowerFactor,
    Provenance,
    TemperatureBand,
)
from hil.standards.points import NoLimitError
from hil.standards.rating import MeterRating, resolve_currents
from hil.standards.tables import SourcedTable, StandardsError, StandardsLibrary, default_library

#: the MID standard whose accuracy table carries the MI-003 temperature bands
MID_STANDARD = ("EN 50470-3", "2022")


@dataclass(frozen=True)
class InfluenceLimit:
    influence: str
    limit: float
    unit: str
    row: InfluenceRow
    definition: InfluenceDef
    provenance: Provenance


def _tables(rating: MeterRating, library: StandardsLibrary) -> list[SourcedTable]:
    tables = library.influence_tables(rating.standard, rating.edition)
    if not tables:
        raise StandardsError(f"{rating.label}: the library has no influence table")
    return tables


def influences(rating: MeterRating, library: StandardsLibrary | None = None) -> dict[str, InfluenceDef]:
    """The influence quantities the library defines for the rating's standard and edition."""
    out: dict[str, InfluenceDef] = {}
    for t in _tables(rating, library or default_library()):
        assert isinstance(t.table, InfluenceTable)
        out.update(t.table.influences)
    return out


def _rows(rating: MeterRating, influence: str, library: StandardsLibrary) -> list[tuple[InfluenceRow, SourcedTable]]:
    rows: list[tuple[InfluenceRow, SourcedTable]] = []
    for t in _tables(rating, library):
        assert isinstance(t.table, InfluenceTable)
        rows.extend(
            (r, t) for r in t.table.rows
            if r.influence == influence and r.class_index == rating.class_index
            and r.connection in ("any", rating.connection)
        )
    if not rows:
        raise NoLimitError(f"{rating.label} ({rating.connection}): no {influence!r} rows in the influence table")
    return rows


def influence_limit(
    rating: MeterRating,
    influence: str,
    current_a: float,
    pf: PowerFactor | str | float,
    library: StandardsLibrary | None = None,
) -> InfluenceLimit:
    """The additional-error limit for ``influence`` at ``current_a`` and ``pf`` (balanced load)."""
    lib = library or default_library()
    p = PowerFactor.coerce(pf)
    currents = resolve_currents(rating, lib).amps()
    for row, t in _rows(rating, influence, lib):
        if p in row.pf and row.current.contains(current_a, currents):
            assert isinstance(t.table, InfluenceTable)
            return InfluenceLimit(influence, row.limit, row.unit, row, t.table.influences[influence], t.provenance(row))
    raise NoLimitError(f"{rating.label}: no {influence!r} limit at {current_a:g} A PF {p}")


class InfluencePoint(BaseModel):
    """One point of a voltage or frequency deviation test: measure at reference and at the deviated value."""

    model_config = ConfigDict(frozen=True)

    key: str
    name: str
    influence: str
    current: CurrentExpr
    current_a: float
    pf: PowerFactor
    deviation_pct: float
    reference_voltage_v: float
    reference_frequency_hz: float
    voltage_v: float
    frequency_hz: float
    elements_loaded: int
    #: limit of the additional error (|error at deviation − error at reference|), in ``unit``
    limit: float
    unit: str
    provenance: Provenance
    #: a waveform test: the harmonics added at the deviated point (the reference point is a clean sine)
    harmonics: tuple[HarmonicContent, ...] = ()


def influence_points(
    rating: MeterRating,
    influence: str,
    *,
    currents: Sequence[str | CurrentExpr] | None = None,
    library: StandardsLibrary | None = None,
) -> list[InfluencePoint]:
    """Deviation test points for ``influence`` (``voltage``: Un ±10 %, ``frequency``: ±2 %, per the table; or a
    waveform test such as ``harmonics``, whose deviated point adds the definition's harmonic content at Un and fn):
    for each row, at its own current if it names one, else at the definition's ``test_currents`` (or
    ``currents``) inside the row's range; × the row's PFs × the deviations."""
    lib = library or default_library()
    rated = resolve_currents(rating, lib)
    defs = influences(rating, lib)
    if influence not in defs:
        raise StandardsError(f"{rating.label}: unknown influence {influence!r} (defined: {', '.join(defs)})")
    d = defs[influence]
    if d.varies is None and not d.harmonics:
        raise StandardsError(f"{influence!r} is not a deviation or waveform test; use influence_limit()")
    wanted = [CurrentExpr.coerce(c) for c in currents] if currents is not None else list(d.test_currents)
    out: list[InfluencePoint] = []
    for row, t in _rows(rating, influence, lib):
        exprs = [row.current.low] if row.current.is_point else [
            c for c in wanted if row.current.contains(rated.evaluate(c), rated.amps())
        ]
        for c in exprs:
            for pf in row.pf:
                if d.harmonics:
                    content = ", ".join(f"{h.circuit}{h.order} {h.percent:g} %" for h in d.harmonics)
                    out.append(InfluencePoint(
                        key=f"{influence}/{c}/{pf}", name=f"{influence} ({content}) {c} PF {pf}", influence=influence,
                        current=c, current_a=rated.evaluate(c), pf=pf, deviation_pct=0.0,
                        reference_voltage_v=rating.un_v, reference_frequency_hz=rating.frequency_hz,
                        voltage_v=rating.un_v, frequency_hz=rating.frequency_hz, elements_loaded=rating.elements,
                        limit=row.limit, unit=row.unit, provenance=t.provenance(row), harmonics=tuple(d.harmonics)))
                    continue
                for dev in d.deviations_pct:
                    # (100 + dev)/100, not 1 + dev/100: 230 V +10 % is 253.0 V, not 253.00000000000003 V
                    u = rating.un_v * (100 + dev) / 100 if d.varies == "voltage" else rating.un_v
                    f = rating.frequency_hz * (100 + dev) / 100 if d.varies == "frequency" else rating.frequency_hz
                    out.append(InfluencePoint(
                        key=f"{influence}/{c}/{pf}/{dev:+g}", name=f"{influence} {dev:+g} % {c} PF {pf}",
                        influence=influence, current=c, current_a=rated.evaluate(c), pf=pf, deviation_pct=dev,
                        reference_voltage_v=rating.un_v, reference_frequency_hz=rating.frequency_hz,
                        voltage_v=u, frequency_hz=f, elements_loaded=rating.elements, limit=row.limit,
                        unit=row.unit, provenance=t.provenance(row),
                    ))
    return out


def temperature_band(
    temperature_c: float,
    standard: str = MID_STANDARD[0],
    edition: str = MID_STANDARD[1],
    library: StandardsLibrary | None = None,
) -> TemperatureBand:
    """The ambient temperature band of an accuracy table (default: MID, MI-003 Table 2) that contains
    ``temperature_c``; on a shared edge (e.g. +30 °C) the band listed first, i.e. the tighter MPEs."""
    lib = library or default_library()
    for t in lib.accuracy_tables(standard, edition):
        assert isinstance(t.table, AccuracyTable)
        for band in t.table.temperature_bands:
            if band.contains(temperature_c):
                return band
    raise StandardsError(f"{standard}:{edition}: no temperature band contains {temperature_c:g} °C")
