"""Test plans in YAML: the header the core reads, and each test validated by its kind's plugin.

    plan: IEC 62053-21:2020 class 1, three-phase accuracy
    standard: IEC 62053-21
    edition: "2020"
    tests:
      - id: balanced
        kind: accuracy
        load: balanced
        currents: [Imin, Itr, Iref, Imax]
        power_factors: ["1", "0.5L", "0.8C"]

The header (standard, edition, class, limits override, measuring practice) is the core's; each entry of ``tests``
names its ``kind``, and the installed plugin of that kind (:mod:`hil.core.kinds`) validates it with its own pydantic
model. Every error names file, line and field; an unknown kind names the installed ones.

``pytest testplans/<plan>.yaml --bench <bench.yaml>`` collects it directly (see :mod:`hil.core.collect`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from hil.standards import StandardsLibrary, default_library
from hil.standards.model import AccuracyTable, normalise_class
from instruments.yamlconfig import error_at, field_name, load_yaml_model


class PlanSection(BaseModel):
    """Base of a plan section's model: unknown keys and .inf / .nan refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf / .nan in a plan: refused


#: validation context: leave the tests as mappings (load_plan validates them with file and line)
RAW_TESTS = "raw_tests"
#: a test's id in a plan (every kind's model uses it)
TEST_ID_PATTERN = r"^[A-Za-z0-9_.-]+$"


class MeasureOptions(PlanSection):
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


class Plan(PlanSection):
    plan: str
    description: str = ""
    standard: str
    edition: str
    meter_class: str | None = Field(None, alias="class")  # default: the meters' class from the bench file
    #: the meter connection the plan is written for (None: any); a bench whose meters differ is refused at load
    connection: Literal["1P2W", "3P4W", "3P3W"] | None = None
    limits_override: str | None = None  # a lab's limit-table file, relative to the plan
    measure: MeasureOptions = Field(default_factory=MeasureOptions)
    #: each test as its kind's plugin validated it (a pydantic model with ``id`` and ``kind``)
    tests: list[Any]

    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @field_validator("edition", mode="before")
    @classmethod
    def _edition_text(cls, v: object) -> object:
        return str(v) if isinstance(v, int) else v

    @field_validator("tests", mode="before")
    @classmethod
    def _tests_are_mappings(cls, v: object) -> object:
        if not isinstance(v, list) or not v:
            raise ValueError("a plan needs a list of tests")
        for i, t in enumerate(v):
            if not isinstance(t, dict | BaseModel):
                raise ValueError(f"test {i}: a mapping with id and kind is expected")
        return v

    @model_validator(mode="after")
    def _typed_tests(self, info: ValidationInfo) -> Plan:
        if not (info.context or {}).get(RAW_TESTS):  # load_plan validates them itself, naming file and line
            try:
                self.tests = validate_tests(self.tests)
            except SectionError as exc:
                raise ValueError(f"{field_name(exc.loc)}: {exc.message}") from exc
        return self


class SectionError(ValueError):
    """A plan test that its kind refuses, at ``loc`` (a path of keys from the plan's root)."""

    def __init__(self, loc: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def validate_tests(raw_tests: list[Any]) -> list[Any]:
    """Each test through its kind's model (the installed plugin of its ``kind``), then its kind's checks against
    the tests before it; raises :class:`SectionError` naming where."""
    from hil.core.kinds import KindError, registry

    kinds = registry()
    typed: list[Any] = []
    for i, raw in enumerate(raw_tests):
        where: tuple[int | str, ...] = ("tests", i)
        if isinstance(raw, BaseModel):  # already validated (a plan built in Python)
            typed.append(raw)
            continue
        if "kind" not in raw:
            raise SectionError(where, f"no kind: give one of the installed kinds ({kinds.names_text()})")
        try:
            kind = kinds.plugin_for(raw["kind"], (*where, "kind"))
        except KindError as exc:
            raise SectionError(exc.loc, exc.message) from exc
        try:
            test: Any = kind.model.model_validate(raw)
        except ValidationError as exc:
            err = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
            more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
            raise SectionError((*where, *err["loc"]), err["msg"] + more) from exc
        if any(t.id == test.id for t in typed):
            raise SectionError((*where, "id"), f"test id {test.id!r} is used twice")
        try:
            kind.check_in_plan(test, list(typed))
        except ValueError as exc:
            raise SectionError(where, str(exc)) from exc
        typed.append(test)
    return typed


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan file, including its standard, edition and class against the standards library
    (the built-in tables, or with the plan's ``limits_override``): every error names file, line and field."""
    plan = load_yaml_model(path, Plan, context={RAW_TESTS: True})
    try:
        plan.tests = validate_tests(plan.tests)
    except SectionError as exc:
        raise error_at(path, exc.loc, exc.message) from exc
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
        with path.open("rb") as f:  # a backup, a Latin-1 export, a binary file: no "plan:" line, not a plan
            head = f.read(4096).decode("utf-8", errors="replace")
    except OSError:
        return False
    return any(line.startswith("plan:") for line in head.splitlines())
