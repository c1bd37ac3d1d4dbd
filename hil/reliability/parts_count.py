"""Parts-count reliability prediction from a user-supplied table (IEC 61709 / MIL-HDBK-217F Appendix A style).

System failure rate λ_sys = Σᵢ Nᵢ · λᵢ · π_Q,i · π_E,i, assuming a series system (any part failing fails the
product) and constant failure rates; MTBF = 1/λ_sys. IEC 62059-41 uses such predictions for meters. The λ values
come from the user's source (IEC 61709 reference conditions, a supplier, field data): this module only does the
arithmetic and checks the table.

Units are carried in the column names:

- ``lambda_fit``: base failure rate per part in FIT = failures per 10⁹ hours, or
- ``lambda_per_1e6h``: failures per 10⁶ hours (MIL-HDBK-217's unit; 1 per 10⁶ h = 1000 FIT).

Exactly one of the two per part. ``quantity`` ≥ 1; ``pi_q`` (quality factor) and ``pi_e`` (environment factor)
default to 1. Optional ``reference`` and ``note`` text.

CSV: a header line with those columns, one part per row. YAML: ``{name: ..., parts: [{part: ..., ...}, ...]}``.
Errors name file, line and field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from hil.reliability._tables import read_csv_rows
from instruments.yamlconfig import ConfigError, load_yaml_model

FIT_PER_PER_1E6H = 1000.0  # 1 failure per 10⁶ h = 1000 failures per 10⁹ h
HOURS_PER_FIT_UNIT = 1e9


class Part(BaseModel):
    """One line of a parts-count table."""

    model_config = ConfigDict(extra="forbid")

    part: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    lambda_fit: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    lambda_per_1e6h: float | None = Field(default=None, ge=0, allow_inf_nan=False, validate_default=True)
    pi_q: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    pi_e: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    reference: str | None = None
    note: str | None = None

    @field_validator("lambda_per_1e6h")
    @classmethod
    def _one_rate(cls, v: float | None, info: ValidationInfo) -> float | None:
        if "lambda_fit" not in info.data:
            return v  # lambda_fit was given but invalid: its own error is reported
        if (info.data["lambda_fit"] is None) == (v is None):
            raise ValueError("give the failure rate once: either lambda_fit (per 10⁹ h) or lambda_per_1e6h")
        return v

    @property
    def base_fit(self) -> float:
        """Base failure rate of one part in FIT."""
        if self.lambda_fit is not None:
            return self.lambda_fit
        assert self.lambda_per_1e6h is not None  # the validator guarantees one of the two
        return self.lambda_per_1e6h * FIT_PER_PER_1E6H


class PartsTable(BaseModel):
    """A parts list (the YAML form; CSV files give only the ``parts``)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    parts: list[Part] = Field(min_length=1)


@dataclass(frozen=True)
class PartLine:
    """One part's contribution: quantity × λ × π_Q × π_E."""

    part: str
    quantity: int
    lambda_fit_each: float
    pi_q: float
    pi_e: float
    lambda_fit_total: float


@dataclass(frozen=True)
class PartsCountResult:
    """System failure rate and MTBF of a parts-count prediction."""

    name: str | None
    lines: tuple[PartLine, ...]
    system_lambda_fit: float

    @property
    def system_lambda_per_hour(self) -> float:
        return self.system_lambda_fit / HOURS_PER_FIT_UNIT

    @property
    def mtbf_hours(self) -> float:
        """1/λ_sys; infinite if every λ is 0."""
        return HOURS_PER_FIT_UNIT / self.system_lambda_fit if self.system_lambda_fit > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": "parts count, series system, constant failure rates: λ_sys = Σ N·λ·π_Q·π_E",
            "parts": [vars(line) for line in self.lines],
            "system_lambda_fit": self.system_lambda_fit,
            "system_lambda_per_hour": self.system_lambda_per_hour,
            "mtbf_hours": self.mtbf_hours if math.isfinite(self.mtbf_hours) else None,
        }


def parts_count(table: PartsTable) -> PartsCountResult:
    """λ_sys = Σ N·λ·π_Q·π_E (FIT) and MTBF."""
    lines = tuple(
        PartLine(
            part=p.part, quantity=p.quantity, lambda_fit_each=p.base_fit, pi_q=p.pi_q, pi_e=p.pi_e,
            lambda_fit_total=p.quantity * p.base_fit * p.pi_q * p.pi_e,
        )
        for p in table.parts
    )
    total = math.fsum(x.lambda_fit_total for x in lines)
    return PartsCountResult(name=table.name, lines=lines, system_lambda_fit=total)


def load_parts_table(path: str | Path) -> PartsTable:
    """Read a parts table from ``.csv`` or ``.yaml``/``.yml``; errors name file, line and field."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return PartsTable(name=p.stem, parts=[row for _, row in read_csv_rows(p, Part)])
    if suffix in (".yaml", ".yml"):
        return load_yaml_model(p, PartsTable)
    raise ConfigError(str(p), None, "", f"unknown table format {suffix or '(no suffix)'!r}: use .csv, .yaml or .yml")


def predict_parts_count(path: str | Path) -> PartsCountResult:
    """:func:`parts_count` of the table in ``path``."""
    return parts_count(load_parts_table(path))
