"""Value types and the schema of the limit-table files.

A limit table is one YAML file: a header naming ``standard``, ``edition`` and ``table`` (the clause/table it
reproduces) and rows, one number per row, each with its own ``status`` (reference/standards.md: confirmed,
derived, unconfirmed). Current bounds are written as expressions of the rated currents (``0.05 Ib``, ``2 Itr``,
``Imax``) and ranges in interval notation (``[Itr, 2 Itr)``), so a row reads like the standard's table.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetCoreSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

#: row status (reference/standards.md): C confirmed in a public source, D derived, U unconfirmed
Status = Literal["confirmed", "derived", "unconfirmed"]
#: how the meter is connected: directly, or through current transformers (CT operated)
Connection = Literal["direct", "ct"]
RowConnection = Literal["direct", "ct", "any"]
#: balanced: all elements loaded alike; single_element: one current circuit loaded, balanced voltages
Load = Literal["balanced", "single_element"]
Energy = Literal["active", "reactive"]
#: the characteristic currents a bound may refer to (TA: ANSI C12.20 test amperes)
BASE_CURRENTS: tuple[str, ...] = ("Ist", "Imin", "Itr", "Iref", "Ib", "In", "Imax", "TA")

_REL = 1e-9  # relative tolerance of current comparisons: points sit exactly on range bounds


def _to_str(v: Any) -> Any:
    """YAML reads ``edition: 2020`` as int; editions and class indices are names, not numbers."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return format(v, "g")
    return v


def normalise_class(v: Any) -> Any:
    """``1`` / ``"0,5s"`` / ``0.5`` → ``"1"`` / ``"0.5S"`` / ``"0.5"`` (class indices are compared as text)."""
    v = _to_str(v)
    if isinstance(v, str):
        v = v.strip().replace(",", ".").upper()
    return v


Edition = Annotated[str, BeforeValidator(_to_str), Field(min_length=1)]
ClassIndex = Annotated[str, BeforeValidator(normalise_class), Field(pattern=r"^(\d+(\.\d+)?S?|[A-C])$")]
RowId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _PlainStr:
    """Mixin: a value type validated from text and serialised back to the same text."""

    @classmethod
    def coerce(cls, value: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls.coerce, serialization=core_schema.plain_serializer_function_ser_schema(str)
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: CoreSchema, handler: Any) -> JsonSchemaValue:
        return {"type": "string"}


@dataclass(frozen=True)
class PowerFactor(_PlainStr):
    """A power factor with its sense: ``1``, ``0.5L`` (inductive: current lags), ``0.8C`` (capacitive: leads).

    ``value`` is cos φ for active energy; reactive tables (IEC 62053-23) state sin φ in the same notation.
    """

    value: float
    sense: Literal["L", "C", ""] = ""

    def __post_init__(self) -> None:
        if not 0 < self.value <= 1 or math.isnan(self.value):
            raise ValueError(f"power factor must be in (0, 1], got {self.value}")
        if self.value == 1 and self.sense:
            raise ValueError("power factor 1 has no inductive/capacitive sense")
        if self.value < 1 and self.sense not in ("L", "C"):
            raise ValueError(f"power factor {self.value:g} needs a sense: L (inductive) or C (capacitive)")

    @classmethod
    def parse(cls, text: str | float) -> PowerFactor:
        if isinstance(text, int | float) and not isinstance(text, bool):
            return cls(float(text))
        if not isinstance(text, str):
            raise ValueError(f"power factor must be text like 1, 0.5L, 0.8C, got {text!r}")
        m = re.fullmatch(r"\s*(\d+(?:[.,]\d*)?)\s*([LlCc]?)\s*", text)
        if m is None:
            raise ValueError(f"power factor must look like 1, 0.5L or 0.8C, got {text!r}")
        sense = m.group(2).upper()
        return cls(float(m.group(1).replace(",", ".")), "L" if sense == "L" else "C" if sense == "C" else "")

    @classmethod
    def coerce(cls, value: Any) -> PowerFactor:
        return value if isinstance(value, PowerFactor) else cls.parse(value)

    @classmethod
    def from_phi(cls, phi_deg: float) -> PowerFactor:
        """From the angle by which the current lags the voltage (negative: leads)."""
        value = round(math.cos(math.radians(phi_deg)), 12)
        return cls(1.0) if value >= 1 else cls(value, "L" if phi_deg > 0 else "C")

    @property
    def phi_deg(self) -> float:
        """φ for active energy: the current lags the voltage by φ (0.5L → +60°, 0.8C → −36.87°)."""
        phi = math.degrees(math.acos(self.value))
        return -phi if self.sense == "C" else phi

    @property
    def reactive_phi_deg(self) -> float:
        """φ when ``value`` is sin φ (reactive tables): sin φ 1 → current lags by 90°, 0.5C → leads by 30°."""
        phi = math.degrees(math.asin(self.value))
        return -phi if self.sense == "C" else phi

    @property
    def current_angle_deg(self) -> float:
        """Current phase angle relative to its voltage (source convention: lagging current below U)."""
        return -self.phi_deg

    def __str__(self) -> str:
        return f"{self.value:g}{self.sense}"


@dataclass(frozen=True)
class CurrentExpr(_PlainStr):
    """A current as a multiple of a rated current: ``Imax``, ``0.05 Ib``, ``2 Itr``."""

    factor: float
    base: str

    _RE = re.compile(
        r"\s*(?:(?P<k>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*[·*×]?\s*)?(?P<base>" + "|".join(BASE_CURRENTS) + r")\s*"
    )

    def __post_init__(self) -> None:
        if self.base not in BASE_CURRENTS:
            raise ValueError(f"unknown current {self.base!r}; use one of {', '.join(BASE_CURRENTS)}")
        if not self.factor > 0 or math.isinf(self.factor):
            raise ValueError(f"current factor must be positive, got {self.factor}")

    @classmethod
    def parse(cls, text: str) -> CurrentExpr:
        if not isinstance(text, str):
            raise ValueError(f"current must be text like 'Imax' or '0.05 Ib', got {text!r}")
        m = cls._RE.fullmatch(text)
        if m is None:
            raise ValueError(
                f"current must be a multiple of {', '.join(BASE_CURRENTS)} (e.g. '0.05 Ib', '2 Itr'), got {text!r}"
            )
        return cls(float(m.group("k")) if m.group("k") else 1.0, m.group("base"))

    @classmethod
    def coerce(cls, value: Any) -> CurrentExpr:
        return value if isinstance(value, CurrentExpr) else cls.parse(value)

    def amps(self, currents: dict[str, float]) -> float:
        """Evaluate with the rated currents of a meter (see :class:`~hil.standards.rating.RatedCurrents`)."""
        if self.base not in currents:
            raise KeyError(self.base)
        return self.factor * currents[self.base]

    def __str__(self) -> str:
        return self.base if self.factor == 1 else f"{self.factor:g} {self.base}"


def _ge(a: float, b: float) -> bool:
    return a >= b - _REL * abs(b)


@dataclass(frozen=True)
class CurrentRange(_PlainStr):
    """A current interval as the standards write it: ``[0.05 Ib, 0.1 Ib)``, ``[Itr, Imax]``; a bare expression
    (``0.5 Imax``) is the single point where the row applies."""

    low: CurrentExpr
    high: CurrentExpr
    low_closed: bool = True
    high_closed: bool = True

    @classmethod
    def parse(cls, text: str) -> CurrentRange:
        if not isinstance(text, str):
            raise ValueError(f"current range must be text like '[Itr, Imax]', got {text!r}")
        m = re.fullmatch(r"\s*([\[(])\s*([^,]+?)\s*,\s*([^,]+?)\s*([\])])\s*", text)
        if m is None:
            if any(c in text for c in "[](),"):
                raise ValueError(f"current range must look like '[0.05 Ib, 0.1 Ib)' or '[Itr, Imax]', got {text!r}")
            point = CurrentExpr.parse(text)
            return cls(point, point)
        return cls(CurrentExpr.parse(m.group(2)), CurrentExpr.parse(m.group(3)), m.group(1) == "[", m.group(4) == "]")

    @classmethod
    def coerce(cls, value: Any) -> CurrentRange:
        return value if isinstance(value, CurrentRange) else cls.parse(value)

    @property
    def is_point(self) -> bool:
        return self.low == self.high

    def bounds(self, currents: dict[str, float]) -> tuple[float, float]:
        return self.low.amps(currents), self.high.amps(currents)

    def contains(self, current_a: float, currents: dict[str, float]) -> bool:
        """True when ``current_a`` lies in the range; bounds compare with a 1e-9 relative tolerance."""
        lo, hi = self.bounds(currents)
        if self.is_point:
            return _ge(current_a, lo) and _ge(hi, current_a)
        above = _ge(current_a, lo) if self.low_closed else not _ge(lo, current_a)
        below = _ge(hi, current_a) if self.high_closed else not _ge(current_a, hi)
        return above and below

    def __str__(self) -> str:
        if self.is_point:
            return str(self.low)
        return f"{'[' if self.low_closed else '('}{self.low}, {self.high}{']' if self.high_closed else ')'}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Row(_Strict):
    """One number of a table, with its key (for lab overrides) and how sure we are of it."""

    id: RowId
    status: Status
    note: str = ""


class AccuracyRow(_Row):
    """Percentage error limit (±%) for a class, load, current range and power factors."""

    class_index: ClassIndex
    load: Load = "balanced"
    connection: RowConnection = "any"
    current: CurrentRange
    pf: list[PowerFactor] = Field(min_length=1)
    limit_pct: PosFloat
    #: MID Table 2 only: the ambient temperature band (id in the table's ``temperature_bands``)
    temperature_band: str | None = None
    #: the standard applies the row only when the purchaser asks for it (not in the default point set)
    on_request: bool = False


class TemperatureBand(_Strict):
    """An ambient temperature band of MID (2014/32/EU Annex V, MI-003 Table 2): one or two intervals in °C."""

    id: RowId
    ranges_c: list[tuple[float, float]] = Field(min_length=1)
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> TemperatureBand:
        if any(lo >= hi for lo, hi in self.ranges_c):
            raise ValueError("each range must be [low, high] with low < high")
        return self

    def contains(self, temperature_c: float) -> bool:
        return any(lo <= temperature_c <= hi for lo, hi in self.ranges_c)


class TestPointSet(_Strict):
    """The default currents × power factors of an accuracy test for one load and connection (our choice of the
    usual type-test set, documented in docs/standards.md; points without a limit are omitted)."""

    __test__ = False  # not a pytest class

    load: Load
    connection: RowConnection = "any"
    currents: list[CurrentExpr] = Field(min_length=1)
    pf: list[PowerFactor] = Field(min_length=1)


class _Table(_Strict):
    standard: str = Field(min_length=1)
    edition: Edition
    #: the clause/table of the standard this file reproduces (merge key for lab overrides, with standard+edition)
    table: str = Field(min_length=1)
    #: where the numbers come from (document, section)
    source: str = ""
    note: str = ""


class AccuracyTable(_Table):
    kind: Literal["accuracy"]
    energy: Energy = "active"
    #: the rated current the ranges are built on: Ib (direct) / In (CT) for the 2003 editions, Itr from 2020 and
    #: MID, TA for ANSI C12.20
    basis: Literal["Ib/In", "Itr", "TA"]
    #: the supply the standard's meters measure: ``dc`` for IEC 62053-41 (DC meters, EV charging), else ``ac``
    supply: Literal["ac", "dc"] = "ac"
    #: ambient temperature for the reference-condition limits when the rows have temperature bands
    reference_temperature_c: float | None = None
    temperature_bands: list[TemperatureBand] = Field(default_factory=list)
    test_points: list[TestPointSet] = Field(default_factory=list)
    rows: list[AccuracyRow]


ConditionParameter = Literal[
    "ist",  # starting current (current expression)
    "imin",  # minimum current from which the accuracy limits apply (current expression)
    "no_load_voltage_factor",  # no-load test voltage / Un
    "no_load_duration_k",  # K in Δt ≥ K·10⁶ / (k·m·U·I) minutes
    "no_load_max_pulses",  # pulses allowed during the no-load test
    "starting_voltage_factor",  # starting test voltage / Un
    "starting_time_multiple",  # starting test time limit / pulse period at Ist
    "starting_min_pulses",  # pulses the meter must emit within the starting time limit
    "uncertainty_fraction",  # largest expanded uncertainty of the error measurement / error limit
]


class ConditionsRow(_Row):
    """A test condition: a characteristic current (``ist``, ``imin``) or a number of a test procedure."""

    parameter: ConditionParameter
    #: None: the row applies to every class of the standard and edition
    class_index: ClassIndex | None = None
    connection: RowConnection = "any"
    current: CurrentExpr | None = None
    value: float | None = Field(default=None, allow_inf_nan=False)
    #: no_load_duration_k: the current and the voltage in the formula
    basis: Literal["Imax", "Ist"] | None = None
    voltage: Literal["Un", "test"] | None = None

    @model_validator(mode="after")
    def _fields_for_parameter(self) -> ConditionsRow:
        is_current = self.parameter in ("ist", "imin")
        if is_current and (self.current is None or self.value is not None):
            raise ValueError(f"parameter {self.parameter} takes 'current' (e.g. '0.04 Itr'), not 'value'")
        if not is_current and (self.value is None or self.current is not None):
            raise ValueError(f"parameter {self.parameter} takes a numeric 'value', not 'current'")
        is_k = self.parameter == "no_load_duration_k"
        if is_k != (self.basis is not None and self.voltage is not None):
            raise ValueError("'basis' and 'voltage' are given for no_load_duration_k, and only for it")
        return self


class ConditionsTable(_Table):
    kind: Literal["conditions"]
    rows: list[ConditionsRow]


class HarmonicContent(_Strict):
    """One harmonic the source adds to a circuit: ``order`` at ``percent`` of the fundamental, ``degrees`` from it."""

    circuit: Literal["U", "I"]
    order: int = Field(ge=2, le=50)
    percent: float = Field(gt=0, le=100)
    degrees: float = Field(0.0, ge=-360, le=360)


class InfluenceDef(_Strict):
    """What an influence quantity test varies and where it is tested."""

    description: str
    #: the quantity the test moves away from its reference value (None: not a deviation test)
    varies: Literal["voltage", "frequency"] | None = None
    #: a waveform test (harmonic components): what the source adds to the fundamental at the row's load
    harmonics: list[HarmonicContent] = Field(default_factory=list)
    #: deviations from the reference value applied in the test, % (voltage ±10 → [-10, 10])
    deviations_pct: list[float] = Field(default_factory=list)
    #: where a row given as a current range is tested (rows given as one current use it)
    test_currents: list[CurrentExpr] = Field(default_factory=list)
    status: Status = "confirmed"

    @model_validator(mode="after")
    def _deviation_test(self) -> InfluenceDef:
        if (self.varies is None) != (not self.deviations_pct):
            raise ValueError("'varies' and 'deviations_pct' are given together")
        return self


class InfluenceRow(_Row):
    """Limit of the additional percentage error caused by one influence quantity (IEC 62053-21 §8.2 style)."""

    influence: str
    class_index: ClassIndex
    connection: RowConnection = "any"
    current: CurrentRange
    pf: list[PowerFactor] = Field(min_length=1)
    limit: PosFloat
    unit: Literal["%", "%/K"] = "%"


class InfluenceTable(_Table):
    kind: Literal["influence"]
    influences: dict[str, InfluenceDef]
    rows: list[InfluenceRow]


AnyTable = AccuracyTable | ConditionsTable | InfluenceTable
TABLE_MODELS: dict[str, type[AccuracyTable] | type[ConditionsTable] | type[InfluenceTable]] = {
    "accuracy": AccuracyTable,
    "conditions": ConditionsTable,
    "influence": InfluenceTable,
}


class Provenance(_Strict):
    """Where a number comes from; shown next to every limit in plans, results and reports."""

    standard: str
    edition: str
    table: str
    row: str
    status: Status
    #: the file the row was read from: ``built-in …`` or ``lab override file …``
    source: str
    note: str = ""

    def label(self) -> str:
        """``IEC 62053-21:2020 <table> row <id> (derived)`` — for result columns and reports."""
        return f"{self.standard}:{self.edition} {self.table}, row {self.row} ({self.status})"
