"""Test plans in YAML (pydantic-validated; errors name file, line and field).

    plan: IEC 62053-21:2020 class 1, three-phase accuracy
    standard: IEC 62053-21
    edition: "2020"
    tests:
      - id: balanced
        kind: accuracy
        load: balanced
        currents: [Imin, Itr, Iref, Imax]
        power_factors: ["1", "0.5L", "0.8C"]

``pytest testplans/<plan>.yaml --bench <bench.yaml>`` collects it directly (see :mod:`hil.plans.collect`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hil.functional.model import FunctionalTest
from hil.sequences.model import SequenceTest
from hil.standards import StandardsLibrary, default_library
from hil.standards.model import AccuracyTable, normalise_class
from instruments.yamlconfig import error_at, load_yaml_model


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf / .nan in a plan: refused


class MeasureOptions(_Model):
    """How points are measured (defaults: standards.md §6 practice)."""

    settle_s: float = Field(10.0, ge=0)
    resolution_fraction: float = Field(0.1, gt=0, le=1)  # resolution ≤ this fraction of the limit
    min_duration_s: float = Field(0.0, ge=0)
    min_pulses: int = Field(1, ge=1)
    repeats: int = Field(1, ge=1, le=100)
    timeout_factor: float = Field(2.0, ge=1)
    decision_rule: Literal["simple", "guard_band"] = "simple"
    #: guard_band: what a conditional pass (|error| ≤ limit < |error| + U) counts as; "fail" is binary
    #: guard-banded acceptance (ILAC-G8:09/2019, w = U); a conditional fail always fails
    conditional_pass: Literal["fail", "pass"] = "fail"


class AccuracyTest(_Model):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["accuracy"]
    load: Literal["balanced", "single_element"] = "balanced"
    currents: list[str] | None = None  # e.g. [Imin, Itr, "2 Itr", Iref, Imax]; None: the standard's set
    power_factors: list[str] = Field(default_factory=lambda: ["1", "0.5L", "0.8C"])
    elements: list[int] | None = None  # single_element: which elements (default: all of the meter's)
    voltage_pct: float = Field(100.0, gt=0, le=130)  # of Un
    frequency_pct: float = Field(100.0, gt=80, le=120)  # of the nominal frequency


class StartingTest(_Model):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["starting"]
    time_factor: float = Field(1.5, ge=1)  # time limit = factor × the pulse period at Ist (status U)
    min_pulses: int = Field(1, ge=1)


class NoLoadTest(_Model):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["no_load"]
    duration_factor: float = Field(1.0, ge=1)  # × the standard's minimum duration (labs often use 2)
    voltage_pct: float | None = Field(None, gt=0, le=130)  # default: the standard's (115 % / 110 % Un)
    max_pulses: int = Field(1, ge=0)  # the meter shall not produce more than one pulse


class MeterConstantTest(_Model):
    """Test-output pulses against the advance of an energy register read over the meter's port."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["meter_constant"]
    current: str = "Imax"
    power_factor: str = "1"
    register_address: str = "1.8.0"
    register_resolution_kwh: float = Field(0.001, gt=0)  # last digit of the register readout
    max_resolution_pct: float = Field(0.1, gt=0, le=10)  # one register step ≤ this % of the test energy (U)


class InfluenceTest(_Model):
    """Error shift at a deviated voltage or frequency against the error at reference conditions."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["influence"]
    quantity: Literal["voltage", "frequency"]
    currents: list[str] | None = None  # default: the table's test currents
    power_factors: list[str] | None = None  # default: every PF the table gives a limit for


class AccelerationOption(_Model):
    """Test → use conditions (standards.md §8): Arrhenius, or Peck with humidity, for a life in hours (time at a
    steady temperature); Coffin–Manson, per cycle, for a life in cycles (AF = (ΔT_test/ΔT_use)^n)."""

    model: Literal["arrhenius", "peck", "coffin_manson"] = "arrhenius"
    activation_energy_ev: float = Field(0.7, ge=0)
    humidity_exponent: float = Field(2.66, ge=0)  # Peck's fit (standards.md §8)
    use_temperature_c: float | None = None  # Arrhenius, Peck: required
    use_humidity_pct: float | None = Field(None, gt=0, le=100)
    test_temperature_c: float | None = None  # None: the analysed sequence's temperature
    test_humidity_pct: float | None = Field(None, gt=0, le=100)  # None: the analysed sequence's humidity
    #: Coffin–Manson exponent n; None: standards.md §8's ≈ 1.9 for SnPb solder (hil.reliability.COFFIN_MANSON_N_SNPB)
    exponent: float | None = Field(None, gt=0)
    use_delta_t_k: float | None = Field(None, gt=0)  # Coffin–Manson: the temperature swing in use (required)
    #: Coffin–Manson: the swing per test cycle; None: the analysed thermal cycling's high_c − low_c
    test_delta_t_k: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _fields_of_the_model(self) -> AccelerationOption:
        given = self.model_fields_set
        thermal = {"activation_energy_ev", "humidity_exponent", "use_temperature_c", "use_humidity_pct",
                   "test_temperature_c", "test_humidity_pct"}
        cycling = {"exponent", "use_delta_t_k", "test_delta_t_k"}
        if self.model == "coffin_manson":
            if self.use_delta_t_k is None:
                raise ValueError("the Coffin–Manson model needs use_delta_t_k (the temperature swing in use, K)")
            wrong = sorted(given & thermal)
            if wrong:
                raise ValueError(f"{', '.join(wrong)}: not a Coffin–Manson parameter (exponent, use_delta_t_k, "
                                 "test_delta_t_k)")
            return self
        if self.use_temperature_c is None:
            raise ValueError(f"the {self.model} model needs use_temperature_c")
        wrong = sorted(given & cycling)
        if wrong:
            raise ValueError(f"{', '.join(wrong)}: a Coffin–Manson parameter (model: coffin_manson)")
        if self.model == "peck" and self.use_humidity_pct is None:
            raise ValueError("the Peck model needs use_humidity_pct")
        return self


class ReliabilityAnalysisTest(_Model):
    """Analyse the failures of this run's sequences (Weibull with censoring, MTBF bound, acceleration).

    Life is in hours for burn-in and the environmental kinds, in thermal cycles for thermal cycling, in power cycles
    for power cycling (hil.sequences.task.life_unit); the analysed sequences must share one unit."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    kind: Literal["reliability_analysis"]
    of: list[str] | None = None  # ids of sequence tests of this plan, before this one; None: all of them
    confidence: float = Field(0.9, gt=0.5, lt=1)
    acceleration: AccelerationOption | None = None
    #: verdict: the MTBF lower bound at ``confidence``, in use hours, must reach this (None: report only); a life
    #: in cycles needs use_cycles_per_day for it
    target_mtbf_h: float | None = Field(None, gt=0)
    #: life in cycles: cycles per day in use, to state the bound in use hours and years
    use_cycles_per_day: float | None = Field(None, gt=0)
    #: life in cycles: verdict on the mean-cycles-between-failures lower bound, in use cycles
    target_mcbf_cycles: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_target(self) -> ReliabilityAnalysisTest:
        if self.target_mtbf_h is not None and self.target_mcbf_cycles is not None:
            raise ValueError("give one target: target_mtbf_h or target_mcbf_cycles")
        return self


TestSpec = Annotated[
    AccuracyTest | StartingTest | NoLoadTest | MeterConstantTest | InfluenceTest | SequenceTest
    | ReliabilityAnalysisTest | FunctionalTest,
    Field(discriminator="kind"),
]


class Plan(_Model):
    plan: str
    description: str = ""
    standard: str
    edition: str
    meter_class: str | None = Field(None, alias="class")  # default: the meters' class from the bench file
    limits_override: str | None = None  # a lab's limit-table file, relative to the plan
    measure: MeasureOptions = Field(default_factory=MeasureOptions)
    tests: list[TestSpec]

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @field_validator("edition", mode="before")
    @classmethod
    def _edition_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) else v

    @model_validator(mode="after")
    def _unique_ids(self) -> Plan:
        seen: dict[str, TestSpec] = {}
        for t in self.tests:
            if t.id in seen:
                raise ValueError(f"test id {t.id!r} is used twice")
            if isinstance(t, ReliabilityAnalysisTest):
                for ref in t.of or []:
                    if ref not in seen or not isinstance(seen[ref], SequenceTest):
                        raise ValueError(f"test {t.id!r}: {ref!r} is not a sequence test before it in this plan")
                if t.of is None and not any(isinstance(x, SequenceTest) for x in seen.values()):
                    raise ValueError(f"test {t.id!r}: no sequence test before it to analyse")
            seen[t.id] = t
        return self


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file, including its standard, edition and class against the standards library
    (the built-in tables, or with the plan's ``limits_override``): every error names file, line and field."""
    plan = load_yaml_model(path, Plan)
    check_plan_standard(plan, Path(path), plan_library(plan, Path(path)))
    return plan


def plan_library(plan: Plan, path: Path) -> StandardsLibrary:
    """The standards library a plan runs against: built-in, with its ``limits_override`` file applied."""
    if not plan.limits_override:
        return default_library()
    override = path.parent / plan.limits_override
    if not override.exists():
        raise error_at(path, ("limits_override",), f"file {override} not found (the path is relative to the plan)")
    return StandardsLibrary.load([override])


def _key(text: str) -> str:
    return "".join(text.split()).upper()  # the library's lookup key: case- and whitespace-insensitive


def check_plan_standard(plan: Plan, path: Path, library: StandardsLibrary) -> None:
    """The plan's standard and edition must have accuracy tables in ``library`` (a meter is rated against
    them) and its class (when given) must be one of theirs; otherwise a :class:`ConfigError` at that key."""
    rated = sorted({(t.table.standard, t.table.edition) for t in library.tables
                    if isinstance(t.table, AccuracyTable)})
    where = f" in the standards library{' with ' + plan.limits_override if plan.limits_override else ''}"
    editions = [ed for std, ed in rated if _key(std) == _key(plan.standard)]
    if not editions:
        known = ", ".join(sorted({std for std, _ in rated}))
        raise error_at(path, ("standard",), f"unknown standard {plan.standard!r}{where}; known: {known}")
    match = next((ed for ed in editions if _key(ed) == _key(plan.edition)), None)
    if match is None:
        raise error_at(path, ("edition",), f"unknown edition {plan.edition!r} of {plan.standard}{where};"
                                           f" known: {', '.join(editions)}")
    if plan.meter_class is not None:
        classes = library.classes(plan.standard, plan.edition)
        if normalise_class(plan.meter_class) not in classes:
            raise error_at(path, ("class",), f"class {plan.meter_class!r} is not defined for {plan.standard}:"
                                             f"{match}{where}; known: {', '.join(classes)}")


def plan_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def is_plan_file(path: Path) -> bool:
    """A YAML file is a plan if it has a top-level ``plan:`` key (cheap check, no full parse)."""
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:
        head = path.read_text(encoding="utf-8")[:4096]
    except OSError:
        return False
    return any(line.startswith("plan:") for line in head.splitlines())
