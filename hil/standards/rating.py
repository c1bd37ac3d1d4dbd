"""The meter rating: what the nameplate says, validated against the standard it claims.

Current terms (reference/standards.md §1): direct-connected meters Iref = 10·Itr and the 2003 editions' Ib = Iref;
CT-operated meters In = 20·Itr. Ist and Imin come from the nameplate or, when absent, from the standard's table;
a nameplate value may be lower than the table's (the standard sets the largest allowed) but not higher.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from hil.standards.model import AccuracyTable, ClassIndex, Connection, CurrentExpr, Edition, PosFloat
from hil.standards.tables import StandardsError, StandardsLibrary, default_library

_TOL = 1e-6  # relative tolerance of the nameplate relations (Iref = 10·Itr …)
#: fixed current relations of standards.md §1 (status C)
ITR_PER_IREF = 0.1  # direct: Iref = 10·Itr, and Ib = Iref for the 2003 editions
ITR_PER_IN = 0.05  # CT: In = 20·Itr


class RatingError(StandardsError):
    """A rating that contradicts itself or its standard."""


@dataclass(frozen=True)
class RatedCurrent:
    amps: float
    #: ``nameplate``, ``derived: …`` or the provenance label of the table row it came from
    origin: str


@dataclass(frozen=True)
class RatedCurrents:
    """The characteristic currents of one meter, each with where its value came from."""

    basis: str
    values: dict[str, RatedCurrent]

    def amps(self) -> dict[str, float]:
        return {k: v.amps for k, v in self.values.items()}

    def __getitem__(self, name: str) -> float:
        try:
            return self.values[name].amps
        except KeyError:
            raise RatingError(f"{name} is not defined for this rating (defined: {', '.join(self.values)})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def evaluate(self, expr: CurrentExpr | str) -> float:
        e = expr if isinstance(expr, CurrentExpr) else CurrentExpr.parse(expr)
        return e.factor * self[e.base]


class MeterRating(BaseModel):
    """A meter's rating. Validated on construction against the default library, or the library passed as
    validation context (``MeterRating.model_validate(data, context={"library": lib})``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    standard: str = Field(min_length=1)
    edition: Edition
    class_index: ClassIndex
    connection: Connection = "direct"
    #: measuring elements: 1 single-phase, 2 three-phase three-wire, 3 three-phase four-wire
    elements: Literal[1, 2, 3] = 1
    un_v: PosFloat
    frequency_hz: PosFloat = 50.0
    #: ``dc``: a DC meter (IEC 62053-41), which an AC standard's plan must not test, nor a DC plan an AC meter
    supply: Literal["ac", "dc"] = "ac"
    constant_imp_per_kwh: PosFloat
    ist_a: PosFloat | None = None
    imin_a: PosFloat | None = None
    itr_a: PosFloat | None = None
    iref_a: PosFloat | None = None
    ib_a: PosFloat | None = None
    in_a: PosFloat | None = None
    #: ANSI C12.20 test amperes
    ta_a: PosFloat | None = None
    imax_a: PosFloat

    @model_validator(mode="after")
    def _against_standard(self, info: ValidationInfo) -> MeterRating:
        ctx = info.context if isinstance(info.context, dict) else {}
        library = ctx.get("library")
        resolve_currents(self, library if isinstance(library, StandardsLibrary) else None)
        return self

    def currents(self, library: StandardsLibrary | None = None) -> RatedCurrents:
        return resolve_currents(self, library)

    @property
    def label(self) -> str:
        return f"{self.standard}:{self.edition} class {self.class_index}"


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= _TOL * max(abs(a), abs(b))


def _basis(rating: MeterRating, library: StandardsLibrary) -> str:
    tables = library.accuracy_tables(rating.standard, rating.edition)
    if not tables:
        raise RatingError(f"{rating.label}: the library has no accuracy table for this standard and edition")
    bases = {t.table.basis for t in tables if isinstance(t.table, AccuracyTable)}
    if len(bases) != 1:
        raise RatingError(f"{rating.label}: accuracy tables disagree on the current basis {sorted(bases)}")
    return bases.pop()


def _derive(values: dict[str, RatedCurrent], name: str, given: float | None, amps: float, why: str) -> None:
    """Set a current derived by a fixed relation; a nameplate value must agree with it."""
    if given is not None and not _same(given, amps):
        raise RatingError(f"{name} = {given:g} A contradicts {why} = {amps:g} A")
    values[name] = RatedCurrent(amps, "nameplate" if given is not None else f"derived: {why}")


def _forbid(rating: MeterRating, **fields: float | None) -> None:
    for name, value in fields.items():
        if value is not None:
            raise RatingError(f"{rating.label} ({rating.connection}): {name} is not a rating of this meter")


def _nominal(rating: MeterRating, basis: str) -> dict[str, RatedCurrent]:
    """Itr, Iref, Ib/In (and TA) from the nameplate, per the basis of the standard's tables."""
    r, v = rating, {}
    if basis == "TA":
        if r.ta_a is None:
            raise RatingError(f"{r.label}: ta_a (test amperes) is required")
        _forbid(r, imin_a=r.imin_a, itr_a=r.itr_a, ib_a=r.ib_a, in_a=r.in_a)
        v["TA"] = RatedCurrent(r.ta_a, "nameplate")
        _derive(v, "Iref", r.iref_a, r.ta_a, "Iref = TA")
        return v
    _forbid(r, ta_a=r.ta_a)  # test amperes rate ANSI meters only
    direct = r.connection == "direct"
    if basis == "Ib/In":  # 2003 editions: Ib (direct) or In (CT) is the rating, Itr follows
        if direct:
            _forbid(r, in_a=r.in_a)
            ib = r.ib_a if r.ib_a is not None else r.iref_a
            if ib is None:
                raise RatingError(f"{r.label}: ib_a (basic current) is required for a direct-connected meter")
            v["Ib"] = RatedCurrent(ib, "nameplate")
            _derive(v, "Iref", r.iref_a, ib, "Iref = Ib")
            _derive(v, "Itr", r.itr_a, ITR_PER_IREF * ib, "Itr = 0.1·Ib")
        else:
            _forbid(r, ib_a=r.ib_a)
            if r.in_a is None:
                raise RatingError(f"{r.label}: in_a (nominal current) is required for a CT-operated meter")
            v["In"] = RatedCurrent(r.in_a, "nameplate")
            _derive(v, "Iref", r.iref_a, r.in_a, "Iref = In")
            _derive(v, "Itr", r.itr_a, ITR_PER_IN * r.in_a, "Itr = 0.05·In")
        return v
    # Itr basis (2020 editions, MID): Itr is the rating; Iref / In follow
    itr = r.itr_a
    if itr is None:
        ref = r.iref_a if direct else r.in_a
        if ref is None:
            need = "itr_a (or iref_a)" if direct else "itr_a (or in_a)"
            raise RatingError(f"{r.label}: {need} is required")
        itr = ref * (ITR_PER_IREF if direct else ITR_PER_IN)
        v["Itr"] = RatedCurrent(itr, "derived: Itr = 0.1·Iref" if direct else "derived: Itr = 0.05·In")
    else:
        v["Itr"] = RatedCurrent(itr, "nameplate")
    if direct:
        _forbid(r, in_a=r.in_a)
        _derive(v, "Iref", r.iref_a, itr / ITR_PER_IREF, "Iref = 10·Itr")
        _derive(v, "Ib", r.ib_a, v["Iref"].amps, "Ib = Iref")
    else:
        _forbid(r, ib_a=r.ib_a)
        _derive(v, "In", r.in_a, itr / ITR_PER_IN, "In = 20·Itr")
        _derive(v, "Iref", r.iref_a, v["In"].amps, "Iref = In")
    return v


def _from_table(
    rating: MeterRating, library: StandardsLibrary, values: dict[str, RatedCurrent], name: str, given: float | None
) -> None:
    """Ist / Imin: the nameplate value (not above the table's) or the table's value."""
    found = library.condition(rating.standard, rating.edition, name.lower(), rating.class_index, rating.connection)
    if found is None:
        if given is not None:
            values[name] = RatedCurrent(given, "nameplate")
        return
    row, prov = found
    assert row.current is not None
    try:
        table_amps = row.current.factor * values[row.current.base].amps
    except KeyError:
        raise RatingError(f"{prov.label()}: {row.current} uses {row.current.base}, not rated here") from None
    if given is None:
        values[name] = RatedCurrent(table_amps, prov.label())
    elif given > table_amps * (1 + _TOL):
        raise RatingError(
            f"{name} = {given:g} A is above {row.current} = {table_amps:g} A allowed by {prov.label()} "
            f"[{prov.source}]; a lab override file can change the row"
        )
    else:
        values[name] = RatedCurrent(given, "nameplate")


def resolve_currents(rating: MeterRating, library: StandardsLibrary | None = None) -> RatedCurrents:
    """Check ``rating`` against its standard and return its characteristic currents.

    Raises :class:`RatingError` for an unknown standard/edition/class, a missing or contradictory rating, or
    currents out of order (Ist < Imin < Itr < Iref ≤ Imax)."""
    lib = library or default_library()
    try:
        classes = lib.classes(rating.standard, rating.edition)
    except StandardsError as exc:
        raise RatingError(str(exc)) from None
    if rating.class_index not in classes:
        raise RatingError(f"class {rating.class_index} is not defined for {rating.standard}:{rating.edition} "
                          f"(classes: {', '.join(classes)})")
    basis = _basis(rating, lib)
    rows = [
        r for t in lib.accuracy_tables(rating.standard, rating.edition) if isinstance(t.table, AccuracyTable)
        for r in t.table.rows if r.class_index == rating.class_index
    ]
    if not any(r.connection in ("any", rating.connection) for r in rows):
        raise RatingError(f"{rating.label}: the accuracy table has no limits for {rating.connection} connection")
    values = _nominal(rating, basis)
    values["Imax"] = RatedCurrent(rating.imax_a, "nameplate")
    if basis != "TA":
        _from_table(rating, lib, values, "Imin", rating.imin_a)
        if basis == "Itr" and "Imin" not in values:
            raise RatingError(f"{rating.label}: imin_a is required (the library has no Imin for this class)")
    _from_table(rating, lib, values, "Ist", rating.ist_a)
    names: tuple[str, ...] = ("Ist", "TA", "Imax") if basis == "TA" else ("Ist", "Imin", "Itr", "Iref", "Imax")
    order = [n for n in names if n in values]
    for lo, hi in itertools.pairwise(order):
        a, b = values[lo].amps, values[hi].amps
        if a > b * (1 + _TOL) or (hi != "Imax" and _same(a, b)):
            rel = "≤" if hi == "Imax" else "<"
            raise RatingError(f"{rating.label}: need {lo} {rel} {hi}, got {lo} = {a:g} A, {hi} = {b:g} A")
    return RatedCurrents(basis, values)
