"""The bench file: which instrument plays which role, at which address, and which meters sit at which position.

A lab swaps a simulated bench for a real one by pointing ``--bench`` at another file; test code only ever asks
the bench for a role. Loaded with :func:`instruments.yamlconfig.load_yaml_model`, so every error names the file,
the line and the field.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from instruments.yamlconfig import load_yaml_model

#: meters' voltage circuits are refused above this multiple of Un unless the bench file gives ``umax_v``
#: (IEC 62052-11 limit range of operation up to 1.15 Un; status U, see reference/standards.md §7)
DEFAULT_UMAX_FACTOR = 1.15

RoleName = Literal["source", "reference", "error_calculator", "chamber", "simulation"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Calibration(_Model):
    certificate: str
    due: dt.date | None = None  # None: not subject to calibration (e.g. a simulated instrument)
    #: the reference standard's error bound for energy (its class, or its certificate's uncertainty), %;
    #: the error budget treats it as a rectangular distribution (GUM), see hil.standards.uncertainty_budget
    accuracy_pct: float | None = Field(default=None, gt=0)


class RoleBinding(_Model):
    """One instrument bound to a role."""

    driver: str
    resource: str  # VISA resource string, e.g. TCPIP0::10.0.0.5::5025::SOCKET
    idn: str | None = None  # fnmatch pattern the *IDN? reply must match
    calibration: Calibration | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    #: I/O timeout of this instrument in seconds (none: the bench's, 5 s): how long a silent instrument is waited for
    timeout_s: float | None = Field(default=None, gt=0, le=600)


class BenchLimits(_Model):
    """The bench's own ratings: setpoints beyond them are refused before anything is sent."""

    phases: Literal[1, 3] = 3
    max_voltage_v: float = Field(gt=0)
    max_current_a: float = Field(gt=0)
    #: the source's frequency range (none: not checked)
    min_frequency_hz: float | None = Field(default=None, gt=0)
    max_frequency_hz: float | None = Field(default=None, gt=0)


class MeterSpec(_Model):
    """The meter under test at one position, as on its nameplate.

    ``connection`` is the wiring (1P2W, 3P4W); ``current_input`` how the current reaches it: ``direct`` or ``ct``
    (transformer operated — the bench feeds the CT secondary current, e.g. In 5 A, straight into the meter)."""

    serial: str
    type: str = ""
    meter_class: str = Field(alias="class")
    standard: str = ""
    constant_imp_per_kwh: float = Field(gt=0)
    connection: Literal["1P2W", "3P4W"]
    current_input: Literal["direct", "ct"] = "direct"
    un_v: float = Field(gt=0)
    #: nominal frequency fn (IEC 62052-11: 50 or 60 Hz); every point of a plan runs at it unless it varies it
    fn_hz: float = Field(default=50.0, gt=0)
    #: ``dc`` for a DC meter (IEC 62053-41, EV charging); its fn_hz is not used
    supply: Literal["ac", "dc"] = "ac"
    umax_v: float | None = Field(default=None, gt=0)  # highest voltage the meter may see; default 1.15 Un
    ist_a: float | None = Field(default=None, gt=0)
    imin_a: float | None = Field(default=None, gt=0)
    itr_a: float | None = Field(default=None, gt=0)
    iref_a: float | None = Field(default=None, gt=0)
    ib_a: float | None = Field(default=None, gt=0)  # basic current (direct connected, 2003 editions)
    in_a: float | None = Field(default=None, gt=0)  # nominal current (CT operated)
    ta_a: float | None = Field(default=None, gt=0)  # test amperes (ANSI C12.20)
    imax_a: float = Field(gt=0)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("ib_a", "in_a")
    @classmethod
    def _current_input(cls, v: float | None, info: ValidationInfo) -> float | None:
        """Ib rates direct-connected meters, In CT-operated ones (IEC 62053-21/-22; standards.md §1): the other
        is refused here, naming the meter, before any standard is looked at."""
        ct = info.data.get("current_input") == "ct"
        if v is None or ct == (info.field_name == "in_a"):
            return v
        who = f"meter {info.data.get('serial', '?')}"
        if ct:
            raise ValueError(f"{who} is CT operated (current_input: ct): it is rated by in_a (nominal current),"
                             " not ib_a (basic current of a direct-connected meter)")
        raise ValueError(f"{who} is direct connected (current_input: direct): in_a (nominal current) rates a"
                         " CT-operated meter; set current_input: ct, or give ib_a / iref_a")


class PortBinding(_Model):
    """A meter port: ``driver`` ``iec62056-21`` (mode C) or ``dlms`` (DLMS/COSEM; ``options``: transport_layer,
    client, authentication, password, encryption_key, authentication_key, system_title … as
    :class:`instruments.drivers.dlms.DlmsPort` documents them)."""

    driver: str = "iec62056-21"
    resource: str
    address: str | None = None  # IEC 62056-21 device address; None: the meter's serial number
    password: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class StsKeys(_Model):
    """A payment meter's STS key data as the lab's vending system holds it (IEC 62055-41): the meter PAN, supply
    group code, tariff index, key revision and type, base date and key expiry number, and the vending key the
    decoder key is derived from (DKGA02: 8 octets, DKGA04: 20 octets, hex) or the decoder key itself."""

    pan: str = Field(pattern=r"^[0-9]{18}$")
    sgc: str = Field(pattern=r"^[0-9]{6}$")
    ti: int = Field(ge=0, le=99)
    krn: int = Field(ge=1, le=9)
    key_type: int = Field(2, ge=0, le=3)
    base_date: Literal[1993, 2014, 2035] = 2014
    ken: int = Field(255, ge=0, le=255)
    vending_key: str | None = Field(None, pattern=r"^([0-9A-Fa-f]{16}|[0-9A-Fa-f]{40})$")
    decoder_key: str | None = Field(None, pattern=r"^[0-9A-Fa-f]{16}$")

    @model_validator(mode="after")
    def _one_key(self) -> StsKeys:
        if (self.vending_key is None) == (self.decoder_key is None):
            raise ValueError("give exactly one of vending_key and decoder_key")
        return self


class Position(_Model):
    """``port`` is the meter port the plan's checks read (either protocol); ``dlms`` the meter's DLMS/COSEM port
    that the DLMS test kinds use (it may be the same port as ``port``)."""

    position: int = Field(ge=1)
    meter: MeterSpec
    port: PortBinding | None = None
    dlms: PortBinding | None = None
    #: a payment meter's STS key data (the prepayment kinds make its tokens with it)
    sts: StsKeys | None = None


class BenchFile(_Model):
    name: str
    limits: BenchLimits
    roles: dict[RoleName, RoleBinding]
    positions: list[Position] = Field(default_factory=list)

    @field_validator("positions")
    @classmethod
    def _unique(cls, positions: list[Position]) -> list[Position]:
        seen_pos: dict[int, int] = {}
        seen_serial: dict[str, int] = {}
        for i, p in enumerate(positions):
            if p.position in seen_pos:
                raise ValueError(f"positions[{i}].position: position {p.position} is defined twice"
                                 f" (also positions[{seen_pos[p.position]}])")
            if p.meter.serial in seen_serial:
                raise ValueError(f"positions[{i}].meter.serial: serial {p.meter.serial!r} appears at more than one"
                                 f" position (also positions[{seen_serial[p.meter.serial]}])")
            seen_pos[p.position] = i
            seen_serial[p.meter.serial] = i
        return positions


    @property
    def positions_by_number(self) -> dict[int, Position]:
        return {p.position: p for p in self.positions}


def load_bench_file(path: str | Path) -> BenchFile:
    return load_yaml_model(path, BenchFile)


def dump_bench_file(bench: BenchFile, path: str | Path) -> None:
    data = bench.model_dump(mode="json", by_alias=True, exclude_none=True)
    Path(path).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
